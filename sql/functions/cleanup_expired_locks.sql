CREATE OR REPLACE FUNCTION m10_recovery.cleanup_expired_locks(
    p_now timestamptz DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    DELETE FROM m10_recovery.distributed_locks l WHERE l.expires_at <= coalesce(p_now, now());
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.cleanup_expired_locks(timestamptz) IS
'Delete every expired lock and return how many (the reclaim_gc maintenance task). Not needed for
correctness, since acquire_lock takes an expired lock over, but keeps distributed_locks to live locks.';
