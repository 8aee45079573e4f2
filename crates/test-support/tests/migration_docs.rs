//! docs/migration.md shows each upstream's jq filter in full; the filters the services' tests
//! run are the files in deploy/migration/. This keeps the two the same, word for word.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

use test_support::import::root;

#[test]
fn every_filter_in_the_migration_guide_is_the_tested_file() {
    let guide = std::fs::read_to_string(root().join("docs/migration.md")).unwrap();
    for filter in ["im4", "venuzle", "tyk", "virtool"] {
        let file =
            std::fs::read_to_string(root().join(format!("deploy/migration/{filter}.jq"))).unwrap();
        let block = format!("```jq\n{file}```");
        assert!(
            guide.contains(&block),
            "docs/migration.md must show deploy/migration/{filter}.jq as a ```jq block, as it is"
        );
    }
}
