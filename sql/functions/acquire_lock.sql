CREATE OR REPLACE FUNCTION m10_recovery.acquire_lock(
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
    IF p_lock_name IS NULL OR p_lock_name !~ '[^[:space:]]' OR length(p_lock_name) > 200 THEN
        RAISE EXCEPTION 'p_lock_name must be a non-blank name of at most 200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_holder_id IS NULL OR p_holder_id !~ '[^[:space:]]' OR length(p_holder_id) > 200 THEN
        RAISE EXCEPTION 'p_holder_id must be a non-blank name of at most 200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_ttl_seconds IS NULL OR p_ttl_seconds NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'p_ttl_seconds must be between 1 and 86400, got %', coalesce(p_ttl_seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- The primary key arbitrates: a free name is inserted, an expired lock is taken over, and a
    -- live one stays with its holder (the same holder acquiring again renews it).
    INSERT INTO m10_recovery.distributed_locks AS l (lock_name, holder_id, acquired_at, expires_at)
    VALUES (p_lock_name, p_holder_id, v_now, v_now + make_interval(secs => p_ttl_seconds))
    ON CONFLICT (lock_name) DO UPDATE
       SET holder_id    = EXCLUDED.holder_id,
           acquired_at  = CASE WHEN l.holder_id = EXCLUDED.holder_id AND l.expires_at > v_now
                               THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
           expires_at   = EXCLUDED.expires_at,
           extend_count = 0
     WHERE l.expires_at <= v_now OR l.holder_id = EXCLUDED.holder_id;
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION m10_recovery.acquire_lock(text, text, integer, timestamptz) IS
'Try to take the lock p_lock_name for p_holder_id for p_ttl_seconds (1 .. 86400); never waits.
Returns true when p_holder_id holds it now: the name was free, its lock had expired (a crashed
holder''s lock is taken over), or p_holder_id already held it (renewed). Returns false while another
holder''s lock is live. Blank or over-long names: 22023.';
