-- Webhook endpoints and deliveries (see the webhook part of backends/base.py).

-- name: insert_webhook
INSERT INTO webhook_endpoints (id, user_id, url, events, secret, previous_secret,
                               previous_until, progress_interval_s, description, created_at)
VALUES (:id, :user_id, :url, :events, :secret, :previous_secret, :previous_until,
        :progress_interval_s, :description, :created_at)

-- name: webhooks_all
SELECT * FROM webhook_endpoints ORDER BY id

-- name: webhooks_of_user
SELECT * FROM webhook_endpoints WHERE user_id = :user_id ORDER BY id

-- name: webhook_by_id
SELECT * FROM webhook_endpoints WHERE id = :id

-- name: delete_webhook
DELETE FROM webhook_endpoints WHERE id = :id

-- name: rotate_webhook_secret
UPDATE webhook_endpoints
SET previous_secret = secret, previous_until = :previous_until, secret = :secret
WHERE id = :id
RETURNING *

-- name: claimable_deliveries
SELECT d.seq
FROM webhook_deliveries d
WHERE d.seq IN (SELECT seq FROM webhook_deliveries WHERE status = 'pending' AND run_at <= :now
                UNION ALL
                SELECT seq FROM webhook_deliveries
                WHERE status = 'running' AND lease_expires_at <= :now)
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                  WHERE p.endpoint_id = d.endpoint_id AND p.job_id = d.job_id
                    AND p.seq < d.seq AND p.status IN ('pending', 'running'))
ORDER BY d.seq
LIMIT :limit

-- name: lease_delivery
UPDATE webhook_deliveries
SET status = 'running', attempts = attempts + 1, token = token + 1,
    lease_expires_at = :now + :lease_s, updated_at = :now
WHERE seq = :seq
RETURNING *

-- name: finish_delivery
UPDATE webhook_deliveries
SET status = :status, run_at = coalesce(:run_at, run_at), lease_expires_at = NULL,
    response_status = :response_status, error = :error, delivered_at = :delivered_at,
    updated_at = :now
WHERE id = :id AND status = 'running' AND token = :token

-- name: deliveries_of_endpoint
SELECT * FROM webhook_deliveries
WHERE endpoint_id = :endpoint_id AND seq < :before
ORDER BY seq DESC
LIMIT :limit

-- name: redeliver
UPDATE webhook_deliveries
SET status = 'pending', attempts = 0, run_at = :now, window_start = :now,
    delivered_at = NULL, updated_at = :now
WHERE id = :id AND endpoint_id = :endpoint_id AND status <> 'running'

-- name: prune_deliveries
DELETE FROM webhook_deliveries
WHERE seq IN (SELECT seq FROM webhook_deliveries
              WHERE status IN ('delivered', 'failed') AND updated_at < :older_than
              LIMIT :limit)

-- name: delivery_by_id
SELECT * FROM webhook_deliveries WHERE id = :id AND endpoint_id = :endpoint_id
