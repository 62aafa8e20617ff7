-- Webhooks: endpoints users registered, and the deliveries of their events. A trigger
-- on events adds the deliveries in the transaction that appends the event, so no event
-- is ever without them, whichever statement appended it.

CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL,
    url                 TEXT NOT NULL,
    events              TEXT NOT NULL,  -- JSON list of event types
    secret              TEXT NOT NULL,
    previous_secret     TEXT,
    previous_until      REAL,
    progress_interval_s REAL NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    created_at          REAL NOT NULL
) WITHOUT ROWID;

CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, id);

CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- store-wide creation order
    id               TEXT NOT NULL UNIQUE,  -- the message id, the same on every attempt
    endpoint_id      TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    type             TEXT NOT NULL,
    data             TEXT NOT NULL,  -- JSON: the event's data
    event_seq        INTEGER NOT NULL,
    event_at         REAL NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    token            INTEGER NOT NULL DEFAULT 0,
    run_at           REAL NOT NULL,
    lease_expires_at REAL,
    window_start     REAL NOT NULL,
    response_status  INTEGER,
    error            TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    delivered_at     REAL
);

-- claim: what is due or whose lease ran out, and what is ahead of it per endpoint and job
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (run_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries (lease_expires_at)
    WHERE status = 'running';
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (endpoint_id, job_id, seq)
    WHERE status IN ('pending', 'running');
-- the progress throttle, and the log per endpoint
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (endpoint_id, job_id, type, event_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);

CREATE TRIGGER events_webhooks AFTER INSERT ON events
WHEN NEW.type IN ('job.completed', 'job.failed', 'job.cancelled', 'job.progress')
BEGIN
    INSERT INTO webhook_deliveries (id, endpoint_id, job_id, user_id, type, data, event_seq,
                                    event_at, run_at, window_start, created_at, updated_at)
    SELECT 'msg_' || lower(hex(randomblob(12))), e.id, NEW.job_id, NEW.user_id, NEW.type,
           NEW.data, NEW.seq, NEW.at, NEW.at, NEW.at, NEW.at, NEW.at
    FROM webhook_endpoints e
    WHERE e.user_id = NEW.user_id
      AND EXISTS (SELECT 1 FROM json_each(e.events) j WHERE j.value = NEW.type)
      AND (NEW.type <> 'job.progress' OR NOT EXISTS (
              SELECT 1 FROM webhook_deliveries d
              WHERE d.endpoint_id = e.id AND d.job_id = NEW.job_id
                AND d.type = 'job.progress' AND d.event_at > NEW.at - e.progress_interval_s))
    ORDER BY e.id;
END;

CREATE TRIGGER webhook_endpoints_delete AFTER DELETE ON webhook_endpoints
BEGIN
    DELETE FROM webhook_deliveries WHERE endpoint_id = OLD.id;
END;
