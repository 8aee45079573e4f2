//! Idempotent creates (the IETF draft "The Idempotency-Key HTTP Header Field";
//! `../shared/api/concurrency.md`): a create sent with `Idempotency-Key` runs at most once per
//! (caller, key), on any replica.
//!
//! The store is a table of each service's schema (`idempotency_keys`, made by its migrations;
//! the same columns everywhere). A request first *claims* its key in a statement of its own: a
//! row with a 60 s lease and the request's fingerprint (SHA-256 of method, path and body, byte
//! for byte; taken by [`fingerprint`] before the handler reads the body). The create then
//! stores its answer with [`Ticket::complete`] **inside its own transaction**, so the answer and
//! the change commit together or not at all. A repeat finds the row: the stored answer is
//! replayed (`Idempotent-Replayed: true`), another fingerprint is refused, a running claim is
//! answered 409 with `Retry-After: 1`. A failed create releases its key; a replica that dies
//! holding one leaves it blocked until its lease ends (60 s), and a zombie that outlives its
//! lease cannot complete (its claim token no longer matches: its transaction rolls back).

use crate::db::{Conn, Db, DbError};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use diesel::sql_types::{BigInt, Bytea, Nullable, SmallInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The header of a replayed answer.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a claim holds its key before another replica may take it over.
pub const LEASE_SECONDS: i64 = 60;
/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// Why a keyed create is not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: empty, over 255 bytes, or not visible ASCII.
    #[error("malformed Idempotency-Key")]
    Malformed,
    /// 422 (jive: 400): the key was used with another method, path or body.
    #[error("Idempotency-Key reused with a different request")]
    Reused,
    /// 409 with `Retry-After: 1`: the first request with the key is still running.
    #[error("a request with this Idempotency-Key is still running")]
    InProgress,
}

/// The message every service words [`Refusal::Reused`] with.
pub const REUSED_MESSAGE: &str = "Idempotency-Key reused with a different request";

/// The fingerprint of a request's method, path with query, and body, put in the request's
/// extensions by [`fingerprint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(pub Vec<u8>);

/// Middleware: for a `POST` carrying `Idempotency-Key`, reads the body (at most `limit` bytes
/// and one more, so the JSON extractor still answers an oversized one with 413), hashes it with
/// the method and path into a [`Fingerprint`], and gives the body back to the handler.
pub async fn fingerprint(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if req.method() == actix_web::http::Method::POST && req.headers().contains_key(IDEMPOTENCY_KEY)
    {
        let mut payload = req.take_payload();
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            body.extend_from_slice(&chunk?);
            if body.len() > crate::http::MAX_BODY_BYTES {
                break;
            }
        }
        let body = body.freeze();
        let mut hash = Sha256::new();
        hash.update(req.method().as_str());
        hash.update(b"\n");
        hash.update(req.uri().path_and_query().map_or("", |p| p.as_str()));
        hash.update(b"\n");
        hash.update(&body);
        req.extensions_mut()
            .insert(Fingerprint(hash.finalize().to_vec()));
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    next.call(req).await
}

/// A keyed request: its key and fingerprint.
#[derive(Debug, Clone)]
pub struct Keyed {
    key: String,
    fingerprint: Vec<u8>,
}

/// The `Idempotency-Key` of `req`: `None` without one; [`Refusal::Malformed`] when it is
/// empty, longer than 255 bytes or not visible ASCII.
pub fn key_of(req: &HttpRequest) -> Result<Option<Keyed>, Refusal> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_KEY_BYTES
        || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(Refusal::Malformed);
    }
    let fingerprint = req
        .extensions()
        .get::<Fingerprint>()
        .map(|f| f.0.clone())
        .ok_or(Refusal::Malformed)?;
    Ok(Some(Keyed {
        key: String::from_utf8_lossy(bytes).into_owned(),
        fingerprint,
    }))
}

/// A create's answer, as it is sent and as it is stored for replays (the same bytes both times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub etag: Option<String>,
}

