//! Lists streamed as one JSON array, read from the database in keyset batches, so memory stays
//! flat however long the list is and no connection is held between batches.

use crate::db::DbError;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use std::future::Future;

/// Rows fetched per query.
pub const BATCH: usize = 1000;

enum Phase<K> {
    Fetch(Option<K>),
    Close,
    Done,
}

/// Streams `prefix`, the rows as comma-separated JSON, then `suffix`
/// (e.g. `"["` / `"]"`, or `{"users":[` / `],"pages":0}`).
///
/// `fetch(after)` returns the next batch of at most [`BATCH`] rows ordered by key, starting after
/// `after` (`None` for the first); `key` gives a row's key. The first batch is read before the
/// response starts, so an unavailable database is still a proper error answer; a failure later
/// aborts the response (the client sees a truncated body, and the log says why).
pub async fn json_array<T, K, F, Fut>(
    prefix: &'static str,
    suffix: &'static str,
    key: fn(&T) -> K,
    mut fetch: F,
) -> Result<HttpResponse, DbError>
where
    T: Serialize + 'static,
    K: 'static,
    F: FnMut(Option<K>) -> Fut + 'static,
    Fut: Future<Output = Result<Vec<T>, DbError>> + 'static,
{
    let first = fetch(None).await?;
    let mut head = prefix.as_bytes().to_vec();
    let next = encode_batch(&mut head, &first, true, key);
    let state = (fetch, next, false);
    let rest = futures_util::stream::unfold(state, move |(mut fetch, phase, wrote)| async move {
        match phase {
            Phase::Done => None,
            Phase::Close => Some((
                Ok(Bytes::from_static(suffix.as_bytes())),
                (fetch, Phase::Done, wrote),
            )),
            Phase::Fetch(after) => match fetch(after).await {
                Ok(rows) => {
                    let mut buf = Vec::with_capacity(rows.len() * 128);
                    let next = encode_batch(&mut buf, &rows, false, key);
                    Some((Ok(Bytes::from(buf)), (fetch, next, true)))
                }
                Err(error) => {
                    tracing::error!(%error, "streamed list aborted");
                    Some((
                        Err(std::io::Error::other("streamed list aborted")),
                        (fetch, Phase::Done, wrote),
                    ))
                }
            },
        }
    });
    let body =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) })
            .chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body))
}

/// Appends `rows` to `buf`; returns what comes next.
fn encode_batch<T: Serialize, K>(
    buf: &mut Vec<u8>,
    rows: &[T],
    first_batch: bool,
    key: fn(&T) -> K,
) -> Phase<K> {
    for (i, row) in rows.iter().enumerate() {
        if i > 0 || !first_batch {
            buf.push(b',');
        }
        // Serializing plain data to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, row);
    }
    match rows.last() {
        Some(last) if rows.len() >= BATCH => Phase::Fetch(Some(key(last))),
        _ => Phase::Close,
    }
}
