CREATE OR REPLACE FUNCTION m10_recovery.extend_lock(
    p_lock_name   text,
    p_holder_id   text,
    p_ttl_seconds integer     DEFAULT 60,
    p_now         timestamptz DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
BEGIN
    IF p_lock_name IS NULL OR p_holder_id IS NULL THEN
        RAISE EXCEPTION 'p_lock_name and p_holder_id are required' USING ERRCODE = '22023';
    END IF;
    IF p_ttl_seconds IS NULL OR p_ttl_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_ttl_seconds must be between 1 and 86400, got %', coalesce(p_ttl_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- An expired lock cannot be extended, even by its last holder: someone else may have taken it,
    -- or may take it any moment, and two holders would each believe they hold it.
    UPDATE m10_recovery.distributed_locks l
       SET expires_at = v_now + make_interval(secs => p_ttl_seconds), extend_count = l.extend_count + 1
     WHERE l.lock_name = p_lock_name AND l.holder_id = p_holder_id AND l.expires_at > v_now;
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION m10_recovery.extend_lock(text, text, integer, timestamptz) IS
'Heartbeat of a held lock: move its expiry to now + p_ttl_seconds. Returns false, changing nothing,
when p_holder_id does not hold the lock or the lock has expired (extending an expired lock fails:
the holder must stop and acquire it again).';
