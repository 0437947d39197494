CREATE OR REPLACE FUNCTION m10_recovery.template_lock_key(
    p_shape text
) RETURNS bigint
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN hashtextextended('m10_recovery.message_templates:' || p_shape, 0);

COMMENT ON FUNCTION m10_recovery.template_lock_key(text) IS
'The transaction advisory lock key that serialises changes to the learned templates of one shape
(learn_template, learn_templates).';
