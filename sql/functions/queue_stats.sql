CREATE OR REPLACE FUNCTION m10_recovery.queue_stats(
    p_now timestamptz DEFAULT NULL
) RETURNS TABLE (
    method                     text,
    ready                      bigint,
    delayed                    bigint,
    claimed                    bigint,
    lease_expired              bigint,
    dead                       bigint,
    oldest_ready_age_seconds   double precision
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.name,
           count(*) FILTER (WHERE w.state = 'pending' AND w.available_at <= coalesce(p_now, now())),
           count(*) FILTER (WHERE w.state = 'pending' AND w.available_at > coalesce(p_now, now())),
           count(*) FILTER (WHERE w.state = 'claimed' AND w.available_at > coalesce(p_now, now())),
           count(*) FILTER (WHERE w.state = 'claimed' AND w.available_at <= coalesce(p_now, now())),
           count(*) FILTER (WHERE w.state = 'dead'),
           coalesce(extract(epoch FROM coalesce(p_now, now()) - min(w.available_at)
                    FILTER (WHERE w.state = 'pending' AND w.available_at <= coalesce(p_now, now())))::double precision, 0)
      FROM m10_recovery.work_methods m
      LEFT JOIN m10_recovery.work_queue w ON w.method = m.name
     GROUP BY m.name
     ORDER BY m.name
$$;

COMMENT ON FUNCTION m10_recovery.queue_stats(timestamptz) IS
'Work queue counts per method: ready (claimable now), delayed (waiting for a delay or a retry
backoff), claimed (lease running), lease_expired (claimed but the lease ran out: claimable again),
dead, and how long the oldest ready item has been claimable, in seconds. Completed items are deleted
at completion, so they are not counted here.';
