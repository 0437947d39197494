CREATE OR REPLACE FUNCTION m10_recovery.refuse_change_of_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('m10_recovery.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = '55000',
              HINT = 'Rows are only ever added; retention archival deletes with m10_recovery.archiving = on.';
END;
$$;

-- The tables this trigger guards (created by the migrations, which run before this file).
CREATE OR REPLACE TRIGGER suggestion_provenance_append_only
    BEFORE UPDATE OR DELETE ON m10_recovery.suggestion_provenance
    FOR EACH ROW EXECUTE FUNCTION m10_recovery.refuse_change_of_append_only();
CREATE OR REPLACE TRIGGER execution_outcomes_append_only
    BEFORE UPDATE OR DELETE ON m10_recovery.execution_outcomes
    FOR EACH ROW EXECUTE FUNCTION m10_recovery.refuse_change_of_append_only();
CREATE OR REPLACE TRIGGER template_merges_append_only
    BEFORE UPDATE OR DELETE ON m10_recovery.template_merges
    FOR EACH ROW EXECUTE FUNCTION m10_recovery.refuse_change_of_append_only();

COMMENT ON FUNCTION m10_recovery.refuse_change_of_append_only() IS
'Trigger of the append-only tables (suggestion_provenance, execution_outcomes, template_merges): refuses UPDATE and
DELETE with 55000. A DELETE is let through while the setting m10_recovery.archiving is on, which only
retention archival sets, for its own transaction.';
