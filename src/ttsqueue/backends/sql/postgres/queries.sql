-- Named queries of the PostgreSQL backend. Pool connections run with search_path set to
-- the backend's schema; a query with {schema} runs on a connection that is not ours
-- (migrations, transactional enqueue) and is formatted with the quoted schema name.

-- ---------------------------------------------------------------- migrations

-- name: migration_lock
SELECT pg_advisory_xact_lock(hashtext('ttsqueue.migrate:' || %(schema)s))

-- name: create_schema
CREATE SCHEMA IF NOT EXISTS {schema}

-- name: create_version_table
CREATE TABLE IF NOT EXISTS {schema}.schema_version (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: schema_version
SELECT coalesce(max(version), 0) AS version FROM {schema}.schema_version

-- name: schema_version_if_any
SELECT CASE WHEN to_regclass(%(table)s) IS NULL THEN NULL ELSE 1 END AS present

-- name: set_local_search_path
SET LOCAL search_path TO {schema}

-- name: record_version
INSERT INTO {schema}.schema_version (version, name) VALUES (%(version)s, %(name)s)

-- name: ping
SELECT 1

-- ---------------------------------------------------------------- producers

-- name: enqueue
SELECT e.created, (e.job).* FROM tq_enqueue(%(specs)s::jsonb) AS e ORDER BY e.ord

-- name: enqueue_in
SELECT e.created, (e.job).* FROM {schema}.tq_enqueue(%(specs)s::jsonb) AS e ORDER BY e.ord

-- ---------------------------------------------------------------- workers

-- name: warm_up
-- Run on every new pool connection: each hot-path function runs every statement once
-- on empty input (claim with limit 0 takes no lock), so plpgsql parses and plans them
-- now rather than on a worker's first claim.
SELECT
    (SELECT count(*) FROM tq_claim('', 0, 0, 0)) AS claim,
    (SELECT count(*) FROM tq_heartbeat('{}', '{}', 0, '{}', '{}')) AS heartbeat,
    (SELECT count(*) FROM tq_complete('{}', '{}', '{}')) AS complete,
    (SELECT count(*) FROM tq_enqueue('[]')) AS enqueue

-- name: claim
-- a global pause leases nothing and does no work (reap still takes back expired leases)
SELECT * FROM tq_claim(
    %(worker)s,
    CASE WHEN EXISTS (SELECT 1 FROM queue_pauses WHERE engine = '') THEN -1 ELSE %(limit)s END,
    %(lease)s::float8, %(starve)s)

-- name: heartbeat
SELECT id, state FROM tq_heartbeat(
    %(ids)s::text[], %(tokens)s::bigint[], %(lease)s::float8, %(prog_ids)s::text[],
    %(prog)s::float8[])

-- name: complete
-- the results come as one JSON array (a jsonb[] parameter costs the client a JSON
-- encoding per element, ten times the time of one encoding of the array)
SELECT tq_complete AS ok FROM tq_complete(
    %(ids)s::text[], %(tokens)s::bigint[],
    ARRAY(SELECT r.value FROM jsonb_array_elements(%(results)s::jsonb) WITH ORDINALITY
                              AS r(value, o)
          ORDER BY r.o))

-- name: fail
SELECT tq_fail(%(id)s, %(token)s, %(error)s, %(retry_at)s::float8) AS ok

-- name: release
SELECT tq_release(%(ids)s::text[], %(tokens)s::bigint[]) AS n

-- name: release_held
SELECT t.id FROM tasks t
JOIN unnest(%(ids)s::text[], %(tokens)s::bigint[]) AS l(id, token)
  ON t.id = l.id AND t.token = l.token
WHERE t.status = 'running'
ORDER BY t.id
FOR UPDATE OF t

-- name: release_until
UPDATE tasks SET run_at = greatest(tq_now(), %(run_at)s::double precision)
WHERE id = ANY(%(ids)s::text[]) AND status = 'pending'

-- name: register_worker
INSERT INTO workers (id, host, pid, version, concurrency, tasks, started_at, last_seen_at)
VALUES (%(id)s, %(host)s, %(pid)s, %(version)s, %(concurrency)s, %(tasks)s, %(started_at)s,
        tq_now())
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, version = excluded.version,
    concurrency = excluded.concurrency, tasks = excluded.tasks,
    started_at = excluded.started_at, last_seen_at = excluded.last_seen_at

-- name: unregister_worker
DELETE FROM workers WHERE id = %(id)s

-- name: list_workers
SELECT * FROM workers WHERE last_seen_at >= tq_now() - %(ttl)s ORDER BY id

-- ---------------------------------------------------------------- users and admins

-- name: get_job
SELECT * FROM jobs WHERE id = %(id)s

-- name: job_tasks
SELECT id, idx, kind, title, status, attempts, max_attempts, progress, error, result,
       worker_id, started_at, finished_at
FROM tasks WHERE job_id = %(id)s ORDER BY idx

-- name: list_jobs_all
SELECT * FROM jobs ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_all_after
SELECT * FROM jobs WHERE id < %(cursor)s ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_user
SELECT * FROM jobs WHERE user_id = %(user)s ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_user_after
SELECT * FROM jobs WHERE user_id = %(user)s AND id < %(cursor)s
ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_status
SELECT * FROM jobs WHERE status = %(status)s ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_status_after
SELECT * FROM jobs WHERE status = %(status)s AND id < %(cursor)s
ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_user_status
SELECT * FROM jobs WHERE user_id = %(user)s AND status = %(status)s
ORDER BY id DESC LIMIT %(limit)s

-- name: list_jobs_user_status_after
SELECT * FROM jobs WHERE user_id = %(user)s AND status = %(status)s AND id < %(cursor)s
ORDER BY id DESC LIMIT %(limit)s

-- name: cancel
SELECT tq_cancel(%(id)s, %(user)s::text) AS outcome

-- name: retry
SELECT tq_retry(%(id)s, %(user)s::text, %(max_active)s::integer) AS outcome

-- name: set_priority
SELECT tq_set_priority(%(id)s, %(priority)s) AS outcome

-- name: active_jobs_user
-- by the partial index jobs_user_active (finished_at is set exactly when a job ends)
SELECT count(*) AS n FROM jobs WHERE user_id = %(user)s AND finished_at IS NULL

-- name: stats_counts_all
SELECT kind, status, sum(n)::bigint AS n FROM status_counts GROUP BY kind, status

-- name: stats_extra_all
SELECT
    (SELECT count(*) FROM users u
     WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = u.user_id)) AS users,
    (SELECT min(t.run_at) FROM tasks t
     WHERE t.status = 'pending' AND t.run_at <= tq_now()) AS oldest_pending_at

