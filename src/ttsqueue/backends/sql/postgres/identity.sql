-- Identity on PostgreSQL: the premium lookup in the app's own tables, and the roles
-- that read the queue directly. {table}, {column}, {key}, {schema} and {role} are
-- filled in as quoted identifiers, never as text.

-- name: premium_lookup
SELECT ({column}) IS TRUE AS premium FROM {table} WHERE ({key})::text = %(user)s LIMIT 1

-- name: create_app_role
-- NOLOGIN: a login is granted by the operator (ALTER ROLE ... LOGIN PASSWORD ...) or
-- the role is granted to the app's own login role.
DO $$
BEGIN
    IF to_regrole('ttsqueue_app') IS NULL THEN
        CREATE ROLE ttsqueue_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object THEN
    NULL;  -- created concurrently by another migration
END
$$

-- name: grant_readers
SELECT {schema}.tq_grant_readers()
