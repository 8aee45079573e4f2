DROP TABLE audit_events;
DROP SEQUENCE audit_event_ids;
