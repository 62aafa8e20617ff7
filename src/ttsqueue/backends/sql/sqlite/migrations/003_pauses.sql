-- Pauses: claiming stopped by an admin, for every engine (engine '') or for one.
-- claim reads the global row by its key.

CREATE TABLE queue_pauses (
    engine TEXT PRIMARY KEY,  -- '' for every engine
    since  REAL NOT NULL
) WITHOUT ROWID;
