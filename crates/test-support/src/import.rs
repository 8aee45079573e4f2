//! The services' `admin import` / `admin export` tests: the real binary run as an operator
//! would, against the test's database, and the password hashes an upstream hands over.

use std::io::Write;
use std::process::{Command, Stdio};

/// What an admin command printed, and whether it succeeded.
#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Standard output as NDJSON (an export), a value a line.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect()
    }

    /// The `line N: …` lines of standard error.
    pub fn problems(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("line "))
            .collect()
    }

    /// Fails if anything printed holds a bcrypt hash or one of `secrets`: import reports
    /// lines by number and field, never by value.
    pub fn assert_prints_no_secret(&self, secrets: &[&str]) {
        for text in [&self.stdout, &self.stderr] {
            for marker in ["$2a$", "$2b$", "$2y$"] {
                assert!(!text.contains(marker), "a hash was printed: {text}");
            }
            for secret in secrets {
                assert!(!text.contains(secret), "{secret:?} was printed: {text}");
            }
        }
    }
}

/// Runs `<bin> admin <args…>` on the database at `url` as the real binary, with `stdin` on its
/// standard input (BCRYPT_COST 4, logging off); blocks a thread of its own, not the runtime.
pub async fn admin(bin: &str, url: &str, args: &[&str], stdin: &[u8]) -> Ran {
    admin_with(bin, url, args, stdin, &[]).await
}

/// `<bin> admin import [args…] -` with `lines` on standard input, one a line.
pub async fn import_lines(bin: &str, url: &str, args: &[&str], lines: &[serde_json::Value]) -> Ran {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.push("-");
    admin(bin, url, &all, text.as_bytes()).await
}

/// `<bin> admin export [args…]`, which must succeed.
pub async fn export(bin: &str, url: &str, args: &[&str]) -> Ran {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let ran = admin(bin, url, &all, b"").await;
    assert!(ran.success, "{ran:?}");
    ran
}

/// [`admin`] with more environment variables (a service's own settings).
pub async fn admin_with(
    bin: &str,
    url: &str,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Ran {
    let mut command = Command::new(bin);
    command
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", crate::TEST_JWT_SECRET)
        .env("BCRYPT_COST", "4")
        .env("ALLOW_WEAK_BCRYPT", "1")
        .env("RUST_LOG", "off")
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let stdin = stdin.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the service binary runs");
        let mut input = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let out = child.wait_with_output().expect("the command ends");
        let _ = writer.join();
        Ran {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the command's thread")
}

/// Real hashes of `password` as upstreams store them: Laravel's `$2y$`, MongoDB-era `$2a$`
/// (both at cost 4), and a `$2b$` at cost 10. Each verifies, and each is one the service
/// re-hashes at its own cost after a sign-in.
pub fn upstream_hashes(password: &str) -> Vec<String> {
    let cost4 = bcrypt::hash(password, 4).expect("bcrypt");
    vec![
        cost4.replacen("$2b$", "$2y$", 1),
        cost4.replacen("$2b$", "$2a$", 1),
        bcrypt::hash(password, 10).expect("bcrypt"),
    ]
}

/// The workspace's root folder.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// `jq -c -f deploy/migration/<filter>.jq tests/fixtures/<fixture>`, run as an operator would:
/// the import lines an upstream's sample export maps to (scripts/test installs jq).
pub fn map_fixture(filter: &str, fixture: &str) -> String {
    let root = root();
    let out = Command::new("jq")
        .arg("-c")
        .arg("-f")
        .arg(root.join("deploy/migration").join(format!("{filter}.jq")))
        .arg(root.join("tests/fixtures").join(fixture))
        .output()
        .expect("jq runs (scripts/test installs it)");
    assert!(out.status.success(), "jq failed: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}
