-- Tables are unqualified: the connection's search_path selects the schema (DB_SCHEMA).
CREATE TABLE agency_groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agency_groups_name_key ON agency_groups (name);

CREATE TABLE agencies (
    id BIGSERIAL PRIMARY KEY,
    agency_group_id BIGINT NOT NULL REFERENCES agency_groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL
);
CREATE UNIQUE INDEX agencies_group_name_key ON agencies (agency_group_id, name);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    firstname TEXT NOT NULL,
    lastname TEXT,
    email TEXT NOT NULL,
    phone TEXT,
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Email is unique over all agencies, case-insensitively; it also serves the duplicate check.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Listing an agency's users in id order (keyset pages) and finding one user in an agency.
CREATE INDEX users_agency_id_idx ON users (agency_id, id);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    agency_group_id BIGINT NOT NULL REFERENCES agency_groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX api_clients_group_idx ON api_clients (agency_group_id);
