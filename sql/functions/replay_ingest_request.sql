CREATE OR REPLACE FUNCTION m10_recovery.replay_ingest_request(
    p_idempotency_key uuid,
    p_payload_sha256  text
) RETURNS TABLE (
    candidate_id     bigint,
    status           text,
    is_duplicate     boolean,
    occurrence_count integer,
    error_signature  text,
    work_id          bigint
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_prior record;
BEGIN
    SELECT r.payload_sha256, r.candidate_id, r.status, c.occurrence_count, c.error_signature
      INTO v_prior
      FROM m10_recovery.ingest_requests r
      JOIN m10_recovery.recovery_candidates c ON c.id = r.candidate_id
     WHERE r.idempotency_key = p_idempotency_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_prior.payload_sha256 <> p_payload_sha256 THEN
        RAISE EXCEPTION 'idempotency key % was already used with a different payload', p_idempotency_key
            USING ERRCODE = '22023',
                  DETAIL = format('Its first use recorded candidate %s. The key covers failure_match_id, '
                                  'source and the payload.', v_prior.candidate_id),
                  HINT = 'Use a new idempotency key for a new failure report.';
    END IF;
    RETURN QUERY SELECT v_prior.candidate_id, v_prior.status, v_prior.status = 'duplicate',
                        v_prior.occurrence_count, v_prior.error_signature, NULL::bigint;
END;
$$;

COMMENT ON FUNCTION m10_recovery.replay_ingest_request(uuid, text) IS
'The answer ingest_failure gave the first request with p_idempotency_key (work_id NULL: a replay
enqueues nothing), or no row when the key is unknown. Raises 22023 when the key was first used with
another request (p_payload_sha256 differs). ingest_failure checks before and after locking the
candidate, so a concurrent first use of the key is replayed too.';
