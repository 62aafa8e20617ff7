-- The whole queue in one SQLite file: jobs, their tasks, events, users (fairness and
-- caps), workers and API keys. Shared by every process that opens the file (WAL mode).

-- Store-wide counters (the claim counter of the fairness rule).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO counters (name, value) VALUES ('claims', 0);

-- One row per job owner: round-robin state and the concurrency cap, with the number of
-- running and pending tasks kept exact by the triggers below so that claim reads them
-- without counting.
CREATE TABLE users (
    user_id         TEXT PRIMARY KEY,
    last_served     INTEGER NOT NULL DEFAULT 0,
    max_concurrency INTEGER NOT NULL,
    running         INTEGER NOT NULL DEFAULT 0,
    pending         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- claim visits only the users with pending work
CREATE INDEX users_waiting ON users (user_id) WHERE pending > 0;

CREATE TABLE jobs (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order (FIFO)
    id                 TEXT NOT NULL UNIQUE,
    user_id            TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           INTEGER NOT NULL,
    title              TEXT NOT NULL,
    author             TEXT NOT NULL,
    work_id            TEXT,
    voice              TEXT NOT NULL,  -- JSON
    output_format      TEXT NOT NULL,
    total_chapters     INTEGER NOT NULL,
    completed_chapters INTEGER NOT NULL DEFAULT 0,
    progress_percent   REAL NOT NULL DEFAULT 0,
    progress_message   TEXT NOT NULL DEFAULT '',
    current_chapter    INTEGER,
    attempts           INTEGER NOT NULL DEFAULT 0,
    error              TEXT,
    idempotency_key    TEXT,
    max_attempts       INTEGER NOT NULL,
    created_at         REAL NOT NULL,
    updated_at         REAL NOT NULL,
    run_at             REAL,
    started_at         REAL,
    finished_at        REAL,
    result             TEXT,           -- JSON
    metadata           TEXT NOT NULL   -- JSON
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_user ON jobs (user_id, id);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- the cap on unfinished jobs per user: a count over the owner's unfinished jobs only
CREATE INDEX jobs_user_active ON jobs (user_id) WHERE finished_at IS NULL;
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE status = 'scheduled';

CREATE TABLE tasks (
    id               TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL,
    job_seq          INTEGER NOT NULL,  -- the job's enqueue order, for FIFO
    idx              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    run_at           REAL NOT NULL,
    title            TEXT NOT NULL,
    payload          TEXT NOT NULL,  -- JSON handed to the worker
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    token            INTEGER NOT NULL DEFAULT 0,
    lease_expires_at REAL,
    worker_id        TEXT,
    progress         REAL NOT NULL DEFAULT 0,
    error            TEXT,
    result           TEXT,  -- JSON
    started_at       REAL,
    finished_at      REAL
);

CREATE UNIQUE INDEX tasks_job ON tasks (job_seq, idx);
-- claim: one user's best runnable task, and FIFO over everyone's
CREATE INDEX tasks_pending_user ON tasks (user_id, priority DESC, job_seq, idx)
    WHERE status = 'pending';
CREATE INDEX tasks_pending_fifo ON tasks (user_id, job_seq, idx) WHERE status = 'pending';
CREATE INDEX tasks_pending_due ON tasks (run_at) WHERE status = 'pending';
-- reap: expired leases
CREATE INDEX tasks_running_lease ON tasks (lease_expires_at) WHERE status = 'running';

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
WHEN NEW.status IN ('pending', 'running')
BEGIN
    UPDATE users
    SET pending = pending + (NEW.status = 'pending'),
        running = running + (NEW.status = 'running')
    WHERE user_id = NEW.user_id;
END;

CREATE TRIGGER tasks_count_update AFTER UPDATE OF status ON tasks
WHEN OLD.status <> NEW.status
    AND (OLD.status IN ('pending', 'running') OR NEW.status IN ('pending', 'running'))
BEGIN
    UPDATE users
    SET pending = pending + (NEW.status = 'pending') - (OLD.status = 'pending'),
        running = running + (NEW.status = 'running') - (OLD.status = 'running')
    WHERE user_id = NEW.user_id;
END;

CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks
WHEN OLD.status IN ('pending', 'running')
BEGIN
    UPDATE users
    SET pending = pending - (OLD.status = 'pending'),
        running = running - (OLD.status = 'running')
    WHERE user_id = OLD.user_id;
END;

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- store-wide order
    job_id  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,  -- JSON
    at      REAL NOT NULL
);

CREATE UNIQUE INDEX events_job ON events (job_id, seq);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    concurrency  INTEGER NOT NULL,
    tasks        TEXT NOT NULL,  -- JSON list of task ids
    started_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    premium    INTEGER NOT NULL,
    admin      INTEGER NOT NULL,
    label      TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
