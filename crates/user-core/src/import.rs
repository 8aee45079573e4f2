//! The shared parts of `<svc> admin import` and `admin export` (`../shared/api/migration.md`):
//! the command lines, NDJSON read a line at a time (memory stays flat however large the file),
//! the password fields of a line (`password_hash` in one of the accepted bcrypt formats, or
//! `password`, or neither), and the error report (`line N: <field>: <message>`, every one, as it
//! is found, counted rather than kept).
//!
//! The commands themselves run here too ([`import`], [`export`]); a service says only what is
//! its own through [`Importer`] and [`Exporter`]: how a line is checked with its API's rules,
//! its staging table, the checks only its database can make, and how the staged users are
//! written. How an import runs:
//!
//! 1. A thread of its own reads the file a line at a time, checks each line (the service's
//!    rules, the password fields), reports each problem as it finds it, hashes plain passwords
//!    on the hasher's threads, and hands batches of [`BATCH`] checked lines over a channel
//!    of two batches: memory holds at most a few batches, whatever the file's size.
//! 2. One transaction: each batch goes into a temporary staging table in one statement
//!    (arrays bound as parameters and `unnest`ed: one round trip per batch).
//! 3. The service's set-based checks run against the staged lines (unknown references,
//!    duplicates inside the file, existing users under `--on-conflict error`), each named by
//!    its line.
//! 4. Any problem, or `--dry-run`: the transaction rolls back, nothing is written. Otherwise
//!    the service writes the staged users (ids kept, sequences moved past them), one
//!    `user.imported` event is recorded, and it commits.

use serde_json::{Map, Value};
use std::io::{BufRead, Write};

/// The longest line read, in bytes: a user is a few hundred; a longer line is an error of its
/// own, not a reason to hold the file in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What to do with a line whose key or unique email exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// The line is an error (the default).
    #[default]
    Error,
    /// The existing user is left as it is.
    Skip,
    /// The existing user's fields and password are overwritten.
    Update,
}

/// Where the lines come from: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(std::path::PathBuf),
    Stdin,
}

/// `admin import [--dry-run] [--on-conflict error|skip|update] FILE|-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportArgs {
    pub dry_run: bool,
    pub on_conflict: OnConflict,
    pub input: Input,
}

pub const IMPORT_USAGE: &str = "import [--dry-run] [--on-conflict error|skip|update] FILE|-";
pub const EXPORT_USAGE: &str = "export [--tenant ID] [FILE]";

impl ImportArgs {
    pub fn parse(args: &[&str]) -> Result<Self, String> {
        let mut dry_run = false;
        let mut on_conflict = OnConflict::Error;
        let mut input = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--dry-run" => dry_run = true,
                "--on-conflict" => {
                    on_conflict = match args.next().copied() {
                        Some("error") => OnConflict::Error,
                        Some("skip") => OnConflict::Skip,
                        Some("update") => OnConflict::Update,
                        _ => {
                            return Err(format!(
                                "--on-conflict takes error, skip or update; usage: {IMPORT_USAGE}"
                            ))
                        }
                    };
                }
                "-" if input.is_none() => input = Some(Input::Stdin),
                other if !other.starts_with("--") && input.is_none() => {
                    input = Some(Input::File(other.into()));
                }
                other => {
                    return Err(format!(
                        "import: unexpected argument {other:?}; usage: {IMPORT_USAGE}"
                    ))
                }
            }
        }
        let input = input.ok_or_else(|| format!("import: which file? usage: {IMPORT_USAGE}"))?;
        Ok(Self {
            dry_run,
            on_conflict,
            input,
        })
    }
}

/// `admin export [--tenant ID] [FILE]` (no FILE: standard output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportArgs {
    pub tenant: Option<String>,
    pub output: Option<std::path::PathBuf>,
}

