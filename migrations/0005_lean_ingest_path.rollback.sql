DROP INDEX m10_recovery.suggestion_provenance_created_at_brin;
CREATE INDEX suggestion_provenance_created_at_idx ON m10_recovery.suggestion_provenance (created_at);
ALTER TABLE m10_recovery.suggestion_provenance DROP CONSTRAINT suggestion_provenance_pkey;
CREATE INDEX suggestion_provenance_candidate_idx ON m10_recovery.suggestion_provenance (candidate_id, id);
ALTER TABLE m10_recovery.suggestion_provenance ADD PRIMARY KEY (id);
ALTER TABLE m10_recovery.suggestion_provenance
    ADD CONSTRAINT suggestion_provenance_candidate_id_fkey FOREIGN KEY (candidate_id)
        REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE;

DROP INDEX m10_recovery.suggestion_input_created_at_brin;
CREATE INDEX suggestion_input_created_at_idx ON m10_recovery.suggestion_input (created_at);
ALTER TABLE m10_recovery.suggestion_input DROP CONSTRAINT suggestion_input_pkey;
CREATE INDEX suggestion_input_candidate_idx ON m10_recovery.suggestion_input (candidate_id);
ALTER TABLE m10_recovery.suggestion_input ADD PRIMARY KEY (id);
ALTER TABLE m10_recovery.suggestion_input
    ADD CONSTRAINT suggestion_input_candidate_id_fkey FOREIGN KEY (candidate_id)
        REFERENCES m10_recovery.recovery_candidates (id) ON DELETE CASCADE;
