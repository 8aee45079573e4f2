-- Tables are unqualified: the connection's search_path selects the schema (DB_SCHEMA).
CREATE TABLE orgs (
    id TEXT PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    -- 24 lowercase hex, made like a Mongo ObjectId (time-ordered): id order is creation order.
    id TEXT PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email_address TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT true,
    access_key TEXT NOT NULL CHECK (length(access_key) >= 32),
    user_permissions JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(user_permissions) = 'object'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- An email is unique within an org, case-insensitively (also the duplicate check under races).
CREATE UNIQUE INDEX users_org_email_key ON users (org_id, lower(email_address));
-- Every request looks a user up by its key.
CREATE UNIQUE INDEX users_access_key_key ON users (access_key);
-- Listing an org's users in id order (keyset batches and pages).
CREATE INDEX users_org_id_idx ON users (org_id, id);
