CREATE OR REPLACE FUNCTION m10_recovery.learn_template(
    p_error_code text,
    p_message    text,
    p_now        timestamptz DEFAULT NULL
) RETURNS TABLE (
    error_signature    text,
    template_id        bigint,
    template_key       text,
    template           text,
    template_version   integer,
    action             text,
    similarity         real,
    variable_positions integer[],
    merge_id           bigint,
    provenance         jsonb
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT * FROM m10_recovery.learn_template_tokens(
        p_error_code, m10_recovery.template_tokens(m10_recovery.normalize_message(coalesce(p_message, ''))), p_now);
END
$$;

COMMENT ON FUNCTION m10_recovery.learn_template(text, text, timestamptz) IS
'Fingerprint v3 of one failure, as ingest_failure computes it: the message (callers pass at most its
first 65536 characters) is normalised (normalize_message), tokenised (template_tokens) and matched
against the learned templates of its shape (template_shape) by learn_template_tokens. Returns one row:
error_signature (''v3:'' and 32 hex digits of the sha256 of the trimmed upper-cased code and the
template''s key, which merges keep), the template (id, key, text, version) and why: action
''matched'' (a template already describes the message: nothing written, no lock), ''merged'' (the most
similar template of the shape, similarity at or above the setting template_similarity_threshold, was
widened; variable_positions are the 1-based token positions that became <*>) or ''created'' (a new
template), with similarity and the template_merges row (merge_id) that recorded the change, and all of it as
provenance (jsonb, what ingest records). Ties go to
the older template: the outcome depends only on the store and the message. Concurrent first reports
of one shape create one template (a transaction advisory lock on the shape).';
