-- The answers of creates sent with an Idempotency-Key (user_core::idempotency): one row per
-- (caller, key). A running claim holds a lease (locked_until); the first 2xx answer is stored
-- in the same transaction as the create it reports. Rows older than IDEMPOTENCY_TTL_SECONDS
-- are deleted a few at a time by later claims.
CREATE TABLE idempotency_keys (
    caller       text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    token        text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    status       smallint,
    body         bytea,
    location     text,
    etag         text,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
