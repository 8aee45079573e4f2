-- Postgres bootstrap for docker compose (and the demo Postgres of the local k8s overlay).
-- Run once, by the official image's entrypoint, as the superuser, on an empty data directory
-- (/docker-entrypoint-initdb.d). Run it by hand against any other server with:
--   psql -v ON_ERROR_STOP=1 -U postgres -f deploy/postgres/init.sql
--
-- One login role, one database and one schema per service:
--   role agency  -> database agency,  schema agency  (owned by role agency)
--   role jive    -> database jive,    schema jive
--   role partner -> database partner, schema partner
--   role virtool -> database virtool, schema virtool
-- Each role may connect to its own database only and owns only its own schema; no role is a
-- superuser or may create roles or databases. A role gets CREATE on its own database because
-- a service runs `CREATE SCHEMA IF NOT EXISTS <DB_SCHEMA>` at start, which Postgres checks
-- against the database privilege even when the schema already exists.
--
-- !!! DEMO PASSWORDS: '<role>-demo-password' are for local use only. Never reuse them. !!!

\set ON_ERROR_STOP on

CREATE ROLE agency  LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD 'agency-demo-password';
CREATE ROLE jive    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD 'jive-demo-password';
CREATE ROLE partner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD 'partner-demo-password';
CREATE ROLE virtool LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD 'virtool-demo-password';

CREATE DATABASE agency;
CREATE DATABASE jive;
CREATE DATABASE partner;
CREATE DATABASE virtool;

REVOKE ALL ON DATABASE agency  FROM PUBLIC;
REVOKE ALL ON DATABASE jive    FROM PUBLIC;
REVOKE ALL ON DATABASE partner FROM PUBLIC;
REVOKE ALL ON DATABASE virtool FROM PUBLIC;

GRANT CONNECT, TEMPORARY, CREATE ON DATABASE agency  TO agency;
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE jive    TO jive;
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE partner TO partner;
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE virtool TO virtool;

ALTER ROLE agency  SET search_path = agency;
ALTER ROLE jive    SET search_path = jive;
ALTER ROLE partner SET search_path = partner;
ALTER ROLE virtool SET search_path = virtool;

\connect agency
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA agency AUTHORIZATION agency;

\connect jive
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA jive AUTHORIZATION jive;

\connect partner
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA partner AUTHORIZATION partner;

\connect virtool
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA virtool AUTHORIZATION virtool;
