DROP TABLE m10_recovery.distributed_locks;
DROP TABLE m10_recovery.outbox_dead_letter;
DROP TABLE m10_recovery.outbox;