impl Answer {
    /// `status` with `value` as its JSON body.
    pub fn json<T: serde::Serialize>(status: actix_web::http::StatusCode, value: &T) -> Self {
        Self {
            status: status.as_u16(),
            body: serde_json::to_vec(value).unwrap_or_default(),
            location: None,
            etag: None,
        }
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// With `etag`: the tag of the created resource (when the answer's body is not its GET
    /// representation, e.g. an envelope around it).
    pub fn with_etag(mut self, etag: &crate::http::conditional::ETag) -> Self {
        self.etag = etag.header_value().to_str().ok().map(str::to_owned);
        self
    }

    /// With the `ETag` of its own body: the answer is the representation of the created
    /// resource `identity`.
    pub fn tagged(mut self, identity: &str) -> Self {
        let etag = crate::http::conditional::ETag::of_bytes(identity, &self.body);
        self.etag = etag.header_value().to_str().ok().map(str::to_owned);
        self
    }

    /// The response: status, JSON body, `Location` and `ETag` when set.
    pub fn response(&self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::OK);
        let mut builder = HttpResponse::build(status);
        builder.content_type(mime::APPLICATION_JSON);
        for (name, value) in [
            (header::LOCATION, &self.location),
            (header::ETAG, &self.etag),
        ] {
            if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                builder.insert_header((name, value));
            }
        }
        builder.body(self.body.clone())
    }
}

/// What a claim found.
pub enum Begun {
    /// No key: run as usual.
    Unkeyed,
    /// The key is this request's: run, and complete the ticket in the create's transaction.
    Claimed(Ticket),
    /// The stored answer of the first request with the key.
    Replay(HttpResponse),
}

/// A claimed key: [`Ticket::complete`] stores the answer in the create's transaction;
/// [`Ticket::release`] frees the key after a failure.
#[derive(Debug)]
pub struct Ticket {
    caller: String,
    key: String,
    token: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Bytea)]
    fingerprint: Vec<u8>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    status: Option<i16>,
    #[diesel(sql_type = Nullable<Bytea>)]
    body: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Text>)]
    location: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    etag: Option<String>,
}

/// Claims `keyed` for `caller` (whoever authenticated: the API client, the key's user, the
/// user): see the module's documentation. Keys older than `ttl_seconds` are forgotten.
pub async fn begin(
    db: &Db,
    caller: &str,
    keyed: Option<Keyed>,
    ttl_seconds: i64,
) -> Result<Begun, BeginError> {
    let Some(keyed) = keyed else {
        return Ok(Begun::Unkeyed);
    };
    let mut conn = db.conn().await?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    // One statement: prune up to 20 expired rows of other keys (by the created_at index; none
    // to find costs one index probe), and claim the key: a new row, or a row whose claim died
    // (lease over) or whose answer expired, taken over with the answer cleared. Its commit does
    // not wait for the disk (`synchronous_commit` off for this statement's transaction): a
    // claim lost in a crash loses nothing, and the create's own commit, which waits, flushes
    // the claim's earlier WAL with it. A keyed create then costs one disk flush, as one without.
    let claimed = diesel::sql_query(
        "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true) AS setting), \
         pruned AS (\
           DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(\
             SELECT ctid FROM idempotency_keys \
             WHERE created_at < now() - make_interval(secs => $6) \
               AND NOT (caller = $1 AND key = $2) \
             ORDER BY created_at LIMIT 20))) \
         INSERT INTO idempotency_keys (caller, key, fingerprint, token, locked_until) \
         SELECT $1, $2, $3, $4, now() + make_interval(secs => $5) FROM quick \
         ON CONFLICT (caller, key) DO UPDATE \
           SET fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token, \
               locked_until = EXCLUDED.locked_until, created_at = now(), \
               status = NULL, body = NULL, location = NULL, etag = NULL \
           WHERE (idempotency_keys.status IS NULL AND idempotency_keys.locked_until < now()) \
              OR idempotency_keys.created_at < now() - make_interval(secs => $6)",
    )
    .bind::<Text, _>(caller)
    .bind::<Text, _>(&keyed.key)
    .bind::<Bytea, _>(&keyed.fingerprint)
    .bind::<Text, _>(&token)
    .bind::<BigInt, _>(LEASE_SECONDS)
    .bind::<BigInt, _>(ttl_seconds)
    .execute(&mut conn)
    .await
    .map_err(DbError::from)?;
    if claimed == 1 {
        return Ok(Begun::Claimed(Ticket {
            caller: caller.to_owned(),
            key: keyed.key,
            token,
        }));
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT fingerprint, status, body, location, etag FROM idempotency_keys \
         WHERE caller = $1 AND key = $2",
    )
    .bind::<Text, _>(caller)
    .bind::<Text, _>(&keyed.key)
    .load(&mut conn)
    .await
    .map_err(DbError::from)?;
    // Gone between the two statements (released by a failed first request): ask to retry.
    let Some(row) = rows.into_iter().next() else {
        return Err(BeginError::Refused(Refusal::InProgress));
    };
    if row.fingerprint != keyed.fingerprint {
        return Err(BeginError::Refused(Refusal::Reused));
    }
    let (Some(status), Some(body)) = (row.status, row.body) else {
        return Err(BeginError::Refused(Refusal::InProgress));
    };
    let answer = Answer {
        status: u16::try_from(status).unwrap_or(200),
        body,
        location: row.location,
        etag: row.etag,
    };
    let mut response = answer.response();
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(Begun::Replay(response))
}

