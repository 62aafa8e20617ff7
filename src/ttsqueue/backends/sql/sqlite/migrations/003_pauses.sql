-- Pauses and drains. Pauses: claiming stopped by an admin, for every engine (engine '') or for one.
-- claim reads the global row by its key.

CREATE TABLE queue_pauses (
    engine TEXT PRIMARY KEY,  -- '' for every engine
    since  REAL NOT NULL
) WITHOUT ROWID;

-- Drain requests: the worker takes its own on a heartbeat tick, stops claiming,
-- finishes what it holds and exits.
CREATE TABLE worker_drains (
    worker_id    TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
) WITHOUT ROWID;
