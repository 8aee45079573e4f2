-- Exact user counts without counting (docs/performance.md, "Ten million users"). A partner's
-- list answers with its exact total; count(*) over the partner's memberships grows with the
-- partner (119 ms at 1 000 000). Instead every statement that adds or removes memberships adds
-- one row to user_counts in its own transaction: +n or -n for each partner it touched (a
-- statement-level trigger over its transition table, so an import of a million memberships
-- adds one row, not a million). A partner's total is the sum of its rows, so any snapshot that
-- sees a transaction's memberships sees its counts too, and a total is exactly the count(*)
-- the same snapshot would give, under any mix of concurrent writes.
--
-- Rows are folded as they are written: the trigger also deletes the partner's rows that no
-- other transaction holds (FOR UPDATE SKIP LOCKED) and writes their sum with its own change as
-- one row. It never waits for a lock, so concurrent writers of one partner neither queue on a
-- hot counter row nor deadlock; a partner has about as many rows as it had concurrent writers.
-- A fold only runs in READ COMMITTED (every write here); in a REPEATABLE READ or SERIALIZABLE
-- transaction the trigger only adds its row (a fold there could fail with a serialization
-- error), and the next write folds it.
CREATE TABLE user_counts (
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    n BIGINT NOT NULL
);
CREATE INDEX user_counts_partner_idx ON user_counts (partner_id);

-- Adds deltas[i] to the count of partner ids[i], folding the partners' rows (above).
CREATE FUNCTION user_counts_add(ids BIGINT[], deltas BIGINT[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        INSERT INTO user_counts (partner_id, n) SELECT * FROM unnest(ids, deltas);
        RETURN;
    END IF;
    WITH delta (partner_id, n) AS (
        SELECT * FROM unnest(ids, deltas)
    ), folded AS (
        DELETE FROM user_counts
        WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM user_counts
            WHERE partner_id IN (SELECT partner_id FROM delta)
            FOR UPDATE SKIP LOCKED
        ))
        RETURNING partner_id, n
    )
    INSERT INTO user_counts (partner_id, n)
    SELECT partner_id, sum(n) FROM (SELECT * FROM delta UNION ALL SELECT * FROM folded) c
    GROUP BY partner_id
    HAVING sum(n) <> 0;
END
$$;

CREATE FUNCTION memberships_count_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids BIGINT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.partner_id), array_agg(c.n) INTO ids, deltas
    FROM (SELECT partner_id, count(*) AS n FROM inserted GROUP BY partner_id) c;
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- A partner deleted with its memberships (ON DELETE CASCADE) takes its counts with it: only
-- partners that still exist are counted down.
CREATE FUNCTION memberships_count_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids BIGINT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.partner_id), array_agg(-c.n) INTO ids, deltas
    FROM (SELECT partner_id, count(*) AS n FROM deleted GROUP BY partner_id) c
    WHERE EXISTS (SELECT 1 FROM partners p WHERE p.id = c.partner_id);
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- Nothing moves a membership to another partner today; should anything, the counts follow.
CREATE FUNCTION memberships_count_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ids BIGINT[];
    deltas BIGINT[];
BEGIN
    SELECT array_agg(c.partner_id), array_agg(c.n) INTO ids, deltas
    FROM (
        SELECT partner_id, sum(n) AS n
        FROM (SELECT partner_id, 1 AS n FROM inserted
              UNION ALL SELECT partner_id, -1 FROM deleted) c
        GROUP BY partner_id
        HAVING sum(n) <> 0
    ) c;
    IF ids IS NOT NULL THEN
        PERFORM user_counts_add(ids, deltas);
    END IF;
    RETURN NULL;
END
$$;

-- The triggers come before the counting, and the table is locked against writes (SHARE:
-- reads go on) from here to the end of this migration's transaction, so no membership is
-- counted twice or missed.
LOCK TABLE memberships IN SHARE MODE;

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_insert();
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_delete();
CREATE TRIGGER memberships_count_update AFTER UPDATE ON memberships
REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_update();

INSERT INTO user_counts (partner_id, n)
SELECT partner_id, count(*) FROM memberships GROUP BY partner_id;