impl ExportArgs {
    pub fn parse(args: &[&str]) -> Result<Self, String> {
        let mut tenant = None;
        let mut output = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--tenant" => {
                    tenant =
                        Some(args.next().map(|t| (*t).to_owned()).ok_or_else(|| {
                            format!("--tenant takes an id; usage: {EXPORT_USAGE}")
                        })?);
                }
                other if !other.starts_with("--") && output.is_none() => {
                    output = Some(other.into())
                }
                other => {
                    return Err(format!(
                        "export: unexpected argument {other:?}; usage: {EXPORT_USAGE}"
                    ))
                }
            }
        }
        Ok(Self { tenant, output })
    }
}

/// One line's problem, reported as `line N: <field>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// The NDJSON objects of `reader`, one a line, numbered from 1; blank lines are skipped (and
/// counted). A line that is not a JSON object, or longer than [`MAX_LINE_BYTES`], is a
/// [`LineError`] for field `line`. Reads a line at a time.
pub fn lines<R: BufRead>(
    reader: R,
) -> impl Iterator<Item = Result<(u64, Map<String, Value>), LineError>> {
    let mut reader = reader;
    let mut number = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || loop {
        buf.clear();
        number += 1;
        let mut limited = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1);
        let read = limited.read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                return Some(Err(LineError {
                    line: number,
                    field: "line".to_owned(),
                    message: format!("cannot be read: {e}"),
                }))
            }
        }
        if buf.len() > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            // skip the rest of the over-long line
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            return Some(Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: format!("is longer than {MAX_LINE_BYTES} bytes"),
            }));
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        return Some(match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(map)) => Ok((number, map)),
            Ok(_) => Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: "must be a JSON object".to_owned(),
            }),
            Err(e) => Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: format!("is not JSON ({e})"),
            }),
        });
    })
}

/// Why a `password_hash` is refused, if it is.
pub fn hash_problem(hash: &str) -> Option<&'static str> {
    let bytes = hash.as_bytes();
    if bytes.len() != 60 {
        return Some("must be a bcrypt hash of exactly 60 characters");
    }
    if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
        return Some("must start with $2a$, $2b$ or $2y$");
    }
    let cost = hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
    if bytes[6] != b'$' || !cost.is_some_and(|c| (4..=31).contains(&c)) {
        return Some("must have a cost of 04 to 31");
    }
    // bcrypt's base64 alphabet: ./A-Za-z0-9 (a lookup per byte: a million hashes are checked)
    if !bytes[7..]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
    {
        return Some("must hold bcrypt's base64 after the cost");
    }
    None
}

/// A line's password.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordField {
    /// `password_hash`: stored as it is (checked by [`hash_problem`]).
    Hash(String),
    /// `password`: hashed at `BCRYPT_COST` (checked by the service's password rule).
    Plain(crate::Secret),
    /// Neither: the user has no usable password.
    None,
}

impl std::fmt::Debug for PasswordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hash(_) => "Hash(…)",
            Self::Plain(_) => "Plain(…)",
            Self::None => "None",
        })
    }
}

