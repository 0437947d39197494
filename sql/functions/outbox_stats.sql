CREATE OR REPLACE FUNCTION m10_recovery.outbox_stats(
    p_now timestamptz DEFAULT NULL
) RETURNS TABLE (
    pending                    bigint,
    retrying                   bigint,
    in_flight                  bigint,
    lease_expired              bigint,
    processed                  bigint,
    dead                       bigint,
    oldest_pending_age_seconds double precision
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FILTER (WHERE o.processed_at IS NULL AND o.claimed_by IS NULL AND o.next_retry_at <= n.now),
           count(*) FILTER (WHERE o.processed_at IS NULL AND o.claimed_by IS NULL AND o.next_retry_at > n.now),
           count(*) FILTER (WHERE o.processed_at IS NULL AND o.claimed_by IS NOT NULL AND o.next_retry_at > n.now),
           count(*) FILTER (WHERE o.processed_at IS NULL AND o.claimed_by IS NOT NULL AND o.next_retry_at <= n.now),
           count(*) FILTER (WHERE o.processed_at IS NOT NULL),
           (SELECT count(*) FROM m10_recovery.outbox_dead_letter),
           coalesce(extract(epoch FROM n.now - min(o.created_at) FILTER (WHERE o.processed_at IS NULL)), 0)::double precision
      FROM (SELECT coalesce(p_now, now()) AS now) n
      LEFT JOIN m10_recovery.outbox o ON true
     GROUP BY n.now
$$;

COMMENT ON FUNCTION m10_recovery.outbox_stats(timestamptz) IS
'One row of outbox counts: pending (due, unclaimed), retrying (waiting for a retry''s backoff),
in_flight (leased, lease running), lease_expired (leased, the processor is gone: claimed again
next), processed, dead (rows of outbox_dead_letter), and the age in seconds of the oldest
unprocessed event (0 when none; the runbook''s outbox lag).';
