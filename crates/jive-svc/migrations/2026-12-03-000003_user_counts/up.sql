-- Exact user counts without counting: the design of partner-svc's migration
-- 2026-12-03-000005_user_counts (read it for the argument), over jive's users. A page of
-- `GET /api/users?p=N` answers with the org's exact total (`pages`); count(*) over the org's
-- users grows with the org (seconds at ten million). Instead every statement that adds or
-- removes users adds one row to user_counts in its own transaction: +n or -n for each org it
-- touched (a statement-level trigger over its transition table, so an import adds one row per
-- org, not one per user). An org's total is the sum of its rows, so any snapshot gives exactly
-- the count(*) it would give, under any mix of concurrent writes.
--
-- Rows are folded as they are written (FOR UPDATE SKIP LOCKED: never waits, never deadlocks;
-- an org has about as many rows as it had concurrent writers). In a REPEATABLE READ or
-- SERIALIZABLE transaction (no write of the service's runs in one) the trigger only adds its
-- row, and the next write folds it.
CREATE TABLE user_counts (
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    n BIGINT NOT NULL
);
CREATE INDEX user_counts_org_idx ON user_counts (org_id);

-- Adds deltas[i] to the count of org ids[i], folding the orgs' rows (above).
CREATE FUNCTION user_counts_add(ids TEXT[], deltas BIGINT[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        INSERT INTO user_counts (org_id, n) SELECT * FROM unnest(ids, deltas);
        RETURN;
    END IF;
    WITH delta (org_id, n) AS (
        SELECT * FROM unnest(ids, deltas)
    ), folded AS (
        DELETE FROM user_counts
        WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM user_counts
            WHERE org_id IN (SELECT org_id FROM delta)
            FOR UPDATE SKIP LOCKED
        ))
        RETURNING org_id, n
    )
    INSERT INTO user_counts (org_id, n)
    SELECT org_id, sum(n) FROM (SELECT * FROM delta UNION ALL SELECT * FROM folded) c
    GROUP BY org_id
    HAVING sum(n) <> 0;
END
$$;

CREATE FUNCTION users_count_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids TEXT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.org_id), array_agg(c.n) INTO ids, deltas
    FROM (SELECT org_id, count(*) AS n FROM inserted GROUP BY org_id) c;
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- An org deleted with its users (ON DELETE CASCADE) takes its counts with it: only orgs that
-- still exist are counted down.
CREATE FUNCTION users_count_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids TEXT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.org_id), array_agg(-c.n) INTO ids, deltas
    FROM (SELECT org_id, count(*) AS n FROM deleted GROUP BY org_id) c
    WHERE EXISTS (SELECT 1 FROM orgs o WHERE o.id = c.org_id);
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- Nothing moves a user to another org today (a PUT ignores org_id); should anything, the
-- counts follow. An update that keeps every org_id nets to nothing and adds no row.
CREATE FUNCTION users_count_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids TEXT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.org_id), array_agg(c.n) INTO ids, deltas
    FROM (
        SELECT org_id, sum(n) AS n
        FROM (SELECT org_id, 1 AS n FROM inserted
              UNION ALL SELECT org_id, -1 FROM deleted) c
        GROUP BY org_id
        HAVING sum(n) <> 0
    ) c;
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- The triggers come before the counting, and the table is locked against writes (SHARE:
-- reads go on) to the end of this migration's transaction: no user counted twice or missed.
LOCK TABLE users IN SHARE MODE;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION users_count_insert();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION users_count_delete();
CREATE TRIGGER users_count_update AFTER UPDATE ON users
REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION users_count_update();

INSERT INTO user_counts (org_id, n)
SELECT org_id, count(*) FROM users GROUP BY org_id;
