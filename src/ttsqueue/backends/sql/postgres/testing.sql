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
