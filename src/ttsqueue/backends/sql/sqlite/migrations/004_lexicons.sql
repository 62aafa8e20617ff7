-- Users' pronunciation lexicons: entries are a JSON array, checked before they are stored.
CREATE TABLE lexicons (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    entries    TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;

CREATE INDEX lexicons_by_user ON lexicons (user_id, created_at, id);
