CREATE OR REPLACE FUNCTION m10_recovery.work_item_states(
    p_work_ids bigint[],
    p_now      timestamptz DEFAULT NULL
) RETURNS TABLE (
    work_id bigint,
    state   text
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.id,
           CASE WHEN w.id IS NULL THEN 'completed'
                WHEN w.state = 'claimed' AND w.available_at <= coalesce(p_now, now()) THEN 'lease_expired'
                ELSE w.state END
      FROM unnest(p_work_ids) AS i(id)
      LEFT JOIN m10_recovery.work_queue w ON w.id = i.id
     ORDER BY i.id
$$;

COMMENT ON FUNCTION m10_recovery.work_item_states(bigint[], timestamptz) IS
'The state of each named work item: pending, claimed (a lease is running), lease_expired, dead, or
completed (no longer in the queue: completed items are deleted). Read without locks, for a stream
worker deciding what to do with entries whose items it could not claim.';
