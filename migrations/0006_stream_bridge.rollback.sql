DROP TABLE m10_recovery.stream_replays;
