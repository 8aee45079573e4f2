-- Tables are unqualified: the connection's search_path selects the schema (DB_SCHEMA).

-- Trigram indexes serve the user search. pg_trgm is a trusted extension; with the search_path
-- set to this schema it is installed here. When another schema of the same database installed
-- it first, the operator class is taken from wherever it lives (see the index below).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE partners (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX partners_name_key ON partners (name);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- The user's permissions: a set of the five names below.
    permissions TEXT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_permissions_known CHECK (
        permissions <@ ARRAY['users.read', 'users.create', 'users.update', 'users.delete', 'partners.all']::TEXT[]
    )
);
-- Email is unique over all partners, case-insensitively; it also serves login and attach.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- The search: one trigram index over "first last email", lower-cased, serves LIKE '%term%'
-- on first name, last name, email and "first last".
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX users_search_idx ON users USING gin '
        '((lower(first_name || '' '' || last_name || '' '' || email)) %I.gin_trgm_ops)',
        trgm_schema
    );
END
$$;

CREATE TABLE memberships (
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, user_id)
);
-- A user's partners (user partners, the caller's access, "is any partner left").
CREATE INDEX memberships_user_idx ON memberships (user_id, partner_id);
