-- Named queries of the SQLite backend (ttsqueue.backends.sqlite*), loaded with
-- ttsqueue.backends.sqlfiles.queries("sqlite"). Parameters are :named.

-- ---------------------------------------------------------------- connection, migrations

-- name: pragma_busy_timeout
PRAGMA busy_timeout = 30000

-- name: pragma_wal
PRAGMA journal_mode = WAL

-- name: pragma_synchronous
PRAGMA synchronous = NORMAL

-- name: data_version
PRAGMA data_version

-- name: begin_immediate
BEGIN IMMEDIATE

-- name: begin_exclusive
BEGIN EXCLUSIVE

-- name: begin_read
BEGIN DEFERRED

-- name: commit
COMMIT

-- name: rollback
ROLLBACK

-- name: ping
SELECT 1

-- name: create_schema_versions
CREATE TABLE IF NOT EXISTS schema_versions (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at REAL NOT NULL
)

-- name: schema_version
SELECT coalesce(max(version), 0) FROM schema_versions

-- name: record_schema_version
INSERT INTO schema_versions (version, name, applied_at) VALUES (:version, :name, :at)

-- ---------------------------------------------------------------- enqueue

-- name: job_by_idempotency_key
SELECT * FROM jobs WHERE user_id = :user_id AND idempotency_key = :key

-- name: active_jobs_user
-- unfinished jobs (finished_at is set exactly when a job turns terminal, cleared by retry)
SELECT count(*) FROM jobs WHERE user_id = :user_id AND finished_at IS NULL

-- name: upsert_user_cap
INSERT INTO users (user_id, max_concurrency) VALUES (:user_id, :cap)
ON CONFLICT (user_id) DO UPDATE SET max_concurrency = excluded.max_concurrency

-- name: insert_job
INSERT INTO jobs (
    id, user_id, status, priority, title, author, work_id, voice, output_format,
    total_chapters, progress_message, idempotency_key, max_attempts, created_at,
    updated_at, run_at, metadata
) VALUES (
    :id, :user_id, :status, :priority, :title, :author, :work_id, :voice, :output_format,
    :total_chapters, :progress_message, :idempotency_key, :max_attempts, :now,
    :now, :run_at, :metadata
)
RETURNING seq

-- name: insert_task
INSERT INTO tasks (
    id, job_id, job_seq, idx, kind, user_id, priority, status, run_at, title, payload,
    max_attempts
) VALUES (
    :id, :job_id, :job_seq, :idx, :kind, :user_id, :priority, :status, :run_at, :title,
    :payload, :max_attempts
)

-- name: insert_event
INSERT INTO events (job_id, user_id, seq, type, data, at)
VALUES (
    :job_id, :user_id,
    (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE job_id = :job_id),
    :type, :data, :at
)

-- ---------------------------------------------------------------- claim

-- name: claims_counter
SELECT value FROM counters WHERE name = 'claims'

-- name: set_claims_counter
UPDATE counters SET value = :value WHERE name = 'claims'

-- name: claim_fair
-- Highest priority first, then the user served least recently, then FIFO: each user
-- under their cap offers their own best runnable task (an index lookup per user), and
-- the best offer wins.
UPDATE tasks
SET status = 'running',
    attempts = attempts + 1,
    token = token + 1,
    lease_expires_at = :until,
    worker_id = :worker_id,
    progress = 0,
    started_at = coalesce(started_at, :now)
WHERE id = (
    SELECT t.id
    FROM users AS u
    JOIN tasks AS t ON t.id = (
        SELECT c.id FROM tasks AS c
        WHERE c.user_id = u.user_id AND c.status = 'pending' AND c.run_at <= :now
        ORDER BY c.priority DESC, c.job_seq, c.idx
        LIMIT 1
    )
    WHERE u.pending > 0 AND u.running < u.max_concurrency
    ORDER BY t.priority DESC, u.last_served, t.job_seq, t.idx
    LIMIT 1
)
RETURNING *

-- name: claim_fifo
-- The starvation slot: the oldest runnable task whatever its priority, again one offer
-- per user under their cap, so a capped user's long backlog is never walked.
UPDATE tasks
SET status = 'running',
    attempts = attempts + 1,
    token = token + 1,
    lease_expires_at = :until,
    worker_id = :worker_id,
    progress = 0,
    started_at = coalesce(started_at, :now)
WHERE id = (
    SELECT t.id
    FROM users AS u
    JOIN tasks AS t ON t.id = (
        SELECT c.id FROM tasks AS c
        WHERE c.user_id = u.user_id AND c.status = 'pending' AND c.run_at <= :now
        ORDER BY c.job_seq, c.idx
        LIMIT 1
    )
    WHERE u.pending > 0 AND u.running < u.max_concurrency
    ORDER BY t.job_seq, t.idx
    LIMIT 1
)
RETURNING *

-- name: mark_served
UPDATE users SET last_served = :counter WHERE user_id = :user_id

-- name: job_claimed
UPDATE jobs
SET status = :status,
    started_at = coalesce(started_at, :now),
    attempts = attempts + 1,
    current_chapter = coalesce(:current_chapter, current_chapter),
    progress_message = coalesce(:message, progress_message),
    updated_at = :now
