-- The audit trail (user_core::audit; ../shared/api/audit.md). An event is inserted by the
-- change's own transaction without a public id; the sequencer numbers committed events under
-- an advisory lock, so ids become visible in increasing order (the feed rule). `seq` is the
-- write order (for the sequencer and retention), `id` the feed's.
CREATE SEQUENCE audit_event_ids CACHE 1;
CREATE TABLE audit_events (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          bigint,
    time        timestamptz NOT NULL DEFAULT now(),
    action      text        NOT NULL,
    actor_type  text        NOT NULL,
    actor_id    text,
    target_type text        NOT NULL,
    target_id   text        NOT NULL,
    tenant      text,
    request_id  text,
    address     text,
    changes     jsonb       NOT NULL DEFAULT '{}'
);
-- the feed, in id order (all events, or with action / target filters)
CREATE UNIQUE INDEX audit_events_id ON audit_events (id) WHERE id IS NOT NULL;
-- a tenant's feed
CREATE INDEX audit_events_tenant ON audit_events (tenant, id) WHERE id IS NOT NULL;
-- the feed of one target, and login.throttled's once-per-window check (before numbering too)
CREATE INDEX audit_events_target ON audit_events (target_id, id);
-- what the sequencer has still to number
CREATE INDEX audit_events_unnumbered ON audit_events (seq) WHERE id IS NULL;