/// The password fields of `line` (taken out of it): exactly one of `password_hash` and
/// `password`, or neither. The messages never hold the value.
pub fn password_field(
    number: u64,
    line: &mut Map<String, Value>,
) -> Result<PasswordField, LineError> {
    let error = |field: &str, message: &str| LineError {
        line: number,
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let hash = line.remove("password_hash");
    let plain = line.remove("password");
    match (hash, plain) {
        (Some(_), Some(_)) => Err(error(
            "password_hash",
            "give password_hash or password, not both",
        )),
        (Some(Value::String(h)), None) => match hash_problem(&h) {
            Some(problem) => Err(error("password_hash", problem)),
            None => Ok(PasswordField::Hash(h)),
        },
        (Some(Value::Null), None) | (None, Some(Value::Null)) | (None, None) => {
            Ok(PasswordField::None)
        }
        (Some(_), None) => Err(error("password_hash", "must be a string")),
        (None, Some(Value::String(p))) => Ok(PasswordField::Plain(crate::Secret::new(p))),
        (None, Some(_)) => Err(error("password", "must be a string")),
    }
}

/// The errors of an import, written as they are found (one a line) and counted, never kept: a
/// file of a million bad lines costs no memory.
pub struct Report<W: Write> {
    out: W,
    errors: u64,
}

impl<W: Write> Report<W> {
    pub fn new(out: W) -> Self {
        Self { out, errors: 0 }
    }

    pub fn error(&mut self, e: &LineError) {
        self.errors += 1;
        let _ = writeln!(self.out, "{e}");
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }
}

/// Lines per batch: a staging statement each, and what the reader may run ahead.
pub const BATCH: usize = 10_000;

/// A checked line on its way to the staging table: the service's row, and its password hash
/// (a `password` of the line is hashed by then; `None` when the line gave neither).
pub struct Staged<R> {
    pub line: u64,
    pub row: R,
    pub password_hash: Option<String>,
}

/// The problems of one line, as `LineError`s: one for each message of each field.
pub fn line_errors<F, M>(line: u64, fields: F) -> Vec<LineError>
where
    F: IntoIterator<Item = (String, M)>,
    M: IntoIterator<Item = String>,
{
    fields
        .into_iter()
        .flat_map(|(field, messages)| {
            messages.into_iter().map(move |message| LineError {
                line,
                field: field.clone(),
                message,
            })
        })
        .collect()
}

/// The fields of `line` that are not in `known`, each a problem: a file mapped with another
/// service's names (`email_address` for `email`) fails loudly instead of importing blanks.
pub fn unknown_fields(number: u64, line: &Map<String, Value>, known: &[&str]) -> Vec<LineError> {
    line.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| LineError {
            line: number,
            field: k.clone(),
            message: "is not a field of an imported user".to_owned(),
        })
        .collect()
}

/// An optional timestamp field (RFC 3339), taken out of `line`: `Ok(None)` when absent or null.
pub fn timestamp_field(
    number: u64,
    line: &mut Map<String, Value>,
    field: &str,
    errors: &mut Vec<LineError>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    match line.remove(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => match chrono::DateTime::parse_from_rfc3339(&t) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(_) => {
                errors.push(LineError {
                    line: number,
                    field: field.to_owned(),
                    message: "must be an RFC 3339 date-time".to_owned(),
                });
                None
            }
        },
        Some(_) => {
            errors.push(LineError {
                line: number,
                field: field.to_owned(),
                message: "must be an RFC 3339 date-time".to_owned(),
            });
            None
        }
    }
}

/// An optional positive integer id (kept), taken out of `line`.
pub fn integer_id_field(
    number: u64,
    line: &mut Map<String, Value>,
    errors: &mut Vec<LineError>,
) -> Option<i64> {
    match line.remove("id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().filter(|id| *id > 0) {
            Some(id) => Some(id),
            None => {
                errors.push(LineError {
                    line: number,
                    field: "id".to_owned(),
                    message: "must be a positive integer".to_owned(),
                });
                None
            }
        },
    }
}

/// How many staged users an import writes, and how many it leaves (`--on-conflict skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub imported: u64,
    pub skipped: u64,
}

