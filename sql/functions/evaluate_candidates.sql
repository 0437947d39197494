CREATE OR REPLACE FUNCTION m10_recovery.evaluate_candidates(
    p_candidate_ids bigint[],
    p_actor         text        DEFAULT 'evaluator',
    p_now           timestamptz DEFAULT NULL
) RETURNS TABLE (
    candidate_id     bigint,
    suggested_action text,
    confidence       numeric,
    rule_name        text,
    auto_approved    boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now  timestamptz := coalesce(p_now, now());
    v_ids  bigint[];
    v_id   bigint;
BEGIN
    IF p_candidate_ids IS NULL THEN
        RAISE EXCEPTION 'p_candidate_ids is required' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_candidate_ids) > 10000 THEN
        RAISE EXCEPTION 'at most 10000 candidates per call, got %', cardinality(p_candidate_ids)
            USING ERRCODE = '22023';
    END IF;
    IF array_position(p_candidate_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'p_candidate_ids must not contain NULL' USING ERRCODE = '22023';
    END IF;
    IF p_actor IS NULL OR p_actor !~ '[^[:space:]]' OR length(p_actor) > 200 THEN
        RAISE EXCEPTION 'p_actor must be a non-empty name of at most 200 characters' USING ERRCODE = '22023';
    END IF;

    -- Lock every existing candidate of the batch first, in identity order (failure_match_id, then
    -- error_signature in "C" collation): the order batch ingest upserts in, so an evaluation batch
    -- and an ingest batch over the same candidates wait for each other instead of deadlocking. Ids that do not exist
    -- (never ingested, or archived since the work was enqueued) drop out here.
    SELECT array_agg(l.id ORDER BY l.pos) INTO v_ids
      FROM (SELECT c.id, u.pos
              FROM (SELECT i.id, min(i.pos) AS pos
                      FROM unnest(p_candidate_ids) WITH ORDINALITY AS i(id, pos)
                     GROUP BY i.id) u
              JOIN m10_recovery.recovery_candidates c ON c.id = u.id
             ORDER BY c.failure_match_id, c.error_signature COLLATE "C"
               FOR UPDATE OF c) l;

    -- Then evaluate them in the order given (the first occurrence of a repeated id).
    FOREACH v_id IN ARRAY coalesce(v_ids, '{}'::bigint[]) LOOP
        RETURN QUERY SELECT * FROM m10_recovery.evaluate_candidate(v_id, p_actor, v_now);
    END LOOP;
END;
$$;

COMMENT ON FUNCTION m10_recovery.evaluate_candidates(bigint[], text, timestamptz) IS
'Evaluate a batch of candidates in one call (the worker''s batch), one evaluate_candidate per
distinct id, all with the same clock, returning one row per evaluated candidate in the order of the
first occurrence of each id. Ids of candidates that do not exist (never ingested, or archived since
their work was enqueued) are skipped: they have no row in the result, so the caller tells them apart
by difference and can complete their work instead of retrying it; the whole batch is not failed for
them. The rows are locked in id order before any is evaluated, so overlapping concurrent batches
cannot deadlock. NULL array or element, a blank actor, or more than 10000 ids: 22023.';
