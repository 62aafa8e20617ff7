-- Identity on PostgreSQL: the premium lookup in the app's own tables, and the roles
-- that read the queue directly. {table}, {column}, {key}, {schema} and {role} are
-- filled in as quoted identifiers, never as text.

-- name: premium_lookup
SELECT ({column}) IS TRUE AS premium FROM {table} WHERE ({key})::text = %(user)s LIMIT 1

-- name: create_app_role
-- NOLOGIN: a login is granted by the operator (ALTER ROLE ... LOGIN PASSWORD ...) or
-- the role is granted to the app's own login role.
DO $$
BEGIN
    IF to_regrole('ttsqueue_app') IS NULL THEN
        CREATE ROLE ttsqueue_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created at the same moment by another migration
END
$$

-- name: grant_readers
SELECT {schema}.tq_grant_readers()

-- name: has_grant_readers
SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proname = 'tq_grant_readers'


-- name: script_header
-- ttsqueue's PostgreSQL schema {schema}, complete: paste it into Supabase's SQL editor
-- (or run psql -v ON_ERROR_STOP=1 -f) as the role that will own the tables — the one
-- in TTSQUEUE_DATABASE_URL. For a schema that ttsqueue has not created yet; later
-- versions are applied by `ttsqueue migrate`.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('ttsqueue.migrate:' || {schema_name}));
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.schema_version (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM {schema}.schema_version) THEN
        RAISE EXCEPTION 'schema % already holds ttsqueue: upgrade it with ttsqueue migrate',
            {schema_name};
    END IF;
END
$$;
SET LOCAL search_path TO {schema};

-- name: script_version
INSERT INTO {schema}.schema_version (version, name) VALUES ({version}, {name});

-- name: script_footer
COMMIT;
