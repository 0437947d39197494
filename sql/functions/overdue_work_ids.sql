CREATE OR REPLACE FUNCTION m10_recovery.overdue_work_ids(
    p_grace_seconds double precision,
    p_batch_size    integer     DEFAULT 10,
    p_method        text        DEFAULT NULL,
    p_now           timestamptz DEFAULT NULL
) RETURNS bigint[]
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
BEGIN
    IF p_grace_seconds IS NULL OR NOT (p_grace_seconds BETWEEN 0 AND 86400) THEN
        RAISE EXCEPTION 'p_grace_seconds must be between 0 and 86400, got %', coalesce(p_grace_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'p_batch_size must be between 1 and 10000, got %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_method IS NOT NULL AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_methods m WHERE m.name = p_method) THEN
        RAISE EXCEPTION 'unknown work method %', quote_literal(p_method) USING ERRCODE = '22023';
    END IF;
    -- Expired leases first, then items ready for longer than the grace period: the stream had its
    -- chance to dispatch them (Redis down, data lost, entry trimmed, or just far behind).
    RETURN ARRAY(
        SELECT x.id FROM (
            SELECT e.id FROM (
                SELECT w.id
                  FROM m10_recovery.work_queue w
                 WHERE w.state = 'claimed' AND w.available_at <= v_now
                   AND (p_method IS NULL OR w.method = p_method)
                 ORDER BY w.available_at, w.id
                 LIMIT p_batch_size) e
            UNION ALL
            SELECT r.id FROM (
                SELECT w.id
                  FROM m10_recovery.work_queue w
                 WHERE w.state = 'pending'
                   AND w.available_at <= v_now - make_interval(secs => p_grace_seconds)
                   AND (p_method IS NULL OR w.method = p_method)
                 ORDER BY w.priority DESC, w.available_at, w.id
                 LIMIT p_batch_size) r
            LIMIT p_batch_size) x);
END;
$$;

COMMENT ON FUNCTION m10_recovery.overdue_work_ids(double precision, integer, text, timestamptz) IS
'The zero-loss sweep of stream workers: ids of up to p_batch_size items whose lease expired, then of
pending items ready for more than p_grace_seconds (0 .. 86400) and not completed: the stream lost
them (Redis restarted without persistence, FLUSHALL, a trimmed stream) or never had them (Redis was
down at ingest). Read without locks; claim them with claim_work_by_ids or evaluate_work_by_ids, which
lock with SKIP LOCKED and re-check each state. p_method restricts the sweep to one method.';
