CREATE OR REPLACE FUNCTION m10_recovery.template_signature(
    p_error_code text,
    p_template   text
) RETURNS text
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
-- The hash of error_signature, for a caller that already holds the template (ingest normalises the
-- message once for the template it stores, and must not pay for a second normalisation here).
-- The code is trimmed and upper-cased in the "C" collation (ASCII letters only: the result must not
-- depend on the database's or the caller's locale, where upper('i') may be 'İ'), prefixed with its
-- length so no code and template pair can run into another.
DECLARE
    v_code text COLLATE "C" := upper(btrim(coalesce(p_error_code, '')) COLLATE "C");
BEGIN
    RETURN 'v2:' || left(encode(sha256(convert_to(
               length(v_code)::text || ':' || v_code || coalesce(p_template, ''), 'UTF8')), 'hex'), 32);
END
$$;

COMMENT ON FUNCTION m10_recovery.template_signature(text, text) IS
'The v2 signature of an error code and a message template that normalize_message already produced:
error_signature(c, m) = template_signature(c, normalize_message(m)). For callers that keep the
template anyway (ingest); anyone else should call error_signature.';
