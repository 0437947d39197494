DROP TYPE m10_recovery.claimed_work;
DROP TABLE m10_recovery.work_queue;
DROP TABLE m10_recovery.work_methods;
DROP TABLE m10_recovery.schema_registry;
DROP SCHEMA m10_recovery;
