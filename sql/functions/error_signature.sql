CREATE OR REPLACE FUNCTION m10_recovery.error_signature(
    p_error_code text,
    p_message    text
) RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- 'v1:' names the algorithm, so a later version can re-fingerprint old rows and both can be
    -- told apart; the hash covers the upper-cased code and the message template.
    SELECT 'v1:' || left(encode(sha256(convert_to(
               upper(btrim(coalesce(p_error_code, ''))) || chr(31)
               || coalesce(m10_recovery.normalize_message(p_message), ''), 'UTF8')), 'hex'), 32)
$$;

COMMENT ON FUNCTION m10_recovery.error_signature(text, text) IS
'The versioned fingerprint of a failure: ''v1:'' followed by 32 hex digits of the sha256 of the
upper-cased error code and normalize_message(message). Two failures with the same code whose
messages differ only in variable parts share it. The version prefix is also stored in
recovery_candidates.signature_version.';
