CREATE OR REPLACE FUNCTION m10_recovery.error_signature(
    p_error_code text,
    p_message    text
) RETURNS text
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- 'v2:' names the algorithm (this hash over normalize_message's v2 template), so a later version
-- can re-fingerprint old rows and both can be told apart; ingest stores the number after the 'v' in
-- recovery_candidates.signature_version.
-- The message counts only through its template: error_signature(c, m) =
-- error_signature(c, normalize_message(m)); the hash itself is template_signature's.
BEGIN
    RETURN m10_recovery.template_signature(p_error_code, m10_recovery.normalize_message(p_message));
END
$$;

COMMENT ON FUNCTION m10_recovery.error_signature(text, text) IS
'The versioned fingerprint of a failure: ''v2:'' followed by 32 hex digits of the sha256 of the
trimmed, upper-cased error code (length-prefixed) and normalize_message(message). Two failures with
the same code whose messages differ only in variable parts share it; NULL code or message count as
empty. The number after the ''v'' is stored in recovery_candidates.signature_version.';