/// What a service's import is made of. `check` runs on the reader thread; the rest inside
/// the import's one transaction, on `conn`.
pub trait Importer: Send + Sync + 'static {
    /// A line checked with the API's rules, ready for the staging table.
    type Row: Send + 'static;

    /// The line checked with the service's own rules (what its API would refuse, plus the
    /// formats of kept ids and timestamps), every problem of it. `password` has been taken out
    /// of `line`; a `Plain` one is to be checked with the service's password rule, `None` means
    /// the line gave neither.
    fn check(
        &self,
        number: u64,
        line: Map<String, Value>,
        password: &PasswordField,
    ) -> Result<Self::Row, Vec<LineError>>;

    /// Creates the staging table: `CREATE TEMP TABLE import_users (…) ON COMMIT DROP` (that
    /// name: it is analyzed once staged).
    fn create_staging(
        &self,
        conn: &mut crate::db::Conn,
    ) -> impl std::future::Future<Output = Result<(), crate::db::DbError>> + Send;

    /// Writes one batch into the staging table, in one statement.
    fn stage(
        &self,
        conn: &mut crate::db::Conn,
        rows: Vec<Staged<Self::Row>>,
    ) -> impl std::future::Future<Output = Result<(), crate::db::DbError>> + Send;

    /// What only the database can tell, over all the staged lines: references to what does not
    /// exist, duplicates inside the file, and (under `OnConflict::Error`, or where no choice
    /// makes sense) lines that meet existing users. In line order ([`load_problems`]). Fills
    /// `import_existing` (created by `create_staging`) with the lines that meet existing users.
    fn problems(
        &self,
        conn: &mut crate::db::Conn,
        on_conflict: OnConflict,
    ) -> impl std::future::Future<Output = Result<Vec<LineError>, crate::db::DbError>> + Send;

    /// How many staged lines meet an existing user: the rows of the staging table
    /// `import_existing` (a line each), which `problems` fills.
    fn existing(
        &self,
        conn: &mut crate::db::Conn,
    ) -> impl std::future::Future<Output = Result<u64, crate::db::DbError>> + Send {
        async move {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let c: Count = diesel_async::RunQueryDsl::get_result(
                diesel::sql_query("SELECT count(*) AS n FROM import_existing"),
                conn,
            )
            .await?;
            Ok(c.n as u64)
        }
    }

    /// Writes the staged users (no problems were found): new ones inserted with their ids, the
    /// id sequences moved past them, existing ones left (`Skip`) or overwritten (`Update`).
    fn apply(
        &self,
        conn: &mut crate::db::Conn,
        on_conflict: OnConflict,
    ) -> impl std::future::Future<Output = Result<(), crate::db::DbError>> + Send;
}

/// The problems found by `sql`, a query of rows (`line` bigint, `field` text, `message` text)
/// in the order to report them.
pub async fn load_problems(
    conn: &mut crate::db::Conn,
    sql: &str,
) -> Result<Vec<LineError>, crate::db::DbError> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(diesel::QueryableByName)]
    struct Problem {
        #[diesel(sql_type = BigInt)]
        line: i64,
        #[diesel(sql_type = Text)]
        field: String,
        #[diesel(sql_type = Text)]
        message: String,
    }
    let found: Vec<Problem> = diesel_async::RunQueryDsl::load(diesel::sql_query(sql), conn).await?;
    Ok(found
        .into_iter()
        .map(|p| LineError {
            line: p.line as u64,
            field: p.field,
            message: p.message,
        })
        .collect())
}

