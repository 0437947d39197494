DELETE FROM m10_recovery.settings WHERE key = 'template_similarity_threshold';
DROP INDEX m10_recovery.rc_template_idx;
ALTER TABLE m10_recovery.recovery_candidates DROP COLUMN template_id;
DROP TABLE m10_recovery.template_merges;
DROP TABLE m10_recovery.message_templates;
