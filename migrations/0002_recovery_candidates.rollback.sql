DROP TABLE m10_recovery.settings;
DROP TABLE m10_recovery.execution_outcomes;
DROP TABLE m10_recovery.suggestion_provenance;
DROP TABLE m10_recovery.suggestion_input;
DROP TABLE m10_recovery.ingest_requests;
DROP TABLE m10_recovery.recovery_candidates;
DROP TABLE m10_recovery.suggestion_rules;
DROP TABLE m10_recovery.suggestion_action;
