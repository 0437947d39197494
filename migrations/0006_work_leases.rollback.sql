CREATE INDEX work_queue_lease_idx
    ON m10_recovery.work_queue (available_at, id)
    WHERE state = 'claimed';
ALTER TABLE m10_recovery.work_queue DROP CONSTRAINT work_queue_claim_has_lease;
ALTER TABLE m10_recovery.work_queue DROP COLUMN lease_id;
DROP TABLE m10_recovery.work_leases;
