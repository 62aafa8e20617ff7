-- Statements the PostgreSQL tests run as the owner or as an app role: isolation of a
-- test schema, a non-owner role for row-level security, and direct reads and writes
-- through that role. {schema} and {role} are filled in as quoted identifiers.

-- name: drop_schema
DROP SCHEMA IF EXISTS {schema} CASCADE

-- name: create_role
CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS

-- name: grant_usage
GRANT USAGE ON SCHEMA {schema} TO {role}

-- name: grant_tables
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}

-- name: drop_role
DROP ROLE IF EXISTS {role}

-- name: drop_owned
DROP OWNED BY {role}

-- name: set_role
SET ROLE {role}

-- name: reset_role
RESET ROLE

-- name: set_user
SELECT set_config('ttsqueue.user_id', %(user)s, false)

-- name: job_ids
SELECT id FROM {schema}.jobs ORDER BY id

-- name: task_job_ids
SELECT DISTINCT job_id FROM {schema}.tasks ORDER BY job_id

-- name: event_job_ids
SELECT DISTINCT job_id FROM {schema}.events ORDER BY job_id

-- name: rename_job
UPDATE {schema}.jobs SET title = %(title)s WHERE id = %(id)s

-- name: cancel_tasks
UPDATE {schema}.tasks SET status = 'cancelled' WHERE job_id = %(id)s

-- name: delete_job
DELETE FROM {schema}.jobs WHERE id = %(id)s

-- name: bump_version
INSERT INTO {schema}.schema_version (version, name) VALUES (%(version)s, 'from_the_future')

-- name: versions
SELECT version FROM {schema}.schema_version ORDER BY version

-- name: task_states
SELECT id, status, attempts FROM {schema}.tasks ORDER BY id

-- name: tables
SELECT c.relname AS name, c.relrowsecurity AS rls
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
ORDER BY c.relname

-- name: plain_column
SELECT a.attname FROM pg_attribute a
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attidentity = '' AND a.attgenerated = ''
ORDER BY a.attnum LIMIT 1

-- name: rows_as_json
SELECT to_jsonb(t)::text FROM {schema}.{table} t ORDER BY 1

-- name: delete_all
DELETE FROM {schema}.{table}

-- name: touch_all
UPDATE {schema}.{table} SET {column} = {column}

-- name: insert_job
INSERT INTO {schema}.jobs (id, user_id, status, priority, title, author, voice,
                           output_format, total_chapters, max_attempts, created_at,
                           updated_at, metadata)
VALUES (%(id)s, %(user)s, 'queued', 9, 'planted', 'x', '{{}}', 'mp3', 1, 3, 0, 0, '{{}}')

-- name: insert_task
INSERT INTO {schema}.tasks (id, job_id, job_seq, idx, kind, user_id, priority, status,
                            run_at, title, payload, max_attempts)
VALUES (%(id)s || '.0', %(id)s, 1, 0, 'synthesize', %(user)s, 9, 'pending', 0, 'planted',
        '{{}}', 3)

-- name: insert_event
INSERT INTO {schema}.events (job_id, user_id, seq, type, data, at)
VALUES (%(id)s, %(user)s, 1, 'job.created', '{{}}', 0)

-- name: insert_api_key
INSERT INTO {schema}.api_keys (id, key_hash, user_id, premium, admin, label, created_at)
VALUES (%(id)s, %(id)s, %(user)s, true, true, 'planted', 0)

-- name: insert_user
INSERT INTO {schema}.users (user_id, last_served, max_concurrency)
VALUES (%(user)s || '-planted', 0, 1000)

-- name: insert_worker
INSERT INTO {schema}.workers (id, host, pid, version, concurrency, tasks, started_at,
                              last_seen_at)
VALUES (%(id)s, 'planted', 1, 'x', 1, '[]', 0, 0)

-- name: insert_status_count
INSERT INTO {schema}.status_counts (kind, status, n) VALUES ('job', 'completed', 1000)

-- name: raise_cap
UPDATE {schema}.users SET max_concurrency = 1000 WHERE user_id = %(user)s

-- name: make_admin
UPDATE {schema}.api_keys SET admin = true WHERE user_id = %(user)s

-- name: steal_audio
UPDATE {schema}.jobs SET result = jsonb_build_object('path', %(path)s::text)
WHERE user_id = %(user)s

-- name: ensure_role
DO $$
BEGIN
    IF to_regrole(current_setting('tq_test.role')) IS NULL THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN ' || current_setting('tq_test.options'),
                       current_setting('tq_test.role'));
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another test run created it at the same moment
END
$$

-- name: set_test_setting
SELECT set_config(%(name)s, %(value)s, false)

-- name: create_database
CREATE DATABASE {database}

-- name: drop_database
DROP DATABASE IF EXISTS {database} WITH (FORCE)

-- name: supabase_auth
-- What a Supabase database has before any app schema: auth.uid() reading the verified
-- JWT's claims that PostgREST sets per request, usable by the API roles, and default
-- privileges that grant every new table in public to them.
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role

-- name: set_claims
SELECT set_config('request.jwt.claims', %(claims)s, false)

-- name: set_job_result
UPDATE {schema}.jobs SET result = %(result)s::jsonb WHERE id = %(id)s

-- name: set_task_result
UPDATE {schema}.tasks SET result = %(result)s::jsonb WHERE job_id = %(id)s AND idx = %(idx)s

-- name: create_profiles
CREATE TABLE IF NOT EXISTS {schema}.profiles (id uuid PRIMARY KEY, is_premium boolean)

-- name: set_profile
INSERT INTO {schema}.profiles (id, is_premium) VALUES (%(id)s, %(premium)s)
ON CONFLICT (id) DO UPDATE SET is_premium = excluded.is_premium

-- name: executable_functions
SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND has_function_privilege(%(role)s, p.oid, 'EXECUTE')
ORDER BY 1

-- name: terminate_app_connections
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %(app)s
