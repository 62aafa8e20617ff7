-- Users' pronunciation lexicons. Only the owner role reads and writes them: row-level
-- security with no policy leaves the table empty to every other role, and
-- tq_grant_readers() (redefined with the table in its list) trims their grants on it.
CREATE TABLE lexicons (
    id         text  PRIMARY KEY,
    user_id    text  NOT NULL,
    name       text  NOT NULL,
    entries    jsonb NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);

CREATE INDEX lexicons_by_user ON lexicons (user_id, created_at, id);

ALTER TABLE lexicons ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION tq_grant_readers() RETURNS text[]
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema  text := current_schema();
    v_tables  text[] := ARRAY['claim_counter', 'users', 'jobs', 'tasks', 'events', 'workers',
                              'api_keys', 'status_counts', 'schema_version',
                              'webhook_endpoints', 'webhook_deliveries', 'queue_pauses',
                              'worker_drains', 'lexicons'];
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
          SELECT pg_get_serial_sequence(format('%I.events', v_schema), 'id')
          UNION ALL
          SELECT pg_get_serial_sequence(format('%I.webhook_deliveries', v_schema), 'seq')) q
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
