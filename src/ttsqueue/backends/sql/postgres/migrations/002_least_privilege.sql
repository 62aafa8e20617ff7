-- Least privilege for every role but the owner.
--
-- The service connects as the role that owns these tables (the owner is not subject to
-- row-level security) and keeps doing everything. Any other role — the application
-- role ttsqueue_app, Supabase's authenticated, anon and service_role, or a role an
-- operator granted too much — is held by row-level security on EVERY table: it may
-- read the jobs, tasks and events of the user it acts for, and nothing else; no table
-- has a policy for INSERT, UPDATE or DELETE, so it changes nothing even where a grant
-- would allow it (Supabase's default privileges grant every table in `public` to anon
-- and authenticated). Users, API keys, workers and the counters have no policy at
-- all: invisible. tq_grant_readers() then trims the grants to the same shape.

-- Who a non-owner role acts for. Supabase's API roles (authenticated, anon) are the
-- user of the verified JWT that PostgREST put in request.jwt.claims: auth.uid(), and
-- nothing they could set themselves. Any other role is the user the service that
-- connects as it names with set_config('ttsqueue.user_id', ...): that role is
-- trusted to speak for its users (as PostgREST is).
CREATE FUNCTION tq_request_user() RETURNS text
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT
AS $$
DECLARE
    v_uid text;
BEGIN
    IF current_user IN ('authenticated', 'anon') THEN
        IF to_regprocedure('auth.uid()') IS NULL THEN
            RETURN NULL;
        END IF;
        EXECUTE 'SELECT (auth.uid())::text' INTO v_uid;
        RETURN v_uid;
    END IF;
    RETURN nullif(current_setting('ttsqueue.user_id', true), '');
END
$$;

DROP POLICY IF EXISTS jobs_owner ON jobs;
DROP POLICY IF EXISTS tasks_owner ON tasks;
DROP POLICY IF EXISTS events_owner ON events;

-- Read-only, own rows. (SELECT ...) makes the identity one lookup per statement.
CREATE POLICY jobs_read ON jobs FOR SELECT USING (user_id = (SELECT tq_request_user()));
CREATE POLICY tasks_read ON tasks FOR SELECT USING (user_id = (SELECT tq_request_user()));
CREATE POLICY events_read ON events FOR SELECT USING (user_id = (SELECT tq_request_user()));

-- Every table, policies or not: without a policy, a table is empty to other roles.
ALTER TABLE claim_counter ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE workers ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE status_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE schema_version ENABLE ROW LEVEL SECURITY;

-- The grants that go with it, for the reader roles that exist now; run again by
-- `ttsqueue migrate` (and --create-app-role) for roles created later. It touches only
-- ttsqueue's own tables, sequences and tq_ functions (the schema may be Supabase's
-- `public`, shared with the app's own tables). Nothing is granted to PUBLIC but the
-- identity function the policies call; ttsqueue_app, authenticated and service_role
-- may read jobs, tasks and events (rows as the policies allow: service_role bypasses
-- row-level security on Supabase and so reads every user's); anon gets nothing.
-- Returns the roles it granted to.
CREATE FUNCTION tq_grant_readers() RETURNS text[]
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema  text := current_schema();
    v_tables  text[] := ARRAY['claim_counter', 'users', 'jobs', 'tasks', 'events', 'workers',
                              'api_keys', 'status_counts', 'schema_version'];
    v_readable text[] := ARRAY['jobs', 'tasks', 'events'];
    v_objects text[] := '{}';
    v_role    text;
    v_grantee text;
    v_object  text;
    v_done    text[] := '{}';
BEGIN
    SELECT v_objects || array_agg('TABLE ' || format('%I.%I', v_schema, t))
    INTO v_objects FROM unnest(v_tables) AS t;
    SELECT v_objects || array_agg('SEQUENCE ' || s)
    INTO v_objects
    FROM (SELECT pg_get_serial_sequence(format('%I.jobs', v_schema), 'seq') AS s
          UNION ALL
          SELECT pg_get_serial_sequence(format('%I.events', v_schema), 'id')) q
    WHERE s IS NOT NULL;
    SELECT v_objects || coalesce(array_agg('FUNCTION ' || p.oid::regprocedure::text), '{}')
    INTO v_objects
    FROM pg_proc p
    WHERE p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = v_schema)
      AND p.proname LIKE 'tq\_%';
    FOREACH v_grantee IN ARRAY ARRAY['PUBLIC', 'ttsqueue_app', 'authenticated', 'service_role',
                                     'anon'] LOOP
        CONTINUE WHEN v_grantee <> 'PUBLIC' AND to_regrole(v_grantee) IS NULL;
        FOREACH v_object IN ARRAY v_objects LOOP
            EXECUTE format('REVOKE ALL ON %s FROM %s', v_object,
                           CASE WHEN v_grantee = 'PUBLIC' THEN 'PUBLIC'
                                ELSE quote_ident(v_grantee) END);
        END LOOP;
    END LOOP;
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.tq_request_user() TO PUBLIC', v_schema);
    FOREACH v_role IN ARRAY ARRAY['ttsqueue_app', 'authenticated', 'service_role'] LOOP
        CONTINUE WHEN to_regrole(v_role) IS NULL;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', v_schema, v_role);
        FOREACH v_object IN ARRAY v_readable LOOP
            EXECUTE format('GRANT SELECT ON %I.%I TO %I', v_schema, v_object, v_role);
        END LOOP;
        v_done := v_done || v_role;
    END LOOP;
    RETURN v_done;
END
$$;

SELECT tq_grant_readers();