WHERE id = :job_id

-- ---------------------------------------------------------------- heartbeat, finish

-- name: tasks_with_job_status
SELECT t.id, t.job_id, t.user_id, t.kind, t.status, t.token, t.progress, j.status AS job_status
FROM tasks AS t JOIN jobs AS j ON j.id = t.job_id
WHERE t.id = :id

-- name: extend_lease
UPDATE tasks SET lease_expires_at = :until WHERE id = :id AND token = :token

-- name: set_task_progress
UPDATE tasks SET progress = :progress WHERE id = :id AND token = :token

-- name: running_progress
SELECT
    j.completed_chapters,
    j.total_chapters,
    j.status,
    (SELECT coalesce(sum(t.progress), 0) FROM tasks AS t
     WHERE t.job_seq = j.seq AND t.status = 'running' AND t.kind = 'synthesize') AS running
FROM jobs AS j
WHERE j.id = :job_id

-- name: set_job_progress
UPDATE jobs SET progress_percent = :percent, updated_at = :now WHERE id = :job_id

-- name: complete_task
UPDATE tasks
SET status = 'completed', result = :result, progress = 1.0, finished_at = :now,
    lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running'
RETURNING id, job_id, user_id, kind, idx, title, attempts

-- name: chapter_completed
UPDATE jobs
SET completed_chapters = completed_chapters + 1, updated_at = :now
WHERE id = :job_id
RETURNING completed_chapters, total_chapters

-- name: assemble_ready
UPDATE tasks SET status = 'pending', run_at = :now
WHERE id = :task_id AND status = 'waiting'

-- name: job_assembling
UPDATE jobs
SET status = 'assembling', progress_message = :message, updated_at = :now
WHERE id = :job_id

-- name: job_completed
UPDATE jobs
SET status = 'completed', result = :result,
    progress_message = :message, finished_at = :now, updated_at = :now
WHERE id = :job_id

-- name: task_for_lease
SELECT id, job_id, user_id, kind, idx, status, token, attempts, max_attempts
FROM tasks WHERE id = :id

-- name: task_retrying
UPDATE tasks
SET status = 'pending', run_at = :run_at, error = :error, progress = 0,
    lease_expires_at = NULL
WHERE id = :id

-- name: task_failed
UPDATE tasks
SET status = 'failed', error = :error, finished_at = :now, lease_expires_at = NULL
WHERE id = :id

-- name: cancel_unfinished_tasks
UPDATE tasks
SET status = 'cancelled', finished_at = :now, lease_expires_at = NULL
WHERE job_seq = (SELECT seq FROM jobs WHERE id = :job_id)
    AND status IN ('waiting', 'pending', 'running')

-- name: job_failed
UPDATE jobs
SET status = 'failed', error = :error, finished_at = :now, updated_at = :now
WHERE id = :job_id

-- name: release_task
UPDATE tasks
SET status = 'pending', attempts = attempts - 1, run_at = :run_at, progress = 0,
    lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running'
RETURNING id, job_id, user_id, kind, idx

-- ---------------------------------------------------------------- reap

-- name: expired_leases
SELECT id, job_id, user_id, kind, idx, status, token, attempts, max_attempts
FROM tasks
WHERE status = 'running' AND lease_expires_at <= :now
ORDER BY lease_expires_at

-- name: due_scheduled_jobs
UPDATE jobs SET status = 'queued', updated_at = :now
WHERE status = 'scheduled' AND run_at <= :now
RETURNING id, user_id, priority, total_chapters

-- ---------------------------------------------------------------- jobs: read, change

-- name: job_by_id
SELECT * FROM jobs WHERE id = :job_id

-- name: tasks_of_job
SELECT * FROM tasks WHERE job_seq = :job_seq ORDER BY idx

-- name: jobs_page
SELECT * FROM jobs
WHERE id < :cursor
ORDER BY id DESC LIMIT :limit

-- name: jobs_page_user
SELECT * FROM jobs
WHERE user_id = :user_id AND id < :cursor
ORDER BY id DESC LIMIT :limit

-- name: jobs_page_status
SELECT * FROM jobs
WHERE status = :status AND id < :cursor
ORDER BY id DESC LIMIT :limit

-- name: jobs_page_user_status
SELECT * FROM jobs
WHERE user_id = :user_id AND status = :status AND id < :cursor
ORDER BY id DESC LIMIT :limit

-- name: job_cancelled
UPDATE jobs SET status = 'cancelled', finished_at = :now, updated_at = :now
WHERE id = :job_id

-- name: retry_tasks
UPDATE tasks
SET status = CASE kind WHEN 'synthesize' THEN 'pending' ELSE 'waiting' END,
    run_at = :now, attempts = 0, error = NULL, progress = 0, lease_expires_at = NULL,
    finished_at = NULL
WHERE job_seq = :job_seq AND status <> 'completed'

-- name: job_retried
UPDATE jobs SET status = 'queued', error = NULL, finished_at = NULL, updated_at = :now
WHERE id = :job_id

