-- Tables are unqualified: the connection's search_path selects the schema (DB_SCHEMA).
CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    cancel_job BOOLEAN NOT NULL DEFAULT false,
    create_sample BOOLEAN NOT NULL DEFAULT false,
    manage_users BOOLEAN NOT NULL DEFAULT false,
    modify_hmm BOOLEAN NOT NULL DEFAULT false,
    modify_settings BOOLEAN NOT NULL DEFAULT false,
    modify_subtraction BOOLEAN NOT NULL DEFAULT false,
    modify_virus BOOLEAN NOT NULL DEFAULT false,
    rebuild_index BOOLEAN NOT NULL DEFAULT false,
    remove_file BOOLEAN NOT NULL DEFAULT false,
    remove_job BOOLEAN NOT NULL DEFAULT false,
    remove_virus BOOLEAN NOT NULL DEFAULT false,
    upload_file BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The administrator group always exists and holds every permission (the service refuses to
-- change or remove it).
INSERT INTO groups (id, cancel_job, create_sample, manage_users, modify_hmm, modify_settings,
    modify_subtraction, modify_virus, rebuild_index, remove_file, remove_job, remove_virus,
    upload_file)
VALUES ('administrator', true, true, true, true, true, true, true, true, true, true, true, true);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    force_reset BOOLEAN NOT NULL DEFAULT true,
    last_password_change TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL is the API's "" (no primary group); deleting the group clears it.
    primary_group TEXT REFERENCES groups (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_group_idx ON memberships (group_id);

-- Password reset codes, stored as the sha256 hex of the code; single use, short-lived.
CREATE TABLE reset_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX reset_codes_user_idx ON reset_codes (user_id);
