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
DROP INDEX memberships_search_idx;
DROP TRIGGER users_sync_search ON users;
DROP FUNCTION users_sync_search();
DROP TRIGGER memberships_copy_search ON memberships;
DROP FUNCTION memberships_copy_search();
ALTER TABLE memberships DROP COLUMN search;
