-- Webhook endpoints and deliveries (see the webhook part of backends/base.py). The
-- deliveries themselves are created by the events_webhooks trigger (migration 003).
-- "now" is the store's clock.

-- name: insert_webhook
INSERT INTO webhook_endpoints (id, user_id, url, events, secret, previous_secret,
                               previous_until, progress_interval_s, description, created_at)
VALUES (%(id)s, %(user_id)s, %(url)s, %(events)s, %(secret)s, %(previous_secret)s,
        %(previous_until)s, %(progress_interval_s)s, %(description)s, %(created_at)s)

-- name: webhooks_all
SELECT * FROM webhook_endpoints ORDER BY id

-- name: webhooks_of_user
SELECT * FROM webhook_endpoints WHERE user_id = %(user_id)s ORDER BY id

-- name: webhook_by_id
SELECT * FROM webhook_endpoints
WHERE id = %(id)s AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s::text)

-- name: delete_webhook
DELETE FROM webhook_endpoints
WHERE id = %(id)s AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s::text)

-- name: rotate_webhook_secret
UPDATE webhook_endpoints
SET previous_secret = secret, previous_until = %(previous_until)s, secret = %(secret)s
WHERE id = %(id)s AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s::text)
RETURNING *

-- name: claim_deliveries
WITH clock AS (
    SELECT extract(epoch FROM clock_timestamp())::double precision AS now
), picked AS (
    SELECT d.seq
    FROM webhook_deliveries d, clock
    WHERE ((d.status = 'pending' AND d.run_at <= clock.now)
           OR (d.status = 'running' AND d.lease_expires_at <= clock.now))
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                      WHERE p.endpoint_id = d.endpoint_id AND p.job_id = d.job_id
                        AND p.seq < d.seq AND p.status IN ('pending', 'running'))
    ORDER BY d.seq
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = 'running', attempts = d.attempts + 1, token = d.token + 1,
    lease_expires_at = clock.now + %(lease_s)s, updated_at = clock.now
FROM picked, clock, webhook_endpoints e
WHERE d.seq = picked.seq AND e.id = d.endpoint_id
RETURNING d.*, e.url, e.secret, e.previous_secret, e.previous_until, clock.now

-- name: finish_delivery
UPDATE webhook_deliveries
SET status = %(status)s, run_at = coalesce(%(run_at)s, run_at), lease_expires_at = NULL,
    response_status = %(response_status)s, error = %(error)s,
    delivered_at = CASE WHEN %(delivered)s
                        THEN extract(epoch FROM clock_timestamp())::double precision END,
    updated_at = extract(epoch FROM clock_timestamp())::double precision
WHERE id = %(id)s AND status = 'running' AND token = %(token)s

-- name: deliveries_of_endpoint
SELECT * FROM webhook_deliveries
WHERE endpoint_id = %(endpoint_id)s AND seq < %(before)s
ORDER BY seq DESC
LIMIT %(limit)s

-- name: redeliver
WITH clock AS (
    SELECT extract(epoch FROM clock_timestamp())::double precision AS now
)
UPDATE webhook_deliveries
SET status = 'pending', attempts = 0, run_at = clock.now, window_start = clock.now,
    delivered_at = NULL, updated_at = clock.now
FROM clock
WHERE id = %(id)s AND endpoint_id = %(endpoint_id)s AND status <> 'running'

-- name: prune_deliveries
DELETE FROM webhook_deliveries
WHERE seq IN (SELECT seq FROM webhook_deliveries
              WHERE status IN ('delivered', 'failed') AND updated_at < %(older_than)s
              LIMIT %(limit)s)

-- name: delivery_by_id
SELECT * FROM webhook_deliveries WHERE id = %(id)s AND endpoint_id = %(endpoint_id)s
