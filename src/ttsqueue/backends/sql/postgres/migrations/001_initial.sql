-- The whole queue in one PostgreSQL schema: jobs, their tasks, events, users (fairness
-- and caps), workers and API keys, plus the functions that make each hot-path call one
-- round trip. Every function pins search_path to the schema it was created in, so it
-- can be called schema-qualified from a connection with any search_path (transactional
-- enqueue on the caller's connection).
--
-- Lock order, kept by every function so that they never deadlock each other:
-- the claim counter, then task rows (ascending id), then job rows (ascending id),
-- then user rows. Claims take task rows with SKIP LOCKED, so they never wait on a task.

CREATE TABLE claim_counter (
    id    integer PRIMARY KEY CHECK (id = 1),
    value bigint  NOT NULL
);
INSERT INTO claim_counter (id, value) VALUES (1, 0);

-- One row per job owner: round-robin state and the concurrency cap.
CREATE TABLE users (
    user_id         text    PRIMARY KEY,
    last_served     bigint  NOT NULL DEFAULT 0,
    max_concurrency integer NOT NULL
) WITH (fillfactor = 50);  -- room for in-page (HOT) updates of last_served

-- No index of jobs names a column that the hot path changes (status, progress,
-- counters), and pages keep room: claiming, completing and heartbeats update a job in
-- its page (HOT) without writing any index entry. Listing by status filters a scan of
-- the user's jobs or of the primary key instead.
CREATE TABLE jobs (
    id                 text    COLLATE "C" PRIMARY KEY,
    seq                bigint  GENERATED ALWAYS AS IDENTITY,  -- enqueue order (FIFO)
    user_id            text    NOT NULL,
    status             text    NOT NULL,
    priority           integer NOT NULL,
    title              text    NOT NULL,
    author             text    NOT NULL,
    work_id            text,
    voice              jsonb   NOT NULL,
    output_format      text    NOT NULL,
    total_chapters     integer NOT NULL,
    completed_chapters integer NOT NULL DEFAULT 0,
    progress_percent   double precision NOT NULL DEFAULT 0,
    progress_message   text    NOT NULL DEFAULT '',
    current_chapter    integer,
    attempts           integer NOT NULL DEFAULT 0,
    error              text,
    idempotency_key    text,
    max_attempts       integer NOT NULL,
    created_at         double precision NOT NULL,
    updated_at         double precision NOT NULL,
    run_at             double precision,
    started_at         double precision,
    finished_at        double precision,
    result             jsonb,
    metadata           jsonb   NOT NULL,
    event_seq          integer NOT NULL DEFAULT 0  -- last event seq: gap-free per job
) WITH (fillfactor = 60);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_user ON jobs (user_id, id);
-- prune: finished jobs by age (finished_at is set once, when the job ends)
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- reap: delayed jobs not finished yet (the scheduled ones among them are promoted)
CREATE INDEX jobs_delayed ON jobs (run_at) WHERE run_at IS NOT NULL AND finished_at IS NULL;
-- the cap on unfinished jobs per user: enqueue and retry count the owner's unfinished
-- jobs by this index (finished_at changes once per job, when it ends: no hot-path update
-- of a running job touches it)
CREATE INDEX jobs_user_active ON jobs (user_id) WHERE finished_at IS NULL;

CREATE TABLE tasks (
    id               text    COLLATE "C" PRIMARY KEY,
    job_id           text    COLLATE "C" NOT NULL,  -- jobs_delete_rows cascades
    job_seq          bigint  NOT NULL,  -- the job's enqueue order, for FIFO
    idx              integer NOT NULL,
    kind             text    NOT NULL,
    user_id          text    NOT NULL,
    priority         integer NOT NULL,
    status           text    NOT NULL,
    run_at           double precision NOT NULL,
    title            text    NOT NULL,
    payload          jsonb   NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    token            bigint  NOT NULL DEFAULT 0,
    lease_expires_at double precision,
    worker_id        text,
    progress         double precision NOT NULL DEFAULT 0,
    error            text,
    result           jsonb,
    started_at       double precision,
    finished_at      double precision
);

CREATE UNIQUE INDEX tasks_job ON tasks (job_id, idx);
-- claim: one user's best runnable task, one user's FIFO head, users with pending work
CREATE INDEX tasks_pending_user ON tasks (user_id, priority DESC, job_seq, idx)
    WHERE status = 'pending';
CREATE INDEX tasks_pending_user_fifo ON tasks (user_id, job_seq, idx)
    WHERE status = 'pending';
-- the user cap: running tasks per user
CREATE INDEX tasks_running_user ON tasks (user_id) WHERE status = 'running';
-- reap: expired leases
CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';
-- stats: the oldest due task
CREATE INDEX tasks_pending_due ON tasks (run_at) WHERE status = 'pending';

CREATE TABLE events (
    id      bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- store-wide order
    job_id  text    COLLATE "C" NOT NULL,  -- jobs_delete_rows cascades
    user_id text    NOT NULL,
    seq     integer NOT NULL,
    type    text    NOT NULL,
    data    jsonb   NOT NULL,
    at      double precision NOT NULL,
    UNIQUE (job_id, seq)
);

CREATE TABLE workers (
    id           text    PRIMARY KEY,
    host         text    NOT NULL,
    pid          integer NOT NULL,
    version      text    NOT NULL,
    concurrency  integer NOT NULL,
    tasks        jsonb   NOT NULL,
    started_at   double precision NOT NULL,
    last_seen_at double precision NOT NULL
);

CREATE TABLE api_keys (
    id         text    PRIMARY KEY,
    key_hash   text    NOT NULL UNIQUE,
    user_id    text    NOT NULL,
    premium    boolean NOT NULL,
    admin      boolean NOT NULL,
    label      text    NOT NULL,
    created_at double precision NOT NULL
);

-- Job and task counts by status, kept as append-only deltas (no hot row to contend on)
-- and folded together by tq_fold_counts(); stats() sums them.
CREATE TABLE status_counts (
    kind   text    NOT NULL,  -- 'job' or 'task'
    status text    NOT NULL,
    n      bigint  NOT NULL
);
CREATE INDEX status_counts_kind ON status_counts (kind, status);

-- ------------------------------------------------------------------ helpers

CREATE FUNCTION tq_now() RETURNS double precision
LANGUAGE sql VOLATILE
AS $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;

CREATE FUNCTION tq_progress(total integer, done integer, running double precision,
                            completed boolean) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN completed THEN 100.0
        WHEN total <= 0 THEN 0.0
        ELSE least(99.0, round((100.0 * (done + running) / total)::numeric, 1)::double precision)
    END
$$;

CREATE FUNCTION tq_chapter_message(p_idx integer, p_total integer, p_title text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'Chapter ' || (p_idx + 1) || ' of ' || p_total
        || CASE WHEN p_title <> '' THEN ': ' || p_title ELSE '' END
$$;

-- Notify listeners of this schema that work may be runnable: once per statement that
-- inserted or updated tasks to pending, or finished a task whose owner has pending
-- tasks (their cap has room again: an idle worker whose last claim found every owner
-- at their cap claims now, not at its next poll). A hint: a spurious one is harmless.
CREATE FUNCTION tq_notify_work() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- the owner's pending tasks by index, whoever planned it first
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'pending')
       OR EXISTS (SELECT 1 FROM new_rows n
                  WHERE n.status IN ('completed', 'failed', 'cancelled')
                    AND EXISTS (SELECT 1 FROM tasks p
                                WHERE p.user_id = n.user_id AND p.status = 'pending')) THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.work', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_work_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_notify_work();
CREATE TRIGGER tasks_work_update AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_notify_work();

-- Publish the ids of the events a statement appended, up to 300 per notification:
-- the payload is "<largest id>|{"ids": [...]}"; a listener with subscribers fetches
-- them by id (by key). Building the events' JSON here cost as much as inserting them.
CREATE FUNCTION tq_notify_event() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.events', g.payload)
    FROM (
        SELECT max(b.id) || '|{"ids": [' || string_agg(b.id::text, ',' ORDER BY b.id) || ']}'
                   AS payload
        FROM (SELECT n.id, (row_number() OVER (ORDER BY n.id) - 1) / 300 AS chunk
              FROM new_rows n) b
        GROUP BY b.chunk
        ORDER BY b.chunk
    ) g;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_notify_event();

-- Deleting a job deletes its tasks and events (a statement-level cascade: foreign keys
-- would cost a check per inserted task and event on the hot path).
CREATE FUNCTION tq_delete_job_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
BEGIN
    DELETE FROM tasks WHERE job_id IN (SELECT o.id FROM old_rows o);
    DELETE FROM events WHERE job_id IN (SELECT o.id FROM old_rows o);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_delete_rows AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_delete_job_rows();

-- Status count deltas from each statement's transition tables.
-- The trigger's argument (TG_ARGV[0]) names the kind of row: 'job' or 'task'.
CREATE FUNCTION tq_count_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO status_counts (kind, status, n)
        SELECT TG_ARGV[0], status, count(*) FROM new_rows GROUP BY status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO status_counts (kind, status, n)
        SELECT TG_ARGV[0], status, -count(*) FROM old_rows GROUP BY status;
    ELSE
        INSERT INTO status_counts (kind, status, n)
        SELECT TG_ARGV[0], status, sum(n) FROM (
            SELECT status, 1 AS n FROM new_rows
            UNION ALL SELECT status, -1 FROM old_rows
        ) d GROUP BY status HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('job');
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('job');
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('job');
CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('task');
CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('task');
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_count_rows('task');

-- Fold the deltas into one row per (kind, status); run by the reaper.
CREATE FUNCTION tq_fold_counts() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    WITH gone AS (DELETE FROM status_counts RETURNING kind, status, n)
    INSERT INTO status_counts (kind, status, n)
    SELECT kind, status, sum(n) FROM gone GROUP BY kind, status HAVING sum(n) <> 0;
END
$$;

-- Append an event to a job (whose row the caller has locked or is updating).
CREATE FUNCTION tq_event(p_job text, p_type text, p_data jsonb, p_now double precision)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_seq integer;
    v_user text;
BEGIN
    UPDATE jobs SET event_seq = event_seq + 1 WHERE id = p_job
    RETURNING event_seq, user_id INTO v_seq, v_user;
    INSERT INTO events (job_id, user_id, seq, type, data, at)
    VALUES (p_job, v_user, v_seq, p_type, p_data, p_now);
END
$$;

-- Recompute a job's progress from its tasks.
CREATE FUNCTION tq_refresh_progress(p_job text) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT
AS $$
    UPDATE jobs j SET progress_percent = tq_progress(
        j.total_chapters, j.completed_chapters,
        coalesce((SELECT sum(t.progress) FROM (  -- the job's own tasks, by key
                      SELECT s.progress, s.status, s.kind FROM tasks s
                      WHERE s.job_id = j.id OFFSET 0) t
                  WHERE t.status = 'running' AND t.kind = 'synthesize'), 0),
        j.status = 'completed')
    WHERE j.id = p_job
$$;

-- ------------------------------------------------------------------ enqueue

-- Raise TQ429 (detail: JSON user_id, active, limit) when a spec that would be
-- inserted (no idempotency key, or a key new to the store and first in the batch) finds
-- its owner at its max_active_jobs, counting the batch's earlier inserts. The caller
-- holds the owners' rows.
CREATE FUNCTION tq_check_active(p_specs jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- the owners' unfinished jobs by index, whatever the statistics
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
DECLARE
    v_over record;
BEGIN
    WITH s AS (
        SELECT x.o, x.s->>'user_id' AS user_id, x.s->>'idempotency_key' AS idem,
               (x.s->>'max_active_jobs')::integer AS cap
        FROM jsonb_array_elements(p_specs) WITH ORDINALITY AS x(s, o)
    ), made AS (  -- the specs that insert a job, numbered per owner in batch order
        SELECT s.*, row_number() OVER (PARTITION BY s.user_id ORDER BY s.o) AS k
        FROM s
        WHERE s.idem IS NULL
           OR (s.o = (SELECT min(d.o) FROM s d WHERE d.user_id = s.user_id AND d.idem = s.idem)
               AND NOT EXISTS (SELECT 1 FROM jobs j
                               WHERE j.user_id = s.user_id AND j.idempotency_key = s.idem))
    ), owners AS (
        SELECT o.user_id, (SELECT count(*) FROM jobs j
                           WHERE j.user_id = o.user_id AND j.finished_at IS NULL) AS n
        FROM (SELECT DISTINCT m.user_id FROM made m WHERE m.cap IS NOT NULL) o
    )
    SELECT m.user_id, w.n + m.k - 1 AS active, m.cap INTO v_over
    FROM made m JOIN owners w ON w.user_id = m.user_id
    WHERE m.cap IS NOT NULL AND w.n + m.k - 1 >= m.cap
    ORDER BY m.o LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'too many unfinished jobs' USING ERRCODE = 'TQ429',
            DETAIL = jsonb_build_object('user_id', v_over.user_id, 'active', v_over.active,
                                        'limit', v_over.cap)::text;
    END IF;
END
$$;

-- Insert books (a JSON array of specs) in order, set-based; returns each spec's job row
-- and whether it was created (False: the idempotency key matched an existing job, or
-- an earlier spec of the same batch), so that an enqueue is one statement and one
-- round trip.
CREATE FUNCTION tq_enqueue(p_specs jsonb)
RETURNS TABLE (ord integer, created boolean, job jobs)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- key lookups only, whatever the table statistics say
SET plan_cache_mode = force_generic_plan  -- planned once per connection, not per call
SET jit = off  -- compiling costs milliseconds per call, more than these statements run
AS $$
DECLARE
    v_now  double precision := tq_now();
    v_made integer[];
BEGIN
    -- the owners in key order (the lock order); a user's last spec sets their cap
    INSERT INTO users AS u (user_id, max_concurrency)
    SELECT DISTINCT ON (x.s->>'user_id') x.s->>'user_id', (x.s->>'max_concurrency')::integer
    FROM jsonb_array_elements(p_specs) WITH ORDINALITY AS x(s, o)
    ORDER BY x.s->>'user_id', x.o DESC
    ON CONFLICT (user_id) DO UPDATE SET max_concurrency = excluded.max_concurrency;
    -- The cap on unfinished jobs. The owners' rows are locked now (above) until commit,
    -- so a concurrent enqueue or retry of theirs waits, and counts after this one.
    IF jsonb_path_exists(p_specs, '$[*] ? (@.max_active_jobs != null)') THEN
        PERFORM tq_check_active(p_specs);
    END IF;
    WITH s AS (
        SELECT x.o::integer AS o, x.s, x.s->>'id' AS id, x.s->>'user_id' AS user_id,
               (x.s->>'priority')::integer AS priority,
               (x.s->>'max_attempts')::integer AS max_attempts,
               (x.s->>'run_at')::double precision AS run,
               jsonb_array_length(x.s->'chapters') AS n
        FROM jsonb_array_elements(p_specs) WITH ORDINALITY AS x(s, o)
    ), firsts AS (  -- a key repeated within the batch: only its first spec is inserted
        SELECT s.* FROM s WHERE s.s->>'idempotency_key' IS NULL
        UNION ALL
        SELECT k.* FROM (
            SELECT DISTINCT ON (s.user_id, s.s->>'idempotency_key') s.* FROM s
            WHERE s.s->>'idempotency_key' IS NOT NULL
            ORDER BY s.user_id, s.s->>'idempotency_key', s.o
        ) k
    ), ins AS (
        INSERT INTO jobs AS j (id, user_id, status, priority, title, author, work_id, voice,
                               output_format, total_chapters, idempotency_key, max_attempts,
                               created_at, updated_at, run_at, metadata, event_seq)
        SELECT f.id, f.user_id,
               CASE WHEN f.run > v_now THEN 'scheduled' ELSE 'queued' END,
               f.priority, f.s->>'title', f.s->>'author', f.s->>'work_id', f.s->'voice',
               f.s->>'output_format', f.n, f.s->>'idempotency_key', f.max_attempts,
               v_now, v_now, f.run, f.s->'metadata', 1
        FROM firsts f ORDER BY f.o
        ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING j.id, j.seq
    ), made AS (
        SELECT s.*, ins.seq, coalesce(s.run, v_now) AS due FROM ins JOIN s ON s.id = ins.id
    ), tasks_in AS (
        INSERT INTO tasks (id, job_id, job_seq, idx, kind, user_id, priority, status, run_at,
                           title, payload, max_attempts)
        SELECT m.id || '.' || (c.i - 1), m.id, m.seq, c.i - 1, 'synthesize', m.user_id,
               m.priority, 'pending', m.due, c.ch->>'title',
               jsonb_build_object('title', c.ch->>'title', 'text', c.ch->>'text',
                                  'voice', m.s->'voice',
                                  'output_format', m.s->>'output_format'),
               m.max_attempts
        FROM made m CROSS JOIN LATERAL
             jsonb_array_elements(m.s->'chapters') WITH ORDINALITY AS c(ch, i)
        UNION ALL
        SELECT m.id || '.' || m.n, m.id, m.seq, m.n, 'assemble', m.user_id, m.priority,
               'waiting', m.due, m.s->>'title',
               jsonb_build_object(
                   'title', m.s->>'title', 'author', m.s->>'author',
                   'output_format', m.s->>'output_format',
                   'chapter_titles', (SELECT coalesce(jsonb_agg(e->'title' ORDER BY k), '[]')
                                      FROM jsonb_array_elements(m.s->'chapters')
                                           WITH ORDINALITY AS x(e, k))),
               m.max_attempts
        FROM made m
    ), events_in AS (
        INSERT INTO events (job_id, user_id, seq, type, data, at)
        SELECT m.id, m.user_id, 1,
               CASE WHEN m.run > v_now THEN 'job.scheduled' ELSE 'job.queued' END,
               CASE WHEN m.run > v_now THEN jsonb_build_object('run_at', m.run)
                    ELSE jsonb_build_object('priority', m.priority, 'total_chapters', m.n)
               END,
               v_now
        FROM made m ORDER BY m.o
    )
    SELECT coalesce(array_agg(m.o), '{}') INTO v_made FROM made m;
    -- a spec whose key matched returns the job holding that key (committed, or ours)
    RETURN QUERY
        SELECT x.o::integer, x.o = ANY(v_made), j
        FROM jsonb_array_elements(p_specs) WITH ORDINALITY AS x(s, o)
        JOIN jobs j ON j.id = CASE WHEN x.o = ANY(v_made) THEN x.s->>'id' ELSE (
                   SELECT k.id FROM jobs k
                   WHERE k.user_id = x.s->>'user_id'
                     AND k.idempotency_key = x.s->>'idempotency_key') END
        ORDER BY x.o;
END
$$;

-- ------------------------------------------------------------------ failing and reaping

-- Fail a job because its task failed for good: the task failed, every other unfinished
-- task cancelled, event job.failed. The caller holds the job's task rows.
CREATE FUNCTION tq_fail_job(p_task text, p_error text, p_now double precision)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_job text;
    v_idx integer;
BEGIN
    UPDATE tasks SET status = 'failed', error = p_error, finished_at = p_now,
                     lease_expires_at = NULL
    WHERE id = p_task RETURNING job_id, idx INTO v_job, v_idx;
    UPDATE tasks SET status = 'cancelled', finished_at = p_now, lease_expires_at = NULL
    WHERE job_id = v_job AND status IN ('waiting', 'pending', 'running');
    UPDATE jobs SET status = 'failed', error = p_error, finished_at = p_now, updated_at = p_now
    WHERE id = v_job;
    PERFORM tq_refresh_progress(v_job);
    PERFORM tq_event(v_job, 'job.failed',
                     jsonb_build_object('error', p_error, 'index', v_idx), p_now);
END
$$;

-- Back to pending at p_retry_at with the error kept (event task.retrying).
CREATE FUNCTION tq_requeue(p_task text, p_error text, p_retry_at double precision,
                           p_now double precision)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_job text;
    v_idx integer;
    v_attempts integer;
BEGIN
    UPDATE tasks SET status = 'pending', run_at = p_retry_at, error = p_error, progress = 0,
                     lease_expires_at = NULL
    WHERE id = p_task RETURNING job_id, idx, attempts INTO v_job, v_idx, v_attempts;
    UPDATE jobs SET updated_at = p_now WHERE id = v_job;
    PERFORM tq_refresh_progress(v_job);
    PERFORM tq_event(v_job, 'task.retrying', jsonb_build_object(
        'index', v_idx, 'attempt', v_attempts, 'error', p_error, 'retry_at', p_retry_at), p_now);
END
$$;

-- Take back expired leases (pending again, or the job failed when attempts are spent).
CREATE FUNCTION tq_take_back_expired(p_now double precision)
RETURNS TABLE (requeued integer, failed integer)
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_task record;
BEGIN
    requeued := 0;
    failed := 0;
    IF NOT EXISTS (SELECT 1 FROM tasks WHERE status = 'running'
                   AND lease_expires_at <= p_now) THEN
        RETURN NEXT;
        RETURN;
    END IF;
    -- lock every task of the jobs concerned, then the jobs, in the global order
    PERFORM 1 FROM tasks WHERE job_id IN (
        SELECT e.job_id FROM tasks e WHERE e.status = 'running' AND e.lease_expires_at <= p_now)
    ORDER BY id FOR UPDATE;
    PERFORM 1 FROM jobs WHERE id IN (
        SELECT e.job_id FROM tasks e WHERE e.status = 'running' AND e.lease_expires_at <= p_now)
    ORDER BY id FOR UPDATE;
    FOR v_task IN
        SELECT id, attempts, max_attempts FROM tasks
        WHERE status = 'running' AND lease_expires_at <= p_now ORDER BY id
    LOOP
        -- a sibling's final failure may have cancelled it meanwhile
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM tasks WHERE id = v_task.id
                                  AND status = 'running');
        IF v_task.attempts < v_task.max_attempts THEN
            PERFORM tq_requeue(v_task.id, 'lease expired', p_now, p_now);
            requeued := requeued + 1;
        ELSE
            PERFORM tq_fail_job(v_task.id, 'lease expired', p_now);
            failed := failed + 1;
        END IF;
    END LOOP;
    RETURN NEXT;
END
$$;

CREATE FUNCTION tq_reap()
RETURNS TABLE (requeued integer, failed integer)
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now double precision := tq_now();
    v_job record;
BEGIN
    SELECT r.requeued, r.failed INTO requeued, failed FROM tq_take_back_expired(v_now) r;
    FOR v_job IN
        SELECT id, priority, total_chapters FROM jobs
        WHERE run_at <= v_now AND finished_at IS NULL AND status = 'scheduled'
        ORDER BY id FOR UPDATE SKIP LOCKED
    LOOP
        UPDATE jobs SET status = 'queued', updated_at = v_now WHERE id = v_job.id;
        PERFORM tq_event(v_job.id, 'job.queued', jsonb_build_object(
            'priority', v_job.priority, 'total_chapters', v_job.total_chapters), v_now);
    END LOOP;
    PERFORM tq_fold_counts();
    RETURN NEXT;
END
$$;

-- ------------------------------------------------------------------ claim

-- The claim order of backends/base.py for a whole batch in one pass. Claimers are
-- serialized by the claim counter row (so the per-user cap holds and the counter has no
-- gaps). The slots are chosen from a small candidate set: for each user with room
-- (cap minus running tasks, at most the batch), their first `room` runnable tasks in
-- priority order and, when a starvation slot falls in this batch, in FIFO order; no
-- sequence of slots can reach further into one user's queue. A recursive query then
-- walks the slots over that set in memory, applying exactly the per-slot rule of
-- base.py with each user's last_served and room as they change slot by slot. The
-- picked tasks are then locked with SKIP LOCKED: when another transaction holds one
-- (or changed it meanwhile), it is left out and the slots are chosen again, as the
-- slot-by-slot SKIP LOCKED walk would have done. A limit of 0 claims nothing and takes
-- no lock but runs every statement once, so that a new connection plans them up front.
CREATE FUNCTION tq_claim(p_worker text, p_limit integer, p_lease double precision,
                         p_starve integer)
RETURNS TABLE (id text, token bigint, job_id text, user_id text, kind text, idx integer,
               attempt integer, max_attempts integer, lease_expires_at double precision,
               payload jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- key lookups only, whatever the table statistics say
SET plan_cache_mode = force_generic_plan  -- planned once per connection, not per call
SET jit = off  -- compiling costs milliseconds per call, more than these statements run
AS $$
DECLARE
    v_counter bigint;
    v_now     double precision;
    v_fifo    boolean;
    v_ids     text[];
    v_users   text[];
    v_locked  text[];
    v_skip    text[] := '{}';
    v_jobs    text[];
    v_fresh   boolean[];
BEGIN
    IF p_limit < 0 THEN
        RETURN;
    ELSIF p_limit = 0 THEN  -- warming up
        SELECT c.value INTO v_counter FROM claim_counter c WHERE c.id = 1;
    ELSE
        SELECT c.value INTO v_counter FROM claim_counter c WHERE c.id = 1 FOR UPDATE;
    END IF;
    v_now := tq_now();
    IF EXISTS (SELECT 1 FROM tasks t WHERE t.status = 'running'
               AND t.lease_expires_at <= v_now) THEN
        PERFORM tq_take_back_expired(v_now);
    END IF;
    -- whether a starvation (FIFO-only) slot falls within this batch
    v_fifo := p_starve > 0 AND v_counter / p_starve <> (v_counter + p_limit) / p_starve;
    LOOP
        WITH RECURSIVE pu(user_id, id, priority, job_seq, idx, run_at) AS (
            -- the users with pending tasks, each with their first one in priority
            -- order: one probe of the index per user
            (SELECT t.user_id, t.id, t.priority, t.job_seq, t.idx, t.run_at FROM tasks t
             WHERE t.status = 'pending'
             ORDER BY t.user_id, t.priority DESC, t.job_seq, t.idx LIMIT 1)
            UNION ALL
            SELECT nx.* FROM pu CROSS JOIN LATERAL (
                SELECT t.user_id, t.id, t.priority, t.job_seq, t.idx, t.run_at FROM tasks t
                WHERE t.status = 'pending' AND t.user_id > pu.user_id
                ORDER BY t.user_id, t.priority DESC, t.job_seq, t.idx LIMIT 1) nx
        ), heads AS MATERIALIZED (  -- each user's best and FIFO-first runnable task
            SELECT u.user_id, u.last_served, u.max_concurrency,
                   h.priority AS h_priority, h.job_seq AS h_seq, h.idx AS h_idx,
                   f.job_seq AS f_seq, f.idx AS f_idx
            FROM pu JOIN users u ON u.user_id = pu.user_id
            CROSS JOIN LATERAL (  -- the walk's task when runnable, else a search
                (SELECT pu.priority, pu.job_seq, pu.idx
                 WHERE pu.run_at <= v_now AND pu.id <> ALL(v_skip))
                UNION ALL
                (SELECT t.priority, t.job_seq, t.idx FROM tasks t
                 WHERE t.user_id = u.user_id AND t.status = 'pending'
                   AND t.run_at <= v_now AND t.id <> ALL(v_skip)
                 ORDER BY t.priority DESC, t.job_seq, t.idx LIMIT 1)
                LIMIT 1) h
            LEFT JOIN LATERAL (
                SELECT t.job_seq, t.idx FROM tasks t
                WHERE v_fifo AND t.user_id = u.user_id AND t.status = 'pending'
                  AND t.run_at <= v_now AND t.id <> ALL(v_skip)
                ORDER BY t.job_seq, t.idx LIMIT 1) f ON true
        ), us AS MATERIALIZED (
            -- Only the first p_limit users with room, by their head task, can be
            -- served: a user nobody served keeps their head and last_served, so while
            -- fewer than p_limit slots are taken, one of the first p_limit is still
            -- unserved and comes before every user further down (by priority order,
            -- and by FIFO order for the starvation slots). Users are taken in that
            -- order and their running tasks counted until p_limit have room.
            SELECT (row_number() OVER ())::integer AS uid, x.user_id, x.last_served, x.room
            FROM (
                (SELECT hd.user_id, hd.last_served,
                        least(p_limit, hd.max_concurrency - r.n)::integer AS room
                 FROM (SELECT * FROM heads ORDER BY h_priority DESC, last_served, h_seq, h_idx
                       OFFSET 0) hd  -- sorted first: counted in order, until p_limit
                 CROSS JOIN LATERAL (
                     SELECT count(*) AS n FROM tasks r
                     WHERE r.user_id = hd.user_id AND r.status = 'running') r
                 WHERE hd.max_concurrency > r.n
                 ORDER BY hd.h_priority DESC, hd.last_served, hd.h_seq, hd.h_idx
                 LIMIT p_limit)
                UNION
                (SELECT hd.user_id, hd.last_served,
                        least(p_limit, hd.max_concurrency - r.n)::integer AS room
                 FROM (SELECT * FROM heads WHERE v_fifo ORDER BY f_seq, f_idx OFFSET 0) hd
                 CROSS JOIN LATERAL (
                     SELECT count(*) AS n FROM tasks r
                     WHERE r.user_id = hd.user_id AND r.status = 'running') r
                 WHERE hd.max_concurrency > r.n
                 ORDER BY hd.f_seq, hd.f_idx
                 LIMIT p_limit)
            ) x
        ), cand AS MATERIALIZED (
            SELECT (row_number() OVER ())::integer AS cid, us.uid, c.id, c.priority,
                   c.job_seq, c.idx
            FROM us CROSS JOIN LATERAL (
                (SELECT t.id, t.priority, t.job_seq, t.idx FROM tasks t
                 WHERE t.user_id = us.user_id AND t.status = 'pending'
                   AND t.run_at <= v_now AND t.id <> ALL(v_skip)
                 ORDER BY t.priority DESC, t.job_seq, t.idx LIMIT us.room)
                UNION
                (SELECT t.id, t.priority, t.job_seq, t.idx FROM tasks t
                 WHERE v_fifo AND t.user_id = us.user_id AND t.status = 'pending'
                   AND t.run_at <= v_now AND t.id <> ALL(v_skip)
                 ORDER BY t.job_seq, t.idx LIMIT us.room)
            ) c
        ), sim(n, k, cid, uid, taken, ls, room) AS (
            SELECT 0, v_counter, NULL::integer, NULL::integer,
                   (SELECT repeat('0', count(*)::integer)::varbit FROM cand),  -- taken
                   (SELECT array_agg(us.last_served ORDER BY us.uid) FROM us),
                   (SELECT array_agg(us.room ORDER BY us.uid) FROM us)
            UNION ALL
            SELECT s.n + 1, s.k + 1, p.cid, p.uid, set_bit(s.taken, p.cid - 1, 1),
                   s.ls[:p.uid - 1] || (s.k + 1) || s.ls[p.uid + 1:],
                   s.room[:p.uid - 1] || (s.room[p.uid] - 1) || s.room[p.uid + 1:]
            FROM sim s CROSS JOIN LATERAL (
                -- a starvation slot is FIFO only; any other slot is priority, then
                -- the user served least recently, then FIFO (one branch runs per slot)
                (SELECT c.cid, c.uid FROM cand c
                 WHERE NOT (p_starve > 0 AND (s.k + 1) % p_starve = 0)
                   AND s.room[c.uid] > 0 AND get_bit(s.taken, c.cid - 1) = 0
                 ORDER BY c.priority DESC, s.ls[c.uid], c.job_seq, c.idx
                 LIMIT 1)
                UNION ALL
                (SELECT c.cid, c.uid FROM cand c
                 WHERE p_starve > 0 AND (s.k + 1) % p_starve = 0
                   AND s.room[c.uid] > 0 AND get_bit(s.taken, c.cid - 1) = 0
                 ORDER BY c.job_seq, c.idx
                 LIMIT 1)
            ) p
            WHERE s.n < p_limit
        )
        SELECT coalesce(array_agg(c.id ORDER BY s.n), '{}'),
               coalesce(array_agg(us.user_id ORDER BY s.n), '{}')
        INTO v_ids, v_users
        FROM sim s JOIN cand c ON c.cid = s.cid JOIN us ON us.uid = s.uid;
        SELECT coalesce(array_agg(l.id), '{}') INTO v_locked FROM (
            SELECT t.id, t.status, t.run_at FROM tasks t WHERE t.id = ANY(v_ids)
            ORDER BY t.id OFFSET 0 FOR UPDATE SKIP LOCKED  -- by key, filtered after
        ) l
        WHERE l.status = 'pending' AND l.run_at <= v_now;  -- as of the lock
        EXIT WHEN cardinality(v_locked) = cardinality(v_ids);
        v_skip := v_skip || ARRAY(SELECT x FROM unnest(v_ids) AS x WHERE x <> ALL(v_locked));
    END LOOP;
    IF cardinality(v_ids) = 0 AND p_limit > 0 THEN
        RETURN;
    END IF;
    UPDATE tasks t SET status = 'running', attempts = t.attempts + 1, token = t.token + 1,
                       lease_expires_at = v_now + p_lease, worker_id = p_worker,
                       progress = 0, started_at = coalesce(t.started_at, v_now)
    WHERE t.id = ANY(v_ids);
    IF p_limit > 0 THEN
        UPDATE claim_counter c SET value = v_counter + cardinality(v_ids) WHERE c.id = 1;
    END IF;
    -- the jobs, in the global lock order, and whether each is claimed for the first time
    SELECT coalesce(array_agg(j.id ORDER BY j.id), '{}'),
           coalesce(array_agg(j.status IN ('queued', 'scheduled') ORDER BY j.id), '{}')
    INTO v_jobs, v_fresh
    FROM (
        SELECT j.id, j.status FROM jobs j
        WHERE j.id = ANY(ARRAY(SELECT t.job_id FROM unnest(v_ids) AS x(id)
                               JOIN tasks t ON t.id = x.id))
        ORDER BY j.id FOR UPDATE
    ) j;
    WITH c AS (
        SELECT t.job_id, t.kind, t.idx, t.title, t.attempts, x.o
        FROM unnest(v_ids) WITH ORDINALITY AS x(id, o)
        JOIN tasks t ON t.id = x.id
    ), pj AS (
        SELECT c.job_id, count(*) AS n,
               count(*) FILTER (WHERE c.kind = 'synthesize') AS started,
               (array_agg(c.idx ORDER BY c.o DESC)
                    FILTER (WHERE c.kind = 'synthesize'))[1] AS last_idx,
               (array_agg(c.title ORDER BY c.o DESC)
                    FILTER (WHERE c.kind = 'synthesize'))[1] AS last_title,
               f.fresh
        FROM c JOIN unnest(v_jobs, v_fresh) AS f(job_id, fresh) ON f.job_id = c.job_id
        GROUP BY c.job_id, f.fresh
    ), upd AS (
        UPDATE jobs j SET
            attempts = j.attempts + pj.n,
            updated_at = v_now,
            status = CASE WHEN pj.fresh THEN 'processing' ELSE j.status END,
            started_at = CASE WHEN pj.fresh THEN coalesce(j.started_at, v_now)
                              ELSE j.started_at END,
            current_chapter = coalesce(pj.last_idx + 1, j.current_chapter),
            progress_message = CASE WHEN pj.last_idx IS NULL THEN j.progress_message
                ELSE 'Chapter ' || (pj.last_idx + 1) || ' of ' || j.total_chapters
                     || CASE WHEN pj.last_title <> '' THEN ': ' || pj.last_title ELSE '' END
                END,  -- as tq_chapter_message(), inline (no call per row)
            -- progress_percent stays: a claimed task starts at progress 0
            event_seq = j.event_seq + pj.started + pj.fresh::integer
        FROM pj
        WHERE j.id = ANY(v_jobs) AND j.id = pj.job_id
        RETURNING j.id, j.user_id, j.event_seq - pj.started - pj.fresh::integer AS base
    ), ev AS (
        SELECT pj.job_id, 0::bigint AS o, 'job.processing' AS type, '{}'::jsonb AS data
        FROM pj WHERE pj.fresh
        UNION ALL
        SELECT c.job_id, c.o, 'chapter.started', jsonb_build_object(
            'index', c.idx, 'title', c.title, 'attempt', c.attempts, 'worker_id', p_worker)
        FROM c WHERE c.kind = 'synthesize'
    )
    INSERT INTO events (job_id, user_id, seq, type, data, at)
    SELECT ev.job_id, upd.user_id,
           upd.base + row_number() OVER (PARTITION BY ev.job_id ORDER BY ev.o),
           ev.type, ev.data, v_now
    FROM ev JOIN upd ON upd.id = ev.job_id
    ORDER BY ev.job_id, ev.o;
    -- the owners' round-robin state, in the global lock order (users last)
    PERFORM 1 FROM users u WHERE u.user_id = ANY(v_users) ORDER BY u.user_id FOR UPDATE;
    UPDATE users u SET last_served = x.k
    FROM (SELECT l.user_id, max(v_counter + l.o) AS k
          FROM unnest(v_users) WITH ORDINALITY AS l(user_id, o) GROUP BY l.user_id) x
    WHERE u.user_id = ANY(v_users) AND u.user_id = x.user_id;
    RETURN QUERY
        SELECT t.id, t.token, t.job_id, t.user_id, t.kind, t.idx, t.attempts, t.max_attempts,
               t.lease_expires_at, t.payload
        FROM unnest(v_ids) WITH ORDINALITY AS c(id, o)
        JOIN tasks t ON t.id = c.id
        ORDER BY c.o;
END
$$;

-- ------------------------------------------------------------------ heartbeat

-- Extend held leases and record progress; one row per lease: 'extended', 'cancelled'
-- or 'lost'.
CREATE FUNCTION tq_heartbeat(p_ids text[], p_tokens bigint[], p_lease double precision,
                             p_prog_ids text[], p_prog double precision[])
RETURNS TABLE (id text, state text)
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- key lookups only, whatever the table statistics say
SET plan_cache_mode = force_generic_plan  -- planned once per connection, not per call
SET jit = off  -- compiling costs milliseconds per call, more than these statements run
AS $$
DECLARE
    v_now   double precision := tq_now();
    v_ext   text[];
    v_moved text[];
BEGIN
    PERFORM 1 FROM tasks t WHERE t.id = ANY(p_ids) ORDER BY t.id FOR UPDATE;
    WITH held AS (
        -- (greatest() skips NULLs: a task sent without progress must stay NULL here)
        SELECT t.id, t.progress AS old,
               CASE WHEN p.value IS NOT NULL THEN least(1.0, greatest(0.0, p.value)) END
                   AS new
        FROM unnest(p_ids, p_tokens) AS l(id, token)
        CROSS JOIN LATERAL (  -- by key (OFFSET 0: never a scan of all running tasks)
            SELECT s.id, s.job_id, s.token, s.status, s.progress FROM tasks s
            WHERE s.id = l.id OFFSET 0) t
        JOIN jobs j ON j.id = t.job_id AND j.status NOT IN ('cancelled', 'failed')
        -- the task's progress value, if sent (a search of the array, not a join that
        -- the generic plan runs as a loop over every pair)
        CROSS JOIN LATERAL (SELECT p_prog[array_position(p_prog_ids, l.id)] AS value) p
        WHERE t.token = l.token AND t.status = 'running'
    ), upd AS (
        UPDATE tasks t SET lease_expires_at = v_now + p_lease,
                           progress = coalesce(h.new, t.progress)
        FROM held h WHERE t.id = h.id
        RETURNING t.id, t.job_id, (h.new IS NOT NULL AND h.new <> h.old) AS moved
    )
    SELECT coalesce(array_agg(u.id), '{}'),
           coalesce(array_agg(DISTINCT u.job_id) FILTER (WHERE u.moved), '{}')
    INTO v_ext, v_moved FROM upd u;
    -- the jobs whose progress moved, in the global lock order, then one update of them
    -- all and one insert of their job.progress events
    PERFORM 1 FROM jobs j WHERE j.id = ANY(v_moved) ORDER BY j.id FOR UPDATE;
    WITH upd AS (
        UPDATE jobs j SET
            updated_at = v_now,
            progress_percent = tq_progress(
                j.total_chapters, j.completed_chapters,
                coalesce((SELECT sum(t.progress) FROM (  -- the job's own tasks, by key
                              SELECT s.progress, s.status, s.kind FROM tasks s
                              WHERE s.job_id = j.id OFFSET 0) t
                          WHERE t.status = 'running' AND t.kind = 'synthesize'), 0),
                j.status = 'completed'),
            event_seq = j.event_seq + 1
        WHERE j.id = ANY(v_moved)
        RETURNING j.id, j.user_id, j.event_seq, j.progress_percent, j.progress_message,
                  j.current_chapter
    )
    INSERT INTO events (job_id, user_id, seq, type, data, at)
    SELECT upd.id, upd.user_id, upd.event_seq, 'job.progress',
           jsonb_build_object('progress_percent', upd.progress_percent,
                              'progress_message', upd.progress_message,
                              'current_chapter', upd.current_chapter),
           v_now
    FROM upd ORDER BY upd.id;
    RETURN QUERY
        SELECT l.id, CASE
            WHEN l.id = ANY(v_ext) THEN 'extended'
            WHEN t.id IS NULL OR t.token <> l.token THEN 'lost'
            WHEN j.status IN ('cancelled', 'failed') THEN 'cancelled'
            ELSE 'lost' END
        FROM unnest(p_ids, p_tokens) AS l(id, token)
        LEFT JOIN tasks t ON t.id = l.id
        LEFT JOIN jobs j ON j.id = t.job_id;
END
$$;

-- ------------------------------------------------------------------ complete, fail, release

-- Finish tasks; one boolean per input in order (False: stale token or not running).
-- Set-based: one update of the tasks, one of their jobs, events appended in bulk.
CREATE FUNCTION tq_complete(p_ids text[], p_tokens bigint[], p_results jsonb[])
RETURNS SETOF boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
SET enable_seqscan = off  -- key lookups only, whatever the table statistics say
SET plan_cache_mode = force_generic_plan  -- planned once per connection, not per call
SET jit = off  -- compiling costs milliseconds per call, more than these statements run
AS $$
DECLARE
    v_now  double precision := tq_now();
    v_done bigint[];
    v_jobs text[];
BEGIN
    -- the tasks and their jobs' assemble tasks, then the jobs: the global lock order
    -- (arrays of keys, so that every lookup goes through a primary key)
    v_jobs := ARRAY(SELECT DISTINCT s.job_id FROM unnest(p_ids) AS x(id)
                    JOIN tasks s ON s.id = x.id);
    PERFORM 1 FROM tasks t WHERE t.id = ANY(ARRAY(
        SELECT x FROM unnest(p_ids) AS x
        UNION
        SELECT j.id || '.' || j.total_chapters FROM jobs j WHERE j.id = ANY(v_jobs)))
    ORDER BY t.id FOR UPDATE;
    PERFORM 1 FROM jobs j WHERE j.id = ANY(v_jobs) ORDER BY j.id FOR UPDATE;
    -- each task still held is finished once (its first input with the current token)
    WITH ok AS (
        SELECT DISTINCT ON (l.id) l.id, l.result, l.o
        FROM unnest(p_ids, p_tokens, p_results) WITH ORDINALITY AS l(id, token, result, o)
        CROSS JOIN LATERAL (  -- by key (OFFSET 0: never a scan of all running tasks)
            SELECT s.token, s.status FROM tasks s WHERE s.id = l.id OFFSET 0) t
        WHERE t.token = l.token AND t.status = 'running'
        ORDER BY l.id, l.o
    ), upd AS (
        UPDATE tasks t SET status = 'completed', result = ok.result, progress = 1,
                           finished_at = v_now, lease_expires_at = NULL
        FROM ok WHERE t.id = ANY(p_ids) AND t.id = ok.id
        RETURNING ok.o
    )
    SELECT coalesce(array_agg(upd.o), '{}') INTO v_done FROM upd;
    WITH c AS (
        SELECT t.job_id, t.kind, t.idx, t.title, x.result, x.o
        FROM unnest(p_ids, p_results) WITH ORDINALITY AS x(id, result, o)
        JOIN tasks t ON t.id = x.id
        WHERE x.o = ANY(v_done)
    ), pj AS (
        SELECT c.job_id,
               count(*) FILTER (WHERE c.kind = 'synthesize') AS chapters,
               max(c.o) FILTER (WHERE c.kind = 'synthesize') AS last_o,
               (array_agg(c.result ORDER BY c.o) FILTER (WHERE c.kind = 'assemble'))[1]
                   AS book
        FROM c GROUP BY c.job_id
    ), upd AS (
        UPDATE jobs j SET
            completed_chapters = j.completed_chapters + pj.chapters,
            updated_at = v_now,
            status = CASE
                WHEN pj.book IS NOT NULL THEN 'completed'
                WHEN pj.chapters > 0 AND j.completed_chapters + pj.chapters = j.total_chapters
                    THEN 'assembling'
                ELSE j.status END,
            progress_message = CASE
                WHEN pj.book IS NOT NULL THEN 'Completed'
                WHEN pj.chapters > 0 AND j.completed_chapters + pj.chapters = j.total_chapters
                    THEN 'Assembling audiobook'
                ELSE j.progress_message END,
            progress_percent = CASE WHEN pj.book IS NOT NULL THEN 100 ELSE tq_progress(
                j.total_chapters, (j.completed_chapters + pj.chapters)::integer,
                coalesce((SELECT sum(t.progress) FROM (  -- the job's own tasks, by key
                              SELECT s.progress, s.status, s.kind FROM tasks s
                              WHERE s.job_id = j.id OFFSET 0) t
                          WHERE t.status = 'running' AND t.kind = 'synthesize'), 0),
                j.status = 'completed') END,
            result = coalesce(pj.book, j.result),
            finished_at = CASE WHEN pj.book IS NOT NULL THEN v_now ELSE j.finished_at END,
            event_seq = j.event_seq + pj.chapters + (pj.book IS NOT NULL)::integer
                + (pj.chapters > 0
                   AND j.completed_chapters + pj.chapters = j.total_chapters)::integer
        FROM pj
        WHERE j.id = ANY(v_jobs) AND j.id = pj.job_id
        RETURNING j.id, j.user_id, j.total_chapters, pj.last_o,
            pj.chapters > 0 AND j.completed_chapters = j.total_chapters AS reached,
            j.event_seq - pj.chapters - (pj.book IS NOT NULL)::integer
                - (pj.chapters > 0 AND j.completed_chapters = j.total_chapters)::integer
                AS base
    ), assemble AS (
        UPDATE tasks t SET status = 'pending', run_at = v_now
        FROM upd
        WHERE upd.reached AND t.id = upd.id || '.' || upd.total_chapters
          AND t.status = 'waiting'
    ), ev AS (
        SELECT c.job_id, c.o, 0 AS sub,
               CASE WHEN c.kind = 'assemble' THEN 'job.completed'
                    ELSE 'chapter.completed' END AS type,
               CASE WHEN c.kind = 'assemble' THEN jsonb_build_object('result', c.result)
                    ELSE jsonb_build_object('index', c.idx, 'title', c.title)
                         || CASE WHEN c.result ? 'duration_s'
                                 THEN jsonb_build_object('duration_s', c.result->'duration_s')
                                 ELSE '{}'::jsonb END
               END AS data
        FROM c
        UNION ALL
        SELECT upd.id, upd.last_o, 1, 'job.assembling', '{}'::jsonb
        FROM upd WHERE upd.reached
    )
    INSERT INTO events (job_id, user_id, seq, type, data, at)
    SELECT ev.job_id, upd.user_id,
           upd.base + row_number() OVER (PARTITION BY ev.job_id ORDER BY ev.o, ev.sub),
           ev.type, ev.data, v_now
    FROM ev JOIN upd ON upd.id = ev.job_id
    ORDER BY ev.job_id, ev.o, ev.sub;
    RETURN QUERY
        SELECT x.o = ANY(v_done)
        FROM generate_series(1, coalesce(cardinality(p_ids), 0)::bigint) AS x(o)
        ORDER BY x.o;
END
$$;

CREATE FUNCTION tq_fail(p_id text, p_token bigint, p_error text, p_retry_at double precision)
RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now double precision := tq_now();
    v_job text;
    v_t   record;
BEGIN
    SELECT t.job_id INTO v_job FROM tasks t WHERE t.id = p_id;
    IF v_job IS NULL THEN
        RETURN false;
    END IF;
    PERFORM 1 FROM tasks t WHERE t.job_id = v_job ORDER BY t.id FOR UPDATE;
    PERFORM 1 FROM jobs j WHERE j.id = v_job FOR UPDATE;
    SELECT t.attempts, t.max_attempts INTO v_t FROM tasks t
    WHERE t.id = p_id AND t.token = p_token AND t.status = 'running';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_retry_at IS NOT NULL AND v_t.attempts < v_t.max_attempts THEN
        PERFORM tq_requeue(p_id, p_error, p_retry_at, v_now);
    ELSE
        PERFORM tq_fail_job(p_id, p_error, v_now);
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION tq_release(p_ids text[], p_tokens bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now double precision := tq_now();
    v_t   record;
    v_job text;
    v_idx integer;
    v_n   integer := 0;
BEGIN
    PERFORM 1 FROM tasks t WHERE t.id = ANY(p_ids) ORDER BY t.id FOR UPDATE;
    PERFORM 1 FROM jobs j
    WHERE j.id = ANY(ARRAY(SELECT s.job_id FROM unnest(p_ids) AS x(id)
                           JOIN tasks s ON s.id = x.id))
    ORDER BY j.id FOR UPDATE;
    FOR v_t IN
        SELECT l.id, l.token FROM unnest(p_ids, p_tokens) WITH ORDINALITY AS l(id, token, o)
        ORDER BY l.o
    LOOP
        UPDATE tasks t SET status = 'pending', attempts = t.attempts - 1, run_at = v_now,
                           progress = 0, lease_expires_at = NULL
        WHERE t.id = v_t.id AND t.token = v_t.token AND t.status = 'running'
        RETURNING t.job_id, t.idx INTO v_job, v_idx;
        CONTINUE WHEN NOT FOUND;
        UPDATE jobs j SET updated_at = v_now WHERE j.id = v_job;
        PERFORM tq_refresh_progress(v_job);
        PERFORM tq_event(v_job, 'task.released', jsonb_build_object('index', v_idx), v_now);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;

-- ------------------------------------------------------------------ users and admins

-- 'ok', 'not_found' (absent or another user's) or 'invalid' (terminal).
CREATE FUNCTION tq_cancel(p_job text, p_user text)
RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now double precision := tq_now();
    v_j   record;
BEGIN
    PERFORM 1 FROM tasks t WHERE t.job_id = p_job ORDER BY t.id FOR UPDATE;
    SELECT j.status, j.user_id INTO v_j FROM jobs j WHERE j.id = p_job FOR UPDATE;
    IF NOT FOUND OR (p_user IS NOT NULL AND v_j.user_id <> p_user) THEN
        RETURN 'not_found';
    END IF;
    IF v_j.status IN ('completed', 'failed', 'cancelled') THEN
        RETURN 'invalid';
    END IF;
    UPDATE tasks t SET status = 'cancelled', finished_at = v_now, lease_expires_at = NULL
    WHERE t.job_id = p_job AND t.status IN ('waiting', 'pending', 'running');
    UPDATE jobs j SET status = 'cancelled', finished_at = v_now, updated_at = v_now
    WHERE j.id = p_job;
    PERFORM tq_refresh_progress(p_job);
    PERFORM tq_event(p_job, 'job.cancelled', '{}', v_now);
    RETURN 'ok';
END
$$;

-- With p_max_active, the owner's cap on unfinished jobs holds as in tq_enqueue (their
-- user row locked, then their unfinished jobs counted): 'limit <n>' when they have n.
CREATE FUNCTION tq_retry(p_job text, p_user text, p_max_active integer)
RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now    double precision := tq_now();
    v_j      record;
    v_active bigint;
BEGIN
    PERFORM 1 FROM tasks t WHERE t.job_id = p_job ORDER BY t.id FOR UPDATE;
    SELECT j.status, j.user_id INTO v_j FROM jobs j WHERE j.id = p_job FOR UPDATE;
    IF NOT FOUND OR (p_user IS NOT NULL AND v_j.user_id <> p_user) THEN
        RETURN 'not_found';
    END IF;
    IF v_j.status NOT IN ('failed', 'cancelled') THEN
        RETURN 'invalid';
    END IF;
    IF p_max_active IS NOT NULL THEN
        PERFORM 1 FROM users u WHERE u.user_id = v_j.user_id FOR UPDATE;
        SELECT count(*) INTO v_active FROM jobs j
        WHERE j.user_id = v_j.user_id AND j.finished_at IS NULL;
        IF v_active >= p_max_active THEN
            RETURN 'limit ' || v_active;
        END IF;
    END IF;
    UPDATE tasks t SET
        status = CASE WHEN t.kind = 'synthesize' THEN 'pending' ELSE 'waiting' END,
        run_at = v_now, attempts = 0, error = NULL, progress = 0, lease_expires_at = NULL,
        finished_at = NULL
    WHERE t.job_id = p_job AND t.status <> 'completed';
    UPDATE tasks t SET status = 'pending'
    WHERE t.job_id = p_job AND t.kind = 'assemble' AND t.status = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.job_id = p_job AND c.kind = 'synthesize'
                      AND c.status <> 'completed');
    UPDATE jobs j SET status = 'queued', error = NULL, finished_at = NULL, updated_at = v_now
    WHERE j.id = p_job;
    PERFORM tq_refresh_progress(p_job);
    PERFORM tq_event(p_job, 'job.retried', '{}', v_now);
    RETURN 'ok';
END
$$;

CREATE FUNCTION tq_set_priority(p_job text, p_priority integer)
RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_now double precision := tq_now();
    v_j   record;
BEGIN
    PERFORM 1 FROM tasks t WHERE t.job_id = p_job ORDER BY t.id FOR UPDATE;
    SELECT j.status INTO v_j FROM jobs j WHERE j.id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF v_j.status IN ('completed', 'failed', 'cancelled') THEN
        RETURN 'invalid';
    END IF;
    UPDATE tasks t SET priority = p_priority WHERE t.job_id = p_job;
    UPDATE jobs j SET priority = p_priority, updated_at = v_now WHERE j.id = p_job;
    PERFORM tq_event(p_job, 'job.priority_changed', jsonb_build_object('priority', p_priority),
                     v_now);
    RETURN 'ok';
END
$$;

-- ------------------------------------------------------------------ row-level security

-- Direct database access on behalf of an app user (a role that is not the owner) sees
-- and changes only rows whose user_id is ttsqueue.user_id, or auth.uid() on Supabase.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;

DO $rls$
DECLARE
    v_check text := 'user_id = current_setting(''ttsqueue.user_id'', true)';
    v_table text;
BEGIN
    IF to_regprocedure('auth.uid()') IS NOT NULL THEN
        v_check := v_check || ' OR user_id = (auth.uid())::text';
    END IF;
    FOREACH v_table IN ARRAY ARRAY['jobs', 'tasks', 'events'] LOOP
        EXECUTE format('CREATE POLICY %I ON %I USING (%s) WITH CHECK (%s)',
                       v_table || '_owner', v_table, v_check, v_check);
    END LOOP;
END
$rls$;