/// `<svc> admin import …`: reads, checks and writes as the module's header says; prints
/// `imported N, skipped M` (or, with `--dry-run`, `would import N, skip M; nothing written`)
/// on standard output, and each problem on standard error. Fails (exit 1) when any line has a
/// problem, having written nothing. Never prints a password or a hash.
pub async fn import<I: Importer>(
    db: &crate::db::Db,
    hasher: &crate::password::PasswordHasher,
    importer: I,
    args: &[&str],
) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection;
    let args = ImportArgs::parse(args).map_err(anyhow::Error::msg)?;
    let reader: Box<dyn BufRead + Send> = match &args.input {
        Input::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
        Input::File(path) => Box::new(std::io::BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("import: cannot open {}: {e}", path.display()))?,
        )),
    };
    let importer = std::sync::Arc::new(importer);
    let (batches, mut received) = tokio::sync::mpsc::channel::<Vec<Staged<I::Row>>>(2);
    let reading = {
        let importer = std::sync::Arc::clone(&importer);
        let hasher = hasher.clone();
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("import-reader".into())
            .spawn(move || read_and_check(reader, &*importer, &hasher, &runtime, &batches))?
    };
    let name = match &args.input {
        Input::Stdin => "-".to_owned(),
        Input::File(path) => path.display().to_string(),
    };
    let mut conn = db.conn().await?;
    let outcome = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            let started = std::time::Instant::now();
            importer.create_staging(conn).await?;
            let mut staged = 0u64;
            while let Some(batch) = received.recv().await {
                staged += batch.len() as u64;
                importer.stage(conn, batch).await?;
            }
            let (read_errors, lines) = reading
                .join()
                .map_err(|_| anyhow::anyhow!("import: the reader thread failed"))??;
            tracing::info!(
                lines,
                staged,
                seconds = started.elapsed().as_secs_f64(),
                "import: read and staged"
            );
            let mut report = Report::new(std::io::stderr());
            // the staging table's statistics, for the plans of the checks and the writes
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query("ANALYZE pg_temp.import_users"),
                conn,
            )
            .await?;
            for problem in importer.problems(conn, args.on_conflict).await? {
                report.error(&problem);
            }
            let problems = read_errors + report.errors();
            tracing::info!(
                problems,
                seconds = started.elapsed().as_secs_f64(),
                "import: checked"
            );
            if problems > 0 {
                return Err(anyhow::anyhow!(
                    "nothing imported: {problems} problem{} in {lines} line{}",
                    if problems == 1 { "" } else { "s" },
                    if lines == 1 { "" } else { "s" },
                ));
            }
            let existing = match args.on_conflict {
                OnConflict::Skip => importer.existing(conn).await?,
                OnConflict::Error | OnConflict::Update => 0,
            };
            let counts = Counts {
                imported: staged - existing,
                skipped: existing,
            };
            if args.dry_run {
                // rolls back: nothing is written
                return Err(DryRun(counts).into());
            }
            importer.apply(conn, args.on_conflict).await.map_err(|e| {
                // a user with a line's key or unique field, created through the API after the
                // checks and committed before the writes: the import stops whole
                if e.is_unique_violation() {
                    anyhow::anyhow!(
                        "nothing imported: a user that meets a line was created while the import ran ({e}); run it again"
                    )
                } else {
                    e.into()
                }
            })?;
            tracing::info!(seconds = started.elapsed().as_secs_f64(), "import: written");
            crate::audit::record(
                conn,
                &crate::audit::Context::operator(),
                "user.imported",
                &crate::audit::Target::new("import", &name),
                crate::audit::Changes::new()
                    .with("imported", None, Some(counts.imported.into()))
                    .with("skipped", None, Some(counts.skipped.into())),
            )
            .await?;
            Ok(counts)
        })
        .await;
    match outcome {
        Ok(counts) => {
            println!("imported {}, skipped {}", counts.imported, counts.skipped);
            Ok(())
        }
        Err(e) => match e.downcast::<DryRun>() {
            Ok(DryRun(counts)) => {
                println!(
                    "would import {}, skip {}; nothing written (dry run)",
                    counts.imported, counts.skipped
                );
                Ok(())
            }
            Err(e) => Err(e),
        },
    }
}

/// The end of a dry run: its transaction rolls back.
#[derive(Debug, thiserror::Error)]
#[error("dry run")]
struct DryRun(Counts);

/// The reader thread: every line checked and reported, good ones hashed and sent in batches.
/// Returns (problems reported, lines read).
fn read_and_check<I: Importer>(
    reader: Box<dyn BufRead + Send>,
    importer: &I,
    hasher: &crate::password::PasswordHasher,
    runtime: &tokio::runtime::Handle,
    batches: &tokio::sync::mpsc::Sender<Vec<Staged<I::Row>>>,
) -> anyhow::Result<(u64, u64)> {
    let mut report = Report::new(std::io::stderr());
    let mut batch: Vec<(u64, I::Row, PasswordField)> = Vec::with_capacity(BATCH);
    let mut last = 0;
    let send = |batch: Vec<(u64, I::Row, PasswordField)>| -> anyhow::Result<()> {
        let staged = runtime.block_on(hash_plain(hasher, batch))?;
        batches
            .blocking_send(staged)
            .map_err(|_| anyhow::anyhow!("import: the writer stopped"))
    };
    for item in lines(reader) {
        let (number, mut line) = match item {
            Ok(line) => line,
            Err(e) => {
                last = e.line;
                report.error(&e);
                continue;
            }
        };
        last = number;
        let password = password_field(number, &mut line);
        let checked = importer.check(
            number,
            line,
            password.as_ref().unwrap_or(&PasswordField::None),
        );
        match (password, checked) {
            (Ok(password), Ok(row)) => {
                batch.push((number, row, password));
                if batch.len() == BATCH {
                    send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))?;
                }
            }
            (password, checked) => {
                let mut errors = password.err().into_iter().collect::<Vec<_>>();
                errors.extend(checked.err().unwrap_or_default());
                for e in &errors {
                    report.error(e);
                }
            }
        }
    }
    if !batch.is_empty() {
        send(batch)?;
    }
    Ok((report.errors(), last))
}

