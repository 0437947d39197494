CREATE OR REPLACE FUNCTION m10_recovery.claim_outbox(
    p_processor_id  text,
    p_batch_size    integer     DEFAULT 10,
    p_lease_seconds integer     DEFAULT 60,
    p_max_attempts  integer     DEFAULT 10,
    p_now           timestamptz DEFAULT NULL
) RETURNS TABLE (
    outbox_id        bigint,
    event_id         uuid,
    event_type       text,
    aggregate_type   text,
    aggregate_id     text,
    payload          jsonb,
    retry_count      integer,
    created_at       timestamptz,
    lease_expires_at timestamptz
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now     timestamptz := coalesce(p_now, now());
    v_ids     bigint[];
    v_expired record;
BEGIN
    IF p_processor_id IS NULL OR p_processor_id !~ '[^[:space:]]' OR length(p_processor_id) > 200 THEN
        RAISE EXCEPTION 'p_processor_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 1 and 1000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400, got %', coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'p_max_attempts must be between 1 and 100, got %', coalesce(p_max_attempts::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;

    -- Due events, whatever their type or age: each event has its own next_retry_at, so one failing
    -- receiver delays only its own events (no head-of-line blocking). A due event that is claimed
    -- is one whose lease ran out: its processor crashed or hung.
    v_ids := ARRAY(
        SELECT o.id
          FROM m10_recovery.outbox o
         WHERE o.processed_at IS NULL AND o.next_retry_at <= v_now
         ORDER BY o.next_retry_at, o.id
         LIMIT p_batch_size
           FOR UPDATE SKIP LOCKED);

    -- A lease that ran out counts as a failed attempt, so an event that crashes every processor
    -- that takes it ends in the dead letters instead of crashing processors forever.
    FOR v_expired IN
        SELECT o.id, o.claimed_by FROM m10_recovery.outbox o
         WHERE o.id = ANY (v_ids) AND o.claimed_by IS NOT NULL AND o.retry_count + 1 >= p_max_attempts
    LOOP
        UPDATE m10_recovery.outbox o
           SET retry_count = o.retry_count + 1,
               last_error = format('lease expired (processor %s)', v_expired.claimed_by)
         WHERE o.id = v_expired.id;
        PERFORM m10_recovery.dead_letter_outbox(
            v_expired.id, format('gave up after %s attempts: the last lease expired', p_max_attempts), v_now);
    END LOOP;

    RETURN QUERY
    UPDATE m10_recovery.outbox o
       SET retry_count   = o.retry_count + (o.claimed_by IS NOT NULL)::integer,
           last_error    = CASE WHEN o.claimed_by IS NOT NULL
                                THEN format('lease expired (processor %s)', o.claimed_by)
                                ELSE o.last_error END,
           claimed_by    = p_processor_id,
           claimed_at    = v_now,
           next_retry_at = v_now + make_interval(secs => p_lease_seconds),
           updated_at    = v_now
     WHERE o.id = ANY (v_ids)
    RETURNING o.id, o.event_id, o.event_type, o.aggregate_type, o.aggregate_id, o.payload, o.retry_count,
              o.created_at, o.next_retry_at;
END;
$$;

COMMENT ON FUNCTION m10_recovery.claim_outbox(text, integer, integer, integer, timestamptz) IS
'Lease up to p_batch_size due outbox events to p_processor_id with FOR UPDATE SKIP LOCKED, so
concurrent processors never hold the same event: unprocessed events whose next_retry_at has come,
earliest first. The lease is persisted: next_retry_at becomes now + p_lease_seconds (1 .. 86400) and
claimed_by the processor; an event neither completed nor failed by then is claimed again by the next
processor, and that expiry counts as a failed attempt (retry_count + 1, last_error ''lease
expired''); an expiry that reaches p_max_attempts moves the event to outbox_dead_letter instead.
retry_count in the result is the number of failed attempts before this one.';
