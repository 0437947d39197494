CREATE OR REPLACE FUNCTION m10_recovery.ingest_failure(
    p_failure_match_id uuid,
    p_failure_payload  jsonb,
    p_source           text        DEFAULT NULL,
    p_idempotency_key  uuid        DEFAULT NULL,
    p_priority         integer     DEFAULT 0,
    p_now              timestamptz DEFAULT NULL
) RETURNS TABLE (
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
    v_now       timestamptz := coalesce(p_now, now());
    v_input     jsonb;
    v_code      text;
    v_message   text;
    v_signature text;
    v_template  text;
    v_version   smallint;
    v_hash      text;
    v_id        bigint;
    v_count     integer;
    v_eval      text;
    v_decision  text;
    v_inserted  boolean;
    v_work      bigint;
    v_tries     integer := 0;
    v_learned   record;
BEGIN
    IF p_failure_match_id IS NULL THEN
        RAISE EXCEPTION 'p_failure_match_id is required' USING ERRCODE = '22023';
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
    v_input := m10_recovery.normalize_failure_payload(p_failure_payload, 'failure_payload');

    -- A key already recorded: a pure replay of the first answer, or an error if the request differs.
    IF p_idempotency_key IS NOT NULL THEN
        v_hash := encode(sha256(convert_to(
                      jsonb_build_array(p_failure_match_id, p_source, p_failure_payload)::text, 'UTF8')), 'hex');
        RETURN QUERY SELECT * FROM m10_recovery.replay_ingest_request(p_idempotency_key, v_hash);
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    -- The fingerprint (v3, the learned template) reads at most the first 64 KiB of the message;
    -- error_message keeps it whole.
    v_code := v_input->>'error_code';
    v_message := v_input->>'message';
    -- learn_template's stages called here directly: one set-returning layer fewer on every ingest.
    SELECT * INTO v_learned
      FROM m10_recovery.learn_template_tokens(
               v_code, m10_recovery.template_tokens(m10_recovery.normalize_message(left(v_message, 65536))), v_now);
    v_template := v_learned.template;
    v_signature := v_learned.error_signature;
    IF v_signature IS NULL OR v_signature !~ '^v[0-9]{1,4}:' THEN
        RAISE EXCEPTION 'error_signature returned %, which has no version prefix vN:',
                        coalesce(quote_literal(v_signature), 'NULL')
            USING ERRCODE = 'XX000';
    END IF;
    v_version := substr(split_part(v_signature, ':', 1), 2)::smallint;

    IF p_idempotency_key IS NULL THEN
        -- The identity's one unique index (uq_rc_fmid_sig) arbitrates concurrent reports.
        INSERT INTO m10_recovery.recovery_candidates AS rc
               (failure_match_id, error_signature, signature_version, error_code, message_template,
                error_message, source, skill, tenant, first_seen_at, last_seen_at, created_at, updated_at,
                template_id)
        VALUES (p_failure_match_id, v_signature, v_version, v_code, v_template, nullif(v_message, ''),
                p_source, v_input->>'skill', v_input->>'tenant', v_now, v_now, v_now, v_now,
                v_learned.template_id)
        ON CONFLICT (failure_match_id, error_signature) DO UPDATE
           SET occurrence_count = rc.occurrence_count + 1,
               last_seen_at     = greatest(rc.last_seen_at, EXCLUDED.last_seen_at),
               updated_at       = greatest(rc.updated_at, EXCLUDED.updated_at)
        RETURNING rc.id, rc.occurrence_count, rc.evaluation_state, rc.decision
             INTO v_id, v_count, v_eval, v_decision;
        -- A new row has the count 1; an existing one at least 2 after the increment.
        v_inserted := v_count = 1;
    ELSE
        -- With a key, lock the candidate before counting: a concurrent first use of this key with
        -- this payload has the same identity, so it holds this row until it commits, and the key
        -- is looked up again once the lock is ours.
        LOOP
            v_tries := v_tries + 1;
            INSERT INTO m10_recovery.recovery_candidates AS rc
                   (failure_match_id, error_signature, signature_version, error_code, message_template,
                    error_message, source, skill, tenant, idempotency_key, first_seen_at, last_seen_at,
                    created_at, updated_at, template_id)
            VALUES (p_failure_match_id, v_signature, v_version, v_code, v_template, nullif(v_message, ''),
                    p_source, v_input->>'skill', v_input->>'tenant', p_idempotency_key, v_now, v_now, v_now,
                    v_now, v_learned.template_id)
            ON CONFLICT (failure_match_id, error_signature) DO NOTHING
            RETURNING rc.id INTO v_id;
            IF FOUND THEN
                v_inserted := true;
                v_count := 1;
                EXIT;
            END IF;
            SELECT c.id, c.evaluation_state, c.decision INTO v_id, v_eval, v_decision
              FROM m10_recovery.recovery_candidates c
             WHERE c.failure_match_id = p_failure_match_id AND c.error_signature = v_signature
               FOR UPDATE;
            IF FOUND THEN
                v_inserted := false;
                EXIT;
            END IF;
            IF v_tries >= 10 THEN  -- the row keeps disappearing (deleted between the two statements)
                RAISE EXCEPTION 'candidate (%, %) changed concurrently; retry', p_failure_match_id, v_signature
                    USING ERRCODE = '40001';
            END IF;
        END LOOP;
        IF NOT v_inserted THEN
            RETURN QUERY SELECT * FROM m10_recovery.replay_ingest_request(p_idempotency_key, v_hash);
            IF FOUND THEN
                RETURN;
            END IF;
            UPDATE m10_recovery.recovery_candidates AS rc
               SET occurrence_count = rc.occurrence_count + 1,
                   last_seen_at     = greatest(rc.last_seen_at, v_now),
                   updated_at       = greatest(rc.updated_at, v_now)
             WHERE rc.id = v_id
            RETURNING rc.occurrence_count INTO v_count;
        END IF;
        -- Only a first use of this key with another payload (another identity) can be here before
        -- us; ON CONFLICT waits for it to commit or roll back.
        INSERT INTO m10_recovery.ingest_requests AS r (idempotency_key, payload_sha256, candidate_id, status, created_at)
        VALUES (p_idempotency_key, v_hash, v_id, CASE WHEN v_inserted THEN 'accepted' ELSE 'duplicate' END, v_now)
        ON CONFLICT (idempotency_key) DO NOTHING;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'idempotency key % was already used with a different payload', p_idempotency_key
                USING ERRCODE = '22023',
                      DETAIL = 'A concurrent request with another payload used the key first.',
                      HINT = 'Use a new idempotency key for a new failure report.';
        END IF;
    END IF;

    -- Evaluation: a new candidate always; a repeat only when its suggestion is evaluated and still
    -- undecided (the new occurrence may change it) and no evaluation of it is waiting. One that is
    -- already running may have read the candidate before this occurrence, so it does not count.
    -- The item is inserted here rather than through enqueue_work: its arguments are known valid
    -- (p_priority was checked above), and the nested call cost a sixth of the whole ingest.
    IF v_inserted
       OR (v_decision = 'pending' AND v_eval = 'evaluated'
           AND NOT EXISTS (SELECT 1 FROM m10_recovery.work_queue w
                            WHERE w.candidate_id = v_id AND w.method = 'evaluate'
                              AND w.state = 'pending')) THEN
        INSERT INTO m10_recovery.work_queue (candidate_id, method, payload, priority, max_attempts,
                                             available_at, created_at)
        SELECT v_id, m.name, '{}'::jsonb, p_priority, m.default_max_attempts, v_now, v_now
          FROM m10_recovery.work_methods m
         WHERE m.name = 'evaluate'
        RETURNING id INTO v_work;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'work method ''evaluate'' is missing from m10_recovery.work_methods'
                USING ERRCODE = '55000', HINT = 'Run m10 db migrate to restore the seeded methods.';
        END IF;
    END IF;
    IF v_inserted THEN
        PERFORM m10_recovery.publish_outbox(
            'recovery.candidate.created',
            jsonb_build_object('candidate_id', v_id, 'failure_match_id', p_failure_match_id,
                               'error_signature', v_signature, 'error_code', v_code, 'source', p_source),
            'candidate', v_id::text, v_now);
    END IF;

    -- One statement for both rows: the normalised input, and how this report changed the candidate.
    WITH si AS (
        INSERT INTO m10_recovery.suggestion_input (candidate_id, input_type, source, value, created_at)
        VALUES (v_id, 'failure', p_source, v_input, v_now)
    )
    INSERT INTO m10_recovery.suggestion_provenance (candidate_id, event, actor, details, created_at)
    VALUES (v_id, CASE WHEN v_inserted THEN 'ingested' ELSE 'repeated' END, coalesce(p_source, 'ingest'),
            CASE WHEN v_inserted THEN
                jsonb_build_object('error_signature', v_signature, 'signature_version', v_version,
                                   'error_code', v_code, 'message_template', v_template, 'input', v_input,
                                   'source', p_source, 'idempotency_key', p_idempotency_key,
                                   'occurrence_count', v_count, 'work_id', v_work,
                                   'template', v_learned.provenance)
            ELSE
                jsonb_build_object('error_signature', v_signature, 'occurrence_count', v_count,
                                   'source', p_source, 'idempotency_key', p_idempotency_key, 'work_id', v_work,
                                   'template', v_learned.provenance)
            END,
            v_now);

    candidate_id := v_id;
    status := CASE WHEN v_inserted THEN 'accepted' ELSE 'duplicate' END;
    is_duplicate := NOT v_inserted;
    occurrence_count := v_count;
    error_signature := v_signature;
    work_id := v_work;
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION m10_recovery.ingest_failure(uuid, jsonb, text, uuid, integer, timestamptz) IS
'Record one failure report in one transaction, all or nothing, and return one row: candidate_id,
status (''accepted'' for a new candidate, ''duplicate'' for a repeat), is_duplicate,
occurrence_count, error_signature and work_id (the evaluate work item this call enqueued, or NULL).
The payload is validated and normalised by normalize_failure_payload; the fingerprint is
learn_template(error_code, message) over the first 65536 characters of the message (v3: the learned
template''s signature), while the candidate keeps the whole message (bounded by max_payload_bytes). Identity is (failure_match_id,
error_signature), arbitrated by its one unique index uq_rc_fmid_sig: the first report inserts the
candidate (occurrence_count 1, signature_version from the vN: prefix, message_template and template_id
= the learned template at that moment) and enqueues an evaluate item at p_priority; a repeat adds 1 to
occurrence_count and moves last_seen_at, and enqueues a re-evaluation only when the candidate is
evaluated, still undecided and has no evaluate item pending or claimed. Every applied report adds a
suggestion_input row (''failure'') and a provenance row (''ingested'' or ''repeated'') whose details
hold ''template'': the learned template, similarity and the positions a merge made variable.
p_idempotency_key: the first use is recorded with the sha256 of (failure_match_id, p_source, payload
as jsonb text); a retry with the same key and request returns the first answer (same candidate_id,
status and is_duplicate, occurrence_count as now stored, work_id NULL) and changes nothing; the same
key with another request raises 22023 ''idempotency key ... was already used with a different
payload''. Concurrent reports of one identity, or first uses of one key, never fail or double
count under READ COMMITTED (under REPEATABLE READ a lost race is a retryable 40001). Invalid
arguments raise 22023 (54000 over the size limit) naming the argument or field; nothing is written.';
