CREATE OR REPLACE FUNCTION m10_recovery.release_lock(
    p_lock_name text,
    p_holder_id text
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_lock_name IS NULL OR p_holder_id IS NULL THEN
        RAISE EXCEPTION 'p_lock_name and p_holder_id are required' USING ERRCODE = '22023';
    END IF;
    DELETE FROM m10_recovery.distributed_locks l
     WHERE l.lock_name = p_lock_name AND l.holder_id = p_holder_id;
    RETURN FOUND;
END;
$$;

COMMENT ON FUNCTION m10_recovery.release_lock(text, text) IS
'Release the lock p_lock_name if p_holder_id holds it (expired or not). Returns false, changing
nothing, when the lock is free or held by another holder: a holder whose lock expired and was taken
over cannot release the new holder''s lock.';
