-- Statements the SQLite tests run directly on the database file, as someone with
-- access to it would.

-- name: set_job_result
UPDATE jobs SET result = :result WHERE id = :id

-- name: set_task_result
UPDATE tasks SET result = :result WHERE job_id = :id AND idx = :idx
