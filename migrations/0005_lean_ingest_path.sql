-- The ingest path writes one suggestion_input and one provenance row per report; make each row cheap.
-- depends: 0002_recovery_candidates
--
-- * No foreign keys from these two append-only logs to recovery_candidates. Each FK check locks the
--   candidate row (FOR KEY SHARE), a second write to a row the same transaction just wrote, and it
--   cost about as much as the two inserts themselves. Only the m10_recovery functions write these
--   tables, each for a candidate it has just written or locked; whatever deletes candidates (retention
--   archival) removes their log rows in the same transaction.
-- * The primary key is (candidate_id, id): rows are read per candidate, in order, so one index
--   serves both the identity and that read (it was two).
-- * created_at is read by range only (retention, "since" queries) and grows with the id: a BRIN
--   index is a fraction of a btree's size and write cost.

ALTER TABLE m10_recovery.suggestion_input DROP CONSTRAINT suggestion_input_candidate_id_fkey;
ALTER TABLE m10_recovery.suggestion_input DROP CONSTRAINT suggestion_input_pkey;
DROP INDEX m10_recovery.suggestion_input_candidate_idx;
ALTER TABLE m10_recovery.suggestion_input ADD PRIMARY KEY (candidate_id, id);
DROP INDEX m10_recovery.suggestion_input_created_at_idx;
CREATE INDEX suggestion_input_created_at_brin ON m10_recovery.suggestion_input USING brin (created_at);

ALTER TABLE m10_recovery.suggestion_provenance DROP CONSTRAINT suggestion_provenance_candidate_id_fkey;
ALTER TABLE m10_recovery.suggestion_provenance DROP CONSTRAINT suggestion_provenance_pkey;
DROP INDEX m10_recovery.suggestion_provenance_candidate_idx;
ALTER TABLE m10_recovery.suggestion_provenance ADD PRIMARY KEY (candidate_id, id);
DROP INDEX m10_recovery.suggestion_provenance_created_at_idx;
CREATE INDEX suggestion_provenance_created_at_brin ON m10_recovery.suggestion_provenance USING brin (created_at);
