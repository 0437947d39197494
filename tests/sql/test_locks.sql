-- Distributed locks, with the clock moved through p_now.
DELETE FROM m10_recovery.distributed_locks;

-- test: acquire a free lock; another holder is refused while it lives; the holder renews
SELECT m10_test.is(m10_recovery.acquire_lock('m10:outbox_processor', 'a', 30, '2026-01-01 00:00:00+00'), true, 'free');
SELECT m10_test.is(m10_recovery.acquire_lock('m10:outbox_processor', 'b', 30, '2026-01-01 00:00:29+00'), false, 'held by a');
SELECT m10_test.is(m10_recovery.acquire_lock('m10:outbox_processor', 'a', 30, '2026-01-01 00:00:10+00'), true, 'a renews');
SELECT m10_test.is((SELECT holder_id || ' ' || expires_at FROM m10_recovery.distributed_locks),
                   'a ' || '2026-01-01 00:00:40+00'::timestamptz, 'renewed expiry');
SELECT m10_test.is((SELECT acquired_at FROM m10_recovery.distributed_locks), '2026-01-01 00:00:00+00'::timestamptz,
                   'a renewal keeps acquired_at');

-- test: an expired lock is taken over by another holder
SELECT m10_recovery.acquire_lock('job', 'crashed', 30, '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.acquire_lock('job', 'b', 30, '2026-01-01 00:00:30+00'), true, 'taken over at expiry');
SELECT m10_test.is((SELECT holder_id FROM m10_recovery.distributed_locks), 'b', 'new holder');
SELECT m10_test.is(m10_recovery.release_lock('job', 'crashed'), false, 'the old holder cannot release it');
SELECT m10_test.is(m10_recovery.extend_lock('job', 'crashed', 30, '2026-01-01 00:00:31+00'), false, 'nor extend it');

-- test: extend moves a live lock; extending an expired lock fails, even for its holder
SELECT m10_recovery.acquire_lock('job', 'a', 30, '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.extend_lock('job', 'a', 60, '2026-01-01 00:00:20+00'), true, 'live');
SELECT m10_test.is((SELECT expires_at FROM m10_recovery.distributed_locks), '2026-01-01 00:01:20+00'::timestamptz, 'moved');
SELECT m10_test.is((SELECT extend_count FROM m10_recovery.distributed_locks), 1, 'counted');
SELECT m10_test.is(m10_recovery.extend_lock('job', 'a', 60, '2026-01-01 00:01:20+00'), false, 'expired: refused');
SELECT m10_test.is((SELECT expires_at FROM m10_recovery.distributed_locks), '2026-01-01 00:01:20+00'::timestamptz, 'unchanged');
SELECT m10_test.is(m10_recovery.extend_lock('nothing', 'a'), false, 'no such lock');

-- test: release frees the lock for the next holder
SELECT m10_recovery.acquire_lock('job', 'a', 30);
SELECT m10_test.is(m10_recovery.release_lock('job', 'b'), false, 'not the holder');
SELECT m10_test.is(m10_recovery.release_lock('job', 'a'), true, 'released');
SELECT m10_test.is(m10_recovery.release_lock('job', 'a'), false, 'twice is a no-op');
SELECT m10_test.is(m10_recovery.acquire_lock('job', 'b', 30), true, 'free again');

-- test: cleanup deletes expired locks only
SELECT m10_recovery.acquire_lock('old', 'a', 10, '2026-01-01 00:00:00+00');
SELECT m10_recovery.acquire_lock('live', 'a', 100, '2026-01-01 00:00:00+00');
SELECT m10_test.is(m10_recovery.cleanup_expired_locks('2026-01-01 00:00:10+00'), 1, 'one expired');
SELECT m10_test.is((SELECT array_agg(lock_name) FROM m10_recovery.distributed_locks), ARRAY['live'], 'live stays');

-- test: bad names and TTLs are refused
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock(NULL, 'a')$$, '22023', 'p_lock_name must be%');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock('  ', 'a')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock(repeat('x', 201), 'a')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock('job', NULL)$$, '22023', 'p_holder_id must be%');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock('job', '')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock('job', 'a', 0)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.acquire_lock('job', 'a', NULL)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.extend_lock('job', 'a', 100000)$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.extend_lock(NULL, 'a')$$, '22023');
SELECT m10_test.throws($$SELECT m10_recovery.release_lock('job', NULL)$$, '22023');
SELECT m10_test.is((SELECT count(*) FROM m10_recovery.distributed_locks), 0::bigint, 'nothing written');