-- name: job_priority
UPDATE jobs SET priority = :priority, updated_at = :now WHERE id = :job_id

-- name: tasks_priority
UPDATE tasks SET priority = :priority WHERE job_seq = :job_seq

-- ---------------------------------------------------------------- stats, prune

-- name: job_counts
SELECT status, count(*) AS n FROM jobs GROUP BY status

-- name: job_counts_user
SELECT status, count(*) AS n FROM jobs WHERE user_id = :user_id GROUP BY status

-- name: task_counts
SELECT status, count(*) AS n FROM tasks GROUP BY status

-- name: task_counts_user
SELECT t.status, count(*) AS n
FROM jobs AS j JOIN tasks AS t ON t.job_seq = j.seq
WHERE j.user_id = :user_id
GROUP BY t.status

-- name: user_count
SELECT count(DISTINCT user_id) FROM jobs

-- name: user_count_user
SELECT count(*) FROM (SELECT 1 FROM jobs WHERE user_id = :user_id LIMIT 1)

-- name: oldest_pending
SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at <= :now

-- name: oldest_pending_user
SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at <= :now AND user_id = :user_id

-- name: runnable_exists
-- wait_for_work: is there a task some worker could claim right now?
SELECT EXISTS (
    SELECT 1 FROM users AS u
    WHERE u.pending > 0 AND u.running < u.max_concurrency AND EXISTS (
        SELECT 1 FROM tasks AS c
        WHERE c.user_id = u.user_id AND c.status = 'pending' AND c.run_at <= :now
    )
)

-- name: next_due
SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at > :now

-- name: existing_jobs
SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: prunable_jobs
SELECT id, seq FROM jobs
WHERE status IN ('completed', 'failed', 'cancelled') AND finished_at < :older_than

-- name: delete_job_tasks
DELETE FROM tasks WHERE job_seq = :seq

-- name: delete_job_events
DELETE FROM events WHERE job_id = :id

-- name: delete_job
DELETE FROM jobs WHERE id = :id

-- ---------------------------------------------------------------- events

-- name: job_events
SELECT * FROM events WHERE job_id = :job_id AND seq > :after ORDER BY seq LIMIT :limit

-- name: last_event_id
SELECT coalesce(max(id), 0) FROM events

-- name: events_after
SELECT * FROM events WHERE id > :after ORDER BY id LIMIT :limit

-- ---------------------------------------------------------------- API keys, workers

-- name: insert_api_key
INSERT INTO api_keys (id, key_hash, user_id, premium, admin, label, created_at)
VALUES (:id, :key_hash, :user_id, :premium, :admin, :label, :created_at)

-- name: api_key_by_hash
SELECT * FROM api_keys WHERE key_hash = :key_hash

-- name: delete_api_key
DELETE FROM api_keys WHERE id = :id

-- name: api_keys
SELECT * FROM api_keys ORDER BY created_at, id

-- name: upsert_worker
INSERT INTO workers (id, host, pid, version, concurrency, tasks, started_at, last_seen_at)
VALUES (:id, :host, :pid, :version, :concurrency, :tasks, :started_at, :now)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, version = excluded.version,
    concurrency = excluded.concurrency, tasks = excluded.tasks,
    started_at = excluded.started_at, last_seen_at = excluded.last_seen_at

-- name: delete_worker
DELETE FROM workers WHERE id = :id

-- name: live_workers
SELECT * FROM workers WHERE last_seen_at >= :since ORDER BY id

-- name: globally_paused
SELECT 1 FROM queue_pauses WHERE engine = ''

-- name: put_pause
INSERT INTO queue_pauses (engine, since) VALUES (:engine, :since)
ON CONFLICT (engine) DO NOTHING

-- name: get_pause
SELECT engine, since FROM queue_pauses WHERE engine = :engine

-- name: delete_pause
DELETE FROM queue_pauses WHERE engine = :engine

-- name: list_pauses
SELECT engine, since FROM queue_pauses ORDER BY engine

-- name: put_drain
INSERT INTO worker_drains (worker_id, requested_at) VALUES (:worker_id, :now)
ON CONFLICT (worker_id) DO NOTHING

-- name: take_drain
DELETE FROM worker_drains WHERE worker_id = :worker_id
-- ---------------------------------------------------------------- lexicons

-- name: lexicon_by_id
SELECT * FROM lexicons WHERE id = :id

-- name: count_user_lexicons
SELECT count(*) FROM lexicons WHERE user_id = :user_id

-- name: insert_lexicon
INSERT INTO lexicons (id, user_id, name, entries, created_at, updated_at)
VALUES (:id, :user_id, :name, :entries, :created_at, :updated_at)

-- name: update_lexicon
UPDATE lexicons SET name = :name, entries = :entries, updated_at = :updated_at
WHERE id = :id AND user_id = :user_id

-- name: lexicons_of_user
SELECT * FROM lexicons WHERE user_id = :user_id ORDER BY created_at, id

-- name: all_lexicons
SELECT * FROM lexicons ORDER BY created_at, id

-- name: delete_lexicon
DELETE FROM lexicons WHERE id = :id