-- name: stats_counts_user
SELECT 'job' AS kind, status, count(*) AS n FROM jobs WHERE user_id = %(user)s GROUP BY status
UNION ALL
SELECT 'task', t.status, count(*) FROM jobs j JOIN tasks t ON t.job_id = j.id
WHERE j.user_id = %(user)s GROUP BY t.status

-- name: stats_extra_user
SELECT
    (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = %(user)s LIMIT 1) x) AS users,
    (SELECT min(t.run_at) FROM tasks t
     WHERE t.user_id = %(user)s AND t.status = 'pending' AND t.run_at <= tq_now())
        AS oldest_pending_at

-- ---------------------------------------------------------------- API keys

-- name: put_api_key
INSERT INTO api_keys (id, key_hash, user_id, premium, admin, label, created_at)
VALUES (%(id)s, %(key_hash)s, %(user_id)s, %(premium)s, %(admin)s, %(label)s, %(created_at)s)

-- name: get_api_key
SELECT * FROM api_keys WHERE key_hash = %(key_hash)s

-- name: revoke_api_key
DELETE FROM api_keys WHERE id = %(id)s

-- name: list_api_keys
SELECT * FROM api_keys ORDER BY created_at, id

-- ---------------------------------------------------------------- events

-- name: job_events
SELECT * FROM events WHERE job_id = %(job_id)s AND seq > %(after)s ORDER BY seq
LIMIT %(limit)s

-- name: events_by_ids
SELECT * FROM events WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id

-- name: last_event_id
SELECT coalesce(max(id), 0) AS id FROM events

-- name: events_after_id
SELECT * FROM events WHERE id > %(after)s ORDER BY id LIMIT %(limit)s

-- name: listen
LISTEN {channel}

-- ---------------------------------------------------------------- maintenance

-- name: reap
SELECT requeued, failed FROM tq_reap()

-- name: existing_jobs
SELECT id FROM jobs WHERE id = ANY(%(ids)s::text[])

-- name: prune
-- jobs_delete_rows deletes their tasks and events
DELETE FROM jobs
WHERE status IN ('completed', 'failed', 'cancelled') AND finished_at < %(older_than)s::float8
RETURNING id

-- name: put_pause
INSERT INTO queue_pauses (engine, since) VALUES (%(engine)s, %(since)s)
ON CONFLICT (engine) DO NOTHING

-- name: get_pause
SELECT engine, since FROM queue_pauses WHERE engine = %(engine)s

-- name: delete_pause
DELETE FROM queue_pauses WHERE engine = %(engine)s

-- name: list_pauses
SELECT engine, since FROM queue_pauses ORDER BY engine

-- name: put_drain
INSERT INTO worker_drains (worker_id, requested_at) VALUES (%(worker_id)s, %(now)s)
ON CONFLICT (worker_id) DO NOTHING

-- name: take_drain
DELETE FROM worker_drains WHERE worker_id = %(worker_id)s
-- ---------------------------------------------------------------- lexicons

-- name: lock_user_lexicons
SELECT pg_advisory_xact_lock(hashtext('ttsqueue.lexicons:' || %(user_id)s))

-- name: lexicon_by_id
SELECT * FROM lexicons WHERE id = %(id)s

-- name: count_user_lexicons
SELECT count(*) AS n FROM lexicons WHERE user_id = %(user_id)s

-- name: insert_lexicon
INSERT INTO lexicons (id, user_id, name, entries, created_at, updated_at)
VALUES (%(id)s, %(user_id)s, %(name)s, %(entries)s, %(created_at)s, %(updated_at)s)

-- name: update_lexicon
UPDATE lexicons SET name = %(name)s, entries = %(entries)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING created_at

-- name: lexicons_of_user
SELECT * FROM lexicons WHERE user_id = %(user_id)s ORDER BY created_at, id

-- name: all_lexicons
SELECT * FROM lexicons ORDER BY created_at, id

-- name: delete_lexicon
DELETE FROM lexicons WHERE id = %(id)s
