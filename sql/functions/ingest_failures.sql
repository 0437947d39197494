CREATE OR REPLACE FUNCTION m10_recovery.ingest_failures(
    p_failures jsonb,
    p_source   text        DEFAULT NULL,
    p_priority integer     DEFAULT 0,
    p_now      timestamptz DEFAULT NULL
) RETURNS TABLE (
    ordinal          integer,
    candidate_id     bigint,
    status           text,
    is_duplicate     boolean,
    occurrence_count integer,
    error_signature  text,
    work_id          bigint
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    c_uuid      constant text := '^(\{[0-9A-Fa-f]{4}(-?[0-9A-Fa-f]{4}){7}\}|[0-9A-Fa-f]{4}(-?[0-9A-Fa-f]{4}){7})$';
    v_now       timestamptz := coalesce(p_now, now());
    v_total     integer;
    v_max_bytes bigint;
    v_elem      jsonb;
    v_ord       integer;
    v_label     text;
    v_value     jsonb;
    v_text      text;
    v_fmid      uuid;
    v_key       uuid;
    v_source    text;
    v_input     jsonb;
    v_signature text;
    v_has_keys  boolean := false;
    v_bad       record;
    v_tries     integer := 0;
    v_expected  integer;
    v_recorded  integer;
    v_work_cand bigint[];
    v_work_ord  integer[];
    v_work_ids  bigint[];
    -- Per element, indexed by its 1-based position in p_failures.
    a_fmid      uuid[]     := '{}';
    a_key       uuid[]     := '{}';
    a_source    text[]     := '{}';
    a_hash      text[]     := '{}';
    a_input     jsonb[]    := '{}';
    a_message   text[]     := '{}';
    a_code      text[]     := '{}';
    a_skill     text[]     := '{}';
    a_tenant    text[]     := '{}';
    a_sig       text[]     := '{}';
    a_template  text[]     := '{}';
    a_version   smallint[] := '{}';
    a_tmpl_id   bigint[]   := '{}';
    a_tmpl_prov jsonb[]    := '{}';
    -- What this call did with each element: applied (candidate, count after it, accepted or not),
    -- or replayed (the recorded first use, or the ordinal of the first use in this batch).
    r_cand      bigint[];
    r_count     integer[];
    r_status    text[];
    r_seq       integer[];
    r_eval      text[];
    r_decision  text[];
    r_prior     bigint[];
    r_prior_st  text[];
    r_prior_h   text[];
    r_first     integer[];
    r_work      bigint[];
BEGIN
    IF p_failures IS NULL OR jsonb_typeof(p_failures) <> 'array' THEN
        RAISE EXCEPTION 'p_failures must be a JSON array of failures, got %',
                        coalesce('a JSON ' || jsonb_typeof(p_failures), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    v_total := jsonb_array_length(p_failures);
    IF v_total > 10000 THEN
        RAISE EXCEPTION 'p_failures holds % failures; the limit is 10000 per call', v_total
            USING ERRCODE = '54000';
    END IF;
    IF p_source IS NOT NULL AND (btrim(p_source, E' \t\r\n') = '' OR length(p_source) > 200) THEN
        RAISE EXCEPTION 'p_source must be NULL or a non-blank name of at most 200 characters, got % characters',
                        length(p_source)
            USING ERRCODE = '22023';
    END IF;
    IF p_priority IS NULL OR p_priority NOT BETWEEN -32768 AND 32767 THEN
        RAISE EXCEPTION 'p_priority must be between -32768 and 32767, got %', coalesce(p_priority::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF v_total = 0 THEN
        RETURN;
    END IF;
    SELECT (s.value #>> '{}')::bigint INTO v_max_bytes FROM m10_recovery.settings s WHERE s.key = 'max_payload_bytes';
    v_max_bytes := coalesce(v_max_bytes, 1048576);

    -- 1. Validate and normalise every element, in order; the first invalid one rejects the batch.
    FOR v_elem, v_ord IN SELECT e.value, e.ordinality::integer FROM jsonb_array_elements(p_failures) WITH ORDINALITY AS e
    LOOP
        v_label := 'p_failures[' || v_ord || ']';
        IF jsonb_typeof(v_elem) <> 'object' THEN
            RAISE EXCEPTION '% must be a JSON object, got %', v_label, jsonb_typeof(v_elem) USING ERRCODE = '22023';
        END IF;
        IF (v_elem - ARRAY['failure_match_id', 'failure_payload', 'idempotency_key', 'source']) <> '{}'::jsonb THEN
            SELECT k INTO v_text
              FROM jsonb_object_keys(v_elem - ARRAY['failure_match_id', 'failure_payload', 'idempotency_key', 'source']) AS k
             ORDER BY k LIMIT 1;
            RAISE EXCEPTION '% has an unknown field %', v_label, to_jsonb(v_text)::text
                USING ERRCODE = '22023',
                      HINT = 'The fields are failure_match_id, failure_payload, idempotency_key and source.';
        END IF;

        v_value := v_elem->'failure_match_id';
        IF v_value IS NULL OR jsonb_typeof(v_value) = 'null' THEN
            RAISE EXCEPTION '%.failure_match_id is required', v_label USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v_value) <> 'string' THEN
            RAISE EXCEPTION '%.failure_match_id must be a string holding a UUID, got %', v_label, jsonb_typeof(v_value)
                USING ERRCODE = '22023';
        END IF;
        v_text := v_value #>> '{}';
        IF v_text !~ c_uuid THEN
            RAISE EXCEPTION '%.failure_match_id is not a UUID: %', v_label, left(v_value::text, 80)
                USING ERRCODE = '22023';
        END IF;
        v_fmid := v_text::uuid;

        v_key := NULL;
        v_value := v_elem->'idempotency_key';
        IF v_value IS NOT NULL AND jsonb_typeof(v_value) <> 'null' THEN
            IF jsonb_typeof(v_value) <> 'string' THEN
                RAISE EXCEPTION '%.idempotency_key must be a string holding a UUID, got %', v_label,
                                jsonb_typeof(v_value)
                    USING ERRCODE = '22023';
            END IF;
            v_text := v_value #>> '{}';
            IF v_text !~ c_uuid THEN
                RAISE EXCEPTION '%.idempotency_key is not a UUID: %', v_label, left(v_value::text, 80)
                    USING ERRCODE = '22023';
            END IF;
            v_key := v_text::uuid;
            v_has_keys := true;
        END IF;

        v_source := p_source;
        v_value := v_elem->'source';
        IF v_value IS NOT NULL AND jsonb_typeof(v_value) <> 'null' THEN
            IF jsonb_typeof(v_value) <> 'string' THEN
                RAISE EXCEPTION '%.source must be a string, got %', v_label, jsonb_typeof(v_value)
                    USING ERRCODE = '22023';
            END IF;
            v_source := v_value #>> '{}';
            IF btrim(v_source, E' \t\r\n') = '' OR length(v_source) > 200 THEN
                RAISE EXCEPTION '%.source must be a non-blank name of at most 200 characters, got % characters',
                                v_label, length(v_source)
                    USING ERRCODE = '22023';
            END IF;
        END IF;

        v_input := m10_recovery.normalize_failure_payload(v_elem->'failure_payload', v_label || '.failure_payload',
                                                          v_max_bytes);
        a_fmid     := array_append(a_fmid, v_fmid);
        a_key      := array_append(a_key, v_key);
        a_source   := array_append(a_source, v_source);
        a_hash     := array_append(a_hash, CASE WHEN v_key IS NOT NULL THEN
                          encode(sha256(convert_to(jsonb_build_array(v_fmid, v_source,
                                                                     v_elem->'failure_payload')::text, 'UTF8')), 'hex')
                      END);
        a_input    := array_append(a_input, v_input);
        a_message  := array_append(a_message, v_input->>'message');
        a_code     := array_append(a_code, v_input->>'error_code');
        a_skill    := array_append(a_skill, v_input->>'skill');
        a_tenant   := array_append(a_tenant, v_input->>'tenant');
    END LOOP;

    -- The fingerprints (v3, learned templates), in element order, of at most the first 64 KiB of
    -- each message; error_message keeps it whole.
    SELECT array_agg(l.error_signature ORDER BY l.ordinal), array_agg(l.template ORDER BY l.ordinal),
           array_agg(l.template_id ORDER BY l.ordinal), array_agg(l.provenance ORDER BY l.ordinal)
      INTO a_sig, a_template, a_tmpl_id, a_tmpl_prov
      FROM m10_recovery.learn_templates(ARRAY(SELECT i->>'error_code' FROM unnest(a_input) AS i),
                                        ARRAY(SELECT left(m, 65536) FROM unnest(a_message) AS m), v_now) AS l;
    SELECT t.sig INTO v_signature FROM unnest(a_sig) AS t(sig) WHERE t.sig IS NULL OR t.sig !~ '^v[0-9]{1,4}:' LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'learn_template returned %, which has no version prefix vN:',
                        coalesce(quote_literal(v_signature), 'NULL')
            USING ERRCODE = 'XX000';
    END IF;
    a_version := ARRAY(SELECT substr(split_part(t.sig, ':', 1), 2)::smallint
                         FROM unnest(a_sig) WITH ORDINALITY AS t(sig, n) ORDER BY t.n);

    -- A key used twice in the batch must carry the same request both times.
    IF v_has_keys THEN
        SELECT t.ord, t.key, t.first_ord INTO v_bad
          FROM (SELECT u.ord, u.key, u.hash,
                       first_value(u.hash) OVER w AS first_hash, first_value(u.ord) OVER w AS first_ord
                  FROM unnest(a_key, a_hash) WITH ORDINALITY AS u(key, hash, ord)
                 WHERE u.key IS NOT NULL
                WINDOW w AS (PARTITION BY u.key ORDER BY u.ord)) t
         WHERE t.hash <> t.first_hash
         ORDER BY t.ord LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'p_failures[%].idempotency_key % was already used with a different payload',
                            v_bad.ord, v_bad.key
                USING ERRCODE = '22023',
                      DETAIL = format('p_failures[%s] used it first in this batch.', v_bad.first_ord),
                      HINT = 'Use a new idempotency key for a new failure report.';
        END IF;
    END IF;

    -- 2. Write. With idempotency keys, a concurrent first use of a key can commit between our
    -- lookup and our record of it; then this attempt is undone and replayed with the key now visible.
    LOOP
        v_tries := v_tries + 1;
        BEGIN
            -- One upsert per identity, in identity order (concurrent batches lock rows in the same
            -- order, so they cannot deadlock); an identity n times in the batch counts n.
            -- The CTEs carry the identity and ordinal only: the columns written are read from the
            -- arrays by ordinal, not copied through every materialised step and sort.
            WITH el AS (
                SELECT t.ord::integer AS ord, t.fmid, t.key, t.sig
                  FROM unnest(a_fmid, a_key, a_sig) WITH ORDINALITY AS t(fmid, key, sig, ord)
            ),
            classified AS (
                SELECT e.*, p.candidate_id AS prior_cand, p.status AS prior_status, p.payload_sha256 AS prior_hash,
                       CASE WHEN e.key IS NOT NULL THEN min(e.ord) OVER (PARTITION BY e.key) END AS key_first
                  FROM el e
                  -- LATERAL: one primary-key probe per keyed element; a join could be planned as a
                  -- scan of every key ever recorded, on every batch.
                  LEFT JOIN LATERAL (SELECT r.candidate_id, r.status, r.payload_sha256
                                       FROM m10_recovery.ingest_requests r
                                      WHERE e.key IS NOT NULL AND r.idempotency_key = e.key) p ON true
            ),
            app AS (
                SELECT c.*, row_number() OVER w AS seq, count(*) OVER (PARTITION BY c.fmid, c.sig) AS n
                  FROM classified c
                 WHERE c.prior_cand IS NULL AND (c.key IS NULL OR c.key_first = c.ord)
                WINDOW w AS (PARTITION BY c.fmid, c.sig ORDER BY c.ord)
            ),
            ups AS (
                INSERT INTO m10_recovery.recovery_candidates AS rc
                       (failure_match_id, error_signature, signature_version, error_code, message_template,
                        error_message, source, skill, tenant, idempotency_key, occurrence_count,
                        first_seen_at, last_seen_at, created_at, updated_at, template_id)
                SELECT a.fmid, a.sig, a_version[a.ord], a_code[a.ord], a_template[a.ord], nullif(a_message[a.ord], ''),
                       a_source[a.ord], a_skill[a.ord], a_tenant[a.ord], a.key, a.n, v_now, v_now, v_now, v_now,
                       a_tmpl_id[a.ord]
                  FROM app a
                 WHERE a.seq = 1
                 ORDER BY a.fmid, a.sig COLLATE "C"
                ON CONFLICT (failure_match_id, error_signature) DO UPDATE
                   SET occurrence_count = rc.occurrence_count + EXCLUDED.occurrence_count,
                       last_seen_at     = greatest(rc.last_seen_at, EXCLUDED.last_seen_at),
                       updated_at       = greatest(rc.updated_at, EXCLUDED.updated_at)
                RETURNING rc.id, rc.failure_match_id, rc.error_signature, rc.occurrence_count,
                          rc.evaluation_state, rc.decision
            )
            SELECT array_agg(u.id ORDER BY c.ord),
                   -- the count after this element, as if the batch were reported one by one
                   array_agg((u.occurrence_count - a.n + a.seq)::integer ORDER BY c.ord),
                   array_agg(CASE WHEN u.id IS NULL THEN NULL
                                  WHEN u.occurrence_count = a.n AND a.seq = 1 THEN 'accepted'
                                  ELSE 'duplicate' END ORDER BY c.ord),
                   array_agg(a.seq::integer ORDER BY c.ord),
                   array_agg(u.evaluation_state ORDER BY c.ord),
                   array_agg(u.decision ORDER BY c.ord),
                   array_agg(c.prior_cand ORDER BY c.ord),
                   array_agg(c.prior_status ORDER BY c.ord),
                   array_agg(c.prior_hash ORDER BY c.ord),
                   array_agg(CASE WHEN c.prior_cand IS NULL AND c.key_first <> c.ord THEN c.key_first END
                             ORDER BY c.ord)
              INTO r_cand, r_count, r_status, r_seq, r_eval, r_decision, r_prior, r_prior_st, r_prior_h, r_first
              FROM classified c
              LEFT JOIN app a ON a.ord = c.ord
              LEFT JOIN ups u ON u.failure_match_id = a.fmid AND u.error_signature = a.sig;

            -- A key recorded before this batch: a replay if the request is the same, else an error
            -- (which undoes the whole call).
            IF v_has_keys THEN
                SELECT t.ord, t.key, t.prior INTO v_bad
                  FROM unnest(a_key, a_hash, r_prior, r_prior_h) WITH ORDINALITY AS t(key, hash, prior, prior_h, ord)
                 WHERE t.prior IS NOT NULL AND t.prior_h <> t.hash
                 ORDER BY t.ord LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'p_failures[%].idempotency_key % was already used with a different payload',
                                    v_bad.ord, v_bad.key
                        USING ERRCODE = '22023',
                              DETAIL = format('Its first use recorded candidate %s. The key covers '
                                              'failure_match_id, source and the payload.', v_bad.prior),
                              HINT = 'Use a new idempotency key for a new failure report.';
                END IF;
            END IF;

            -- Record first uses of keys. A key that is taken now was first used by a transaction
            -- that committed after our lookup: undo this attempt and look again.
            IF v_has_keys THEN
                SELECT count(*) INTO v_expected
                  FROM unnest(a_key, r_cand) AS t(key, cand)
                 WHERE t.key IS NOT NULL AND t.cand IS NOT NULL;
                INSERT INTO m10_recovery.ingest_requests AS r
                       (idempotency_key, payload_sha256, candidate_id, status, created_at)
                SELECT t.key, t.hash, t.cand, t.status, v_now
                  FROM unnest(a_key, a_hash, r_cand, r_status) AS t(key, hash, cand, status)
                 WHERE t.key IS NOT NULL AND t.cand IS NOT NULL
                 ORDER BY t.key
                ON CONFLICT (idempotency_key) DO NOTHING;
                GET DIAGNOSTICS v_recorded = ROW_COUNT;
                IF v_recorded < v_expected THEN
                    RAISE EXCEPTION 'an idempotency key of this batch was used concurrently' USING ERRCODE = 'M1I01';
                END IF;
            END IF;

            -- Evaluation: each new candidate; a repeated one only when it is evaluated, still
            -- undecided and has no evaluate item waiting (a running one may predate this report) (looked up after the upsert, so
            -- a concurrent batch that enqueued one and committed is seen).
            SELECT array_agg(t.cand ORDER BY t.cand), array_agg(t.ord::integer ORDER BY t.cand)
              INTO v_work_cand, v_work_ord
              FROM unnest(r_cand, r_status, r_seq, r_eval, r_decision) WITH ORDINALITY
                   AS t(cand, status, seq, eval, decision, ord)
             WHERE t.seq = 1
               AND (t.status = 'accepted'
                    OR (t.decision = 'pending' AND t.eval = 'evaluated'
                        AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_queue w
                                         WHERE w.candidate_id = t.cand AND w.method = 'evaluate'
                                           AND w.state = 'pending')));
            r_work := array_fill(NULL::bigint, ARRAY[v_total]);
            IF v_work_cand IS NOT NULL THEN
                -- Inserted here rather than through enqueue_work_batch, as ingest_failure does: the
                -- arguments are known valid (p_priority was checked above), so its checks are skipped.
                -- v_work_cand is ascending and holds each candidate once, so ids sorted by
                -- candidate line up with it.
                WITH ins AS (
                    INSERT INTO m10_recovery.work_queue (candidate_id, method, payload, priority, max_attempts,
                                                         available_at, created_at)
                    SELECT c.cand, m.name, '{}'::jsonb, p_priority, m.default_max_attempts, v_now, v_now
                      FROM unnest(v_work_cand) WITH ORDINALITY AS c(cand, n)
                      JOIN m10_recovery.work_methods m ON m.name = 'evaluate'
                     ORDER BY c.n
                    RETURNING id, candidate_id
                )
                SELECT array_agg(i.id ORDER BY i.candidate_id) INTO v_work_ids FROM ins i;
                IF v_work_ids IS NULL THEN
                    RAISE EXCEPTION 'work method ''evaluate'' is missing from m10_recovery.work_methods'
                        USING ERRCODE = '55000', HINT = 'Run m10 db migrate to restore the seeded methods.';
                END IF;
                FOR i IN 1 .. cardinality(v_work_cand) LOOP
                    r_work[v_work_ord[i]] := v_work_ids[i];
                END LOOP;
            END IF;

            INSERT INTO m10_recovery.suggestion_input (candidate_id, input_type, source, value, created_at)
            SELECT t.cand, 'failure', t.src, t.input, v_now
              FROM unnest(r_cand, a_source, a_input) WITH ORDINALITY AS t(cand, src, input, ord)
             WHERE t.cand IS NOT NULL
             ORDER BY t.ord;

            INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
            SELECT t.cand,
                   CASE t.status WHEN 'accepted' THEN 'ingested' ELSE 'repeated' END,
                   coalesce(t.src, 'ingest'),
                   CASE t.status
                       WHEN 'accepted' THEN
                           jsonb_build_object('error_signature', t.sig, 'signature_version', t.ver,
                                              'error_code', t.input->>'error_code', 'message_template', t.tmpl,
                                              'input', t.input, 'source', t.src, 'idempotency_key', t.key,
                                              'occurrence_count', t.cnt, 'work_id', t.work, 'template', t.prov)
                       ELSE
                           jsonb_build_object('error_signature', t.sig, 'occurrence_count', t.cnt,
                                              'source', t.src, 'idempotency_key', t.key, 'work_id', t.work,
                                              'template', t.prov)
                   END,
                   v_now
              FROM unnest(r_cand, r_status, r_count, r_work, a_sig, a_version, a_template, a_input, a_source, a_key,
                          a_tmpl_prov)
                   WITH ORDINALITY AS t(cand, status, cnt, work, sig, ver, tmpl, input, src, key, prov, ord)
             WHERE t.cand IS NOT NULL
             ORDER BY t.ord;
            -- The batch's new candidates, published in input order. One INSERT into the outbox, as
            -- publish_outbox_batch would make, without its checks of arguments built right here.
            INSERT INTO m10_recovery.outbox (event_type, payload, aggregate_type, aggregate_id, next_retry_at,
                                             created_at, updated_at)
            SELECT 'recovery.candidate.created',
                   jsonb_build_object('candidate_id', t.cand, 'failure_match_id', t.fmid, 'error_signature', t.sig,
                                      'error_code', t.input->>'error_code', 'source', t.src),
                   'candidate', t.cand::text, v_now, v_now, v_now
              FROM unnest(r_cand, r_status, r_seq, a_fmid, a_sig, a_input, a_source)
                   WITH ORDINALITY AS t(cand, status, seq, fmid, sig, input, src, ord)
             WHERE t.status = 'accepted' AND t.seq = 1
             ORDER BY t.ord;
            EXIT;
        EXCEPTION WHEN SQLSTATE 'M1I01' THEN
            IF v_tries >= 10 THEN
                RAISE EXCEPTION 'the idempotency keys of this batch kept being used concurrently; retry'
                    USING ERRCODE = '40001';
            END IF;
        END;
    END LOOP;

    -- 3. One row per element, in order. A replay answers as its first use did, with the count as
    -- now stored and no work item.
    RETURN QUERY
    SELECT t.ord::integer,
           c.id,
           coalesce(t.status, t.prior_st, r_status[t.first]),
           coalesce(t.status, t.prior_st, r_status[t.first]) = 'duplicate',
           CASE WHEN t.cand IS NOT NULL THEN t.cnt ELSE c.occurrence_count END,
           CASE WHEN t.cand IS NOT NULL THEN a_sig[t.ord] ELSE c.error_signature END,
           t.work
      FROM unnest(r_cand, r_count, r_status, r_work, r_prior, r_prior_st, r_first)
           WITH ORDINALITY AS t(cand, cnt, status, work, prior, prior_st, first, ord)
      JOIN m10_recovery.recovery_candidates c ON c.id = coalesce(t.cand, t.prior, r_cand[t.first])
     ORDER BY t.ord;
END;
$$;

COMMENT ON FUNCTION m10_recovery.ingest_failures(jsonb, text, integer, timestamptz) IS
'Record many failure reports in one call and one transaction, all or nothing, with the semantics of
ingest_failure applied to the elements in order. p_failures is a JSON array of at most 10000 objects
{"failure_match_id": uuid string, "failure_payload": object, "idempotency_key": optional uuid
string, "source": optional string overriding p_source}; an empty array returns no rows. Returns one
row per element, ordered by ordinal (its 1-based position): candidate_id, status, is_duplicate,
occurrence_count (the count after that element, as if the batch were sent one by one), error_signature
and work_id. The same identity n times in one batch counts n (the first is ''accepted'' when new).
Idempotency keys work as in ingest_failure and across both functions: a recorded key with the same
request replays its first answer, a key repeated in the batch replays its first use there, and a key
with another request raises 22023 naming the element; a first use that races another transaction''s
is undone and replayed, never an error. Candidates are upserted in identity order, so concurrent
batches with overlapping identities do not deadlock. An invalid element rejects the whole batch with
22023 (54000 over a size limit) naming it, e.g. p_failures[3].failure_match_id is not a UUID;
unknown element fields are refused.';