/// A batch with its `password`s hashed (all at once, on the hasher's threads).
async fn hash_plain<R>(
    hasher: &crate::password::PasswordHasher,
    batch: Vec<(u64, R, PasswordField)>,
) -> anyhow::Result<Vec<Staged<R>>> {
    let hashes = futures_util::future::join_all(batch.iter().map(|(_, _, password)| async move {
        match password {
            PasswordField::Hash(h) => Ok(Some(h.clone())),
            // an empty `password` got past the service's rule only where the API reads it as
            // "no password" (jive): nothing to hash
            PasswordField::Plain(p) if p.expose().is_empty() => Ok(None),
            PasswordField::Plain(p) => hasher
                .hash(
                    // the service's rule has checked it; this is the type the hasher takes
                    &crate::values::Password::new(p.expose(), 0)
                        .map_err(|_| anyhow::anyhow!("a password over 72 bytes"))?,
                )
                .await
                .map(Some)
                .map_err(anyhow::Error::from),
            PasswordField::None => Ok(None),
        }
    }))
    .await;
    batch
        .into_iter()
        .zip(hashes)
        .map(|((line, row, _), hash)| {
            Ok(Staged {
                line,
                row,
                password_hash: hash?,
            })
        })
        .collect()
}

/// What a service's export is made of.
pub trait Exporter: Send + Sync {
    /// Checks `--tenant`'s id (its format, and that it exists); the message says what is wrong.
    fn tenant(
        &self,
        conn: &mut crate::db::Conn,
        tenant: &str,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;

    /// Up to `limit` users after the key `after` (in key order), in `tenant` when given, each
    /// with its key and its line (the import's fields, `password_hash` included).
    fn page(
        &self,
        conn: &mut crate::db::Conn,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> impl std::future::Future<Output = Result<Vec<(String, Value)>, crate::db::DbError>> + Send;
}

/// `<svc> admin export [--tenant ID] [FILE]`: every user (of the tenant) as an import line,
/// in key order, read a page at a time inside one repeatable-read transaction (one snapshot,
/// memory flat). A FILE is created readable by its owner only: it holds password hashes.
pub async fn export<E: Exporter>(
    db: &crate::db::Db,
    exporter: E,
    args: &[&str],
) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection;
    let args = ExportArgs::parse(args).map_err(anyhow::Error::msg)?;
    let out: Box<dyn Write + Send> = match &args.output {
        None => Box::new(std::io::stdout()),
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            Box::new(
                options
                    .open(path)
                    .map_err(|e| anyhow::anyhow!("export: cannot write {}: {e}", path.display()))?,
            )
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut conn = db.conn().await?;
    let written = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            // one snapshot for every page
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                conn,
            )
            .await?;
            if let Some(tenant) = &args.tenant {
                exporter.tenant(conn, tenant).await?;
            }
            let mut after: Option<String> = None;
            let mut written = 0u64;
            loop {
                let page = exporter
                    .page(conn, args.tenant.as_deref(), after.as_deref(), BATCH as i64)
                    .await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (_, line) in &page {
                    serde_json::to_writer(&mut out, line)?;
                    out.write_all(b"\n")?;
                }
                written += page.len() as u64;
            }
            Ok(written)
        })
        .await?;
    out.flush()?;
    tracing::info!(users = written, "exported");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";

    #[test]
    fn command_lines() {
        assert_eq!(
            ImportArgs::parse(&["--dry-run", "--on-conflict", "skip", "users.ndjson"]),
            Ok(ImportArgs {
                dry_run: true,
                on_conflict: OnConflict::Skip,
                input: Input::File("users.ndjson".into()),
            })
        );
        assert_eq!(ImportArgs::parse(&["-"]).map(|a| a.input), Ok(Input::Stdin));
        assert_eq!(
            ImportArgs::parse(&["-"]).map(|a| a.on_conflict),
            Ok(OnConflict::Error)
        );
        assert!(ImportArgs::parse(&[]).is_err());
        assert!(ImportArgs::parse(&["--on-conflict", "merge", "f"]).is_err());
        assert!(ImportArgs::parse(&["a", "b"]).is_err());
        assert_eq!(
            ExportArgs::parse(&["--tenant", "3", "out.ndjson"]),
            Ok(ExportArgs {
                tenant: Some("3".into()),
                output: Some("out.ndjson".into())
            })
        );
        assert_eq!(
            ExportArgs::parse(&[]),
            Ok(ExportArgs {
                tenant: None,
                output: None
            })
        );
        assert!(ExportArgs::parse(&["--tenant"]).is_err());
    }

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_bad_ones_named() {
        let text = "{\"a\":1}\n\n  \n[1]\nnot json\n{\"b\":2}";
        let got: Vec<_> = lines(text.as_bytes()).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().map(|(n, _)| *n), Ok(1));
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "line 4: line: must be a JSON object"
        );
        assert!(got[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("line 5: line: is not JSON"));
        assert_eq!(
            got[3].as_ref().map(|(n, m)| (*n, m["b"].clone())),
            Ok((6, Value::from(2)))
        );
    }

    #[test]
    fn an_over_long_line_is_an_error_and_the_next_line_is_read() {
        let mut text = "x".repeat(MAX_LINE_BYTES + 10);
        text.push_str("\n{\"ok\":true}\n");
        let got: Vec<_> = lines(text.as_bytes()).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].as_ref().unwrap_err().message.contains("longer than"));
        assert_eq!(got[1].as_ref().map(|(n, _)| *n), Ok(2));
    }

    #[test]
    fn hash_formats() {
        assert_eq!(hash_problem(HASH), None);
        for ok in [
            HASH.replacen("$2b$", "$2a$", 1),
            HASH.replacen("$2b$", "$2y$", 1),
            HASH.replacen("$04$", "$31$", 1),
        ] {
            assert_eq!(hash_problem(&ok), None, "{ok}");
        }
        for bad in [
            HASH.replacen("$2b$", "$2x$", 1),
            HASH.replacen("$04$", "$03$", 1),
            HASH.replacen("$04$", "$32$", 1),
            HASH[..59].to_owned(),
            format!("{HASH}x"),
            HASH.replacen('a', "!", 1),
            "plain text password".to_owned(),
        ] {
            assert!(hash_problem(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_password_fields_of_a_line() {
        let mut line: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"id":1,"password_hash":"{HASH}"}}"#)).unwrap();
        assert_eq!(
            password_field(1, &mut line).unwrap(),
            PasswordField::Hash(HASH.to_owned())
        );
        assert!(!line.contains_key("password_hash"), "taken out of the line");
        let mut both: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"password_hash":"{HASH}","password":"x"}}"#))
                .unwrap();
        assert_eq!(
            password_field(7, &mut both).unwrap_err().to_string(),
            "line 7: password_hash: give password_hash or password, not both"
        );
        let mut neither = Map::new();
        assert_eq!(
            password_field(1, &mut neither).unwrap(),
            PasswordField::None
        );
        let mut bad: Map<String, Value> =
            serde_json::from_str(r#"{"password_hash":"$2b$04$secret-looking-but-short"}"#).unwrap();
        let e = password_field(3, &mut bad).unwrap_err().to_string();
        assert!(e.starts_with("line 3: password_hash: "), "{e}");
        assert!(
            !e.contains("secret-looking"),
            "the value is never printed: {e}"
        );
        let mut plain: Map<String, Value> =
            serde_json::from_str(r#"{"password":"hunter2-hunter2"}"#).unwrap();
        let p = password_field(1, &mut plain).unwrap();
        assert!(matches!(p, PasswordField::Plain(_)));
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn the_report_counts_and_writes_every_error() {
        let mut out = Vec::new();
        let mut report = Report::new(&mut out);
        for line in [2, 5, 9] {
            report.error(&LineError {
                line,
                field: "email".into(),
                message: "is taken".into(),
            });
        }
        assert_eq!(report.errors(), 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "line 2: email: is taken\nline 5: email: is taken\nline 9: email: is taken\n"
        );
    }
}
