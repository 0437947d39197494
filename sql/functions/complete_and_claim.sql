CREATE OR REPLACE FUNCTION m10_recovery.complete_and_claim(
    p_worker_id     text,
    p_completed_ids bigint[],
    p_batch_size    integer     DEFAULT 10,
    p_lease_seconds integer     DEFAULT 300,
    p_method        text        DEFAULT NULL,
    p_now           timestamptz DEFAULT NULL
) RETURNS SETOF m10_recovery.claimed_work
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Plan once per session (re-planning the claim cost about 120 us a call) and keep that plan on the
-- indexes: a generic plan built while the queue was empty must not be a sequential scan and sort.
-- jit = off, because the disabled-path costs would otherwise cross jit_above_cost.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_sort = off
SET jit = off
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_lease timestamptz;
BEGIN
    IF p_worker_id IS NULL OR p_worker_id !~ '[^[:space:]]' OR length(p_worker_id) > 200 THEN
        RAISE EXCEPTION 'p_worker_id must be a non-empty name of at most 200 characters'
            USING ERRCODE = '22023';
    END IF;
    -- 0 completes without claiming: a worker that stops, or whose queue ran dry, finishes its batch.
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 0 AND 10000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 0 and 10000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400 (one day), got %',
                        coalesce(p_lease_seconds::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A long job should extend its lease (extend_work_lease) rather than take a huge one.';
    END IF;
    IF p_method IS NOT NULL AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_methods m WHERE m.name = p_method) THEN
        RAISE EXCEPTION 'unknown work method %', quote_literal(p_method)
            USING ERRCODE = '22023',
                  HINT = 'Known methods are the rows of m10_recovery.work_methods.';
    END IF;
    v_lease := v_now + make_interval(secs => p_lease_seconds);

    IF cardinality(p_completed_ids) > 0 THEN
        -- Written as a CASE so that the planner cannot read "state = 'claimed'" out of it: with it,
        -- the generic plan scanned the whole lease index (every item claimed by any worker, and
        -- the dead entries since the last vacuum) and filtered by id, instead of probing the
        -- primary key once per id.
        DELETE FROM m10_recovery.work_queue
         WHERE id = ANY (p_completed_ids)
           AND CASE WHEN state = 'claimed' THEN claimed_by = p_worker_id END;
    END IF;
    IF p_batch_size = 0 THEN
        RETURN;
    END IF;

    -- Items whose lease expired come first (their worker is gone and they have waited longest), then
    -- pending items by priority and age. An expired item on its last attempt is not handed out
    -- again: it goes to the dead state in the same statement, so a poison item that crashes its
    -- worker cannot crash workers forever.
    RETURN QUERY
    WITH picked AS (
        SELECT e.id FROM (
            SELECT w.id
              FROM m10_recovery.work_queue w
             WHERE w.state = 'claimed' AND w.available_at <= v_now
               AND (p_method IS NULL OR w.method = p_method)
             ORDER BY w.available_at, w.id
             LIMIT p_batch_size
               FOR UPDATE SKIP LOCKED) e
        UNION ALL
        SELECT r.id FROM (
            SELECT w.id
              FROM m10_recovery.work_queue w
             WHERE w.state = 'pending' AND w.available_at <= v_now
               AND (p_method IS NULL OR w.method = p_method)
             ORDER BY w.priority DESC, w.available_at, w.id
             LIMIT p_batch_size
               FOR UPDATE SKIP LOCKED) r
        LIMIT p_batch_size
    ), changed AS (
        UPDATE m10_recovery.work_queue w
           SET state         = CASE WHEN w.attempts < w.max_attempts THEN 'claimed' ELSE 'dead' END,
               attempts      = least(w.attempts + 1, w.max_attempts),
               claimed_at    = CASE WHEN w.attempts < w.max_attempts THEN v_now ELSE w.claimed_at END,
               claimed_by    = CASE WHEN w.attempts < w.max_attempts THEN p_worker_id ELSE w.claimed_by END,
               available_at  = CASE WHEN w.attempts < w.max_attempts THEN v_lease ELSE w.available_at END,
               processed_at  = CASE WHEN w.attempts < w.max_attempts THEN NULL ELSE v_now END,
               error_message = CASE WHEN w.attempts < w.max_attempts THEN w.error_message
                                    ELSE format('lease expired on attempt %s of %s (worker %s)',
                                                w.attempts, w.max_attempts, w.claimed_by) END
         WHERE w.id = ANY (ARRAY(SELECT p.id FROM picked p))  -- primary-key lookups, never a hash join
        RETURNING w.id, w.candidate_id, w.method, w.payload, w.priority, w.attempts, w.max_attempts,
                  w.created_at, w.claimed_at, w.available_at, w.state
    )
    SELECT c.id, c.candidate_id, c.method, c.payload, c.priority::integer, c.attempts::integer,
           c.max_attempts::integer, c.created_at, c.claimed_at, c.available_at
      FROM changed c
     WHERE c.state = 'claimed'
     ORDER BY c.priority DESC, c.id;
END;
$$;

COMMENT ON FUNCTION m10_recovery.complete_and_claim(text, bigint[], integer, integer, text, timestamptz) IS
'Complete the items in p_completed_ids (successes: they are deleted) and claim the next batch, in one
round trip and one commit, so a worker loop pays one commit per batch instead of two. A
p_batch_size of 0 only completes. Only items
still claimed by p_worker_id are completed; the others (taken over after a lease expiry, or already
finished) are left unchanged; failures go through complete_work. The claim is claim_work''s: FOR
UPDATE SKIP LOCKED, expired leases first, then pending items by priority and age, each a lease of
p_lease_seconds; an expired item on its last attempt goes to dead instead.';
