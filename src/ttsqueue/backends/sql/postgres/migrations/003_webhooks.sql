-- Webhooks: endpoints users registered, and the deliveries of their events. A trigger
-- on events adds the deliveries in the statement (so the transaction) that appends the
-- event, whichever function appended it: no event is ever without its deliveries.
-- Both tables hold secrets or what was sent: row-level security with no policy, so
-- they are invisible to every role but the owner.

CREATE TABLE webhook_endpoints (
    id                  text    PRIMARY KEY,
    user_id             text    NOT NULL,
    url                 text    NOT NULL,
    events              jsonb   NOT NULL,  -- array of event types
    secret              text    NOT NULL,
    previous_secret     text,
    previous_until      double precision,
    progress_interval_s double precision NOT NULL,
    description         text    NOT NULL DEFAULT '',
    created_at          double precision NOT NULL
);

CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, id);

CREATE TABLE webhook_deliveries (
    seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- creation order
    id               text    NOT NULL UNIQUE,  -- the message id, the same on every attempt
    endpoint_id      text    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    job_id           text    NOT NULL,
    user_id          text    NOT NULL,
    type             text    NOT NULL,
    data             jsonb   NOT NULL,  -- the event's data
    event_seq        integer NOT NULL,
    event_at         double precision NOT NULL,
    status           text    NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    token            bigint  NOT NULL DEFAULT 0,
    run_at           double precision NOT NULL,
    lease_expires_at double precision,
    window_start     double precision NOT NULL,
    response_status  integer,
    error            text,
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL,
    delivered_at     double precision
);

-- claim: what is due or whose lease ran out, and what is ahead of it per endpoint and job
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (run_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_lease ON webhook_deliveries (lease_expires_at)
    WHERE status = 'running';
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (endpoint_id, job_id, seq)
    WHERE status IN ('pending', 'running');
-- the progress throttle, and the log per endpoint
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (endpoint_id, job_id, type, event_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);

CREATE FUNCTION tq_webhook_fanout() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, endpoint_id, job_id, user_id, type, data, event_seq,
                                    event_at, run_at, window_start, created_at, updated_at)
    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.id, n.job_id, n.user_id,
           n.type, n.data, n.seq, n.at, n.at, n.at, n.at, n.at
    FROM new_rows n
    JOIN webhook_endpoints e ON e.user_id = n.user_id AND e.events ? n.type
    WHERE n.type IN ('job.completed', 'job.failed', 'job.cancelled', 'job.progress')
      AND (n.type <> 'job.progress' OR (
              -- one progress per job from one statement, and none within the interval
              n.id = (SELECT min(m.id) FROM new_rows m
                      WHERE m.job_id = n.job_id AND m.type = 'job.progress')
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_deliveries d
                  WHERE d.endpoint_id = e.id AND d.job_id = n.job_id
                    AND d.type = 'job.progress' AND d.event_at > n.at - e.progress_interval_s)))
    ORDER BY n.id, e.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_webhooks AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION tq_webhook_fanout();

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;

-- The grants trimmed over the new tables too (see 002).
CREATE OR REPLACE FUNCTION tq_grant_readers() RETURNS text[]
LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
DECLARE
    v_schema  text := current_schema();
    v_tables  text[] := ARRAY['claim_counter', 'users', 'jobs', 'tasks', 'events', 'workers',
                              'api_keys', 'status_counts', 'schema_version',
                              'webhook_endpoints', 'webhook_deliveries'];
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