/// Runs `create` at most once per (`caller`, key): without a key as usual; with one, claimed
/// first ([`begin`]): a replay is answered at once; otherwise `create` runs with the
/// [`Ticket`], which it completes inside its transaction, and a create that fails (any answer
/// but 2xx) releases the key so that it may be retried.
pub async fn run<E: From<BeginError>>(
    db: &Db,
    caller: &str,
    keyed: Option<Keyed>,
    ttl_seconds: i64,
    create: impl AsyncFnOnce(Option<&Ticket>) -> Result<HttpResponse, E>,
) -> Result<HttpResponse, E> {
    let ticket = match begin(db, caller, keyed, ttl_seconds).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Claimed(ticket) => Some(ticket),
        Begun::Unkeyed => None,
    };
    let result = create(ticket.as_ref()).await;
    if let Some(ticket) = ticket {
        if !matches!(&result, Ok(r) if r.status().is_success()) {
            if let Err(error) = ticket.release(db).await {
                tracing::warn!(%error, "releasing an Idempotency-Key failed; its lease will end");
            }
        }
    }
    result
}

/// [`Ticket::complete`] when there is a ticket.
pub async fn complete(
    ticket: Option<&Ticket>,
    conn: &mut Conn,
    answer: &Answer,
) -> Result<(), DbError> {
    match ticket {
        Some(ticket) => ticket.complete(conn, answer).await,
        None => Ok(()),
    }
}

/// A claim that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Ticket {
    /// Stores `answer` for the key, on `conn` inside the create's transaction. Fails (so the
    /// transaction rolls back) when the claim was taken over after its lease ran out.
    pub async fn complete(&self, conn: &mut Conn, answer: &Answer) -> Result<(), DbError> {
        let stored = diesel::sql_query(
            "UPDATE idempotency_keys \
             SET status = $4, body = $5, location = $6, etag = $7, locked_until = NULL \
             WHERE caller = $1 AND key = $2 AND token = $3 AND status IS NULL",
        )
        .bind::<Text, _>(&self.caller)
        .bind::<Text, _>(&self.key)
        .bind::<Text, _>(&self.token)
        .bind::<SmallInt, _>(i16::try_from(answer.status).unwrap_or(200))
        .bind::<Bytea, _>(&answer.body)
        .bind::<Nullable<Text>, _>(answer.location.as_deref())
        .bind::<Nullable<Text>, _>(answer.etag.as_deref())
        .execute(conn)
        .await?;
        if stored == 1 {
            Ok(())
        } else {
            // The lease ran out and another request took the key over: this create rolls back,
            // and the client, retrying after the 503, gets the other one's answer.
            Err(DbError::Unavailable(
                "the Idempotency-Key's claim ran out and was taken over".into(),
            ))
        }
    }

    /// Frees the key after a failed create (any answer but 2xx is not stored).
    pub async fn release(self, db: &Db) -> Result<(), DbError> {
        let mut conn = db.conn().await?;
        diesel::sql_query(
            "DELETE FROM idempotency_keys \
             WHERE caller = $1 AND key = $2 AND token = $3 AND status IS NULL",
        )
        .bind::<Text, _>(&self.caller)
        .bind::<Text, _>(&self.key)
        .bind::<Text, _>(&self.token)
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}
