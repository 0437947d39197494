"""Every statement the Python package sends, by name. The logic lives in sql/; these only call it."""

ENQUEUE_WORK = """
SELECT m10_recovery.enqueue_work(
    p_candidate_id => %(candidate_id)s::bigint, p_method => %(method)s, p_payload => %(payload)s,
    p_priority => %(priority)s::integer, p_delay_seconds => %(delay_seconds)s::double precision,
    p_max_attempts => %(max_attempts)s::integer)
"""

ENQUEUE_WORK_BATCH = """
SELECT id FROM m10_recovery.enqueue_work_batch(
    p_payloads => ARRAY(SELECT jsonb_array_elements(%(payloads)s::jsonb)),
    p_method => %(method)s, p_priority => %(priority)s::integer,
    p_delay_seconds => %(delay_seconds)s::double precision, p_max_attempts => %(max_attempts)s::integer,
    p_candidate_ids => %(candidate_ids)s::bigint[]) AS id
"""

# Claimed rows with the payload as text: the client parses a batch's payloads in one json.loads call,
# seven times cheaper than one per row (see M10Client._claimed_items).
_CLAIMED_COLUMNS = (
    "work_id, candidate_id, method, payload::text, priority, attempts, max_attempts,"
    " enqueued_at, claimed_at, lease_expires_at"
)

CLAIM_WORK = f"""
SELECT {_CLAIMED_COLUMNS} FROM m10_recovery.claim_work(
    p_worker_id => %(worker_id)s, p_batch_size => %(batch_size)s::integer,
    p_lease_seconds => %(lease_seconds)s::integer, p_method => %(method)s)
"""

COMPLETE_AND_CLAIM = f"""
SELECT {_CLAIMED_COLUMNS} FROM m10_recovery.complete_and_claim(
    p_worker_id => %(worker_id)s, p_completed_ids => %(completed_ids)s::bigint[],
    p_batch_size => %(batch_size)s::integer, p_lease_seconds => %(lease_seconds)s::integer,
    p_method => %(method)s)
"""

COMPLETE_WORK = """
SELECT m10_recovery.complete_work(
    p_work_id => %(work_id)s::bigint, p_success => %(success)s, p_error => %(error)s,
    p_worker_id => %(worker_id)s, p_retry_in_seconds => %(retry_in_seconds)s::double precision)
"""

RELEASE_STALLED_WORK = (
    "SELECT m10_recovery.release_stalled_work(p_stalled_seconds => %(stalled_seconds)s::integer)"
)

QUEUE_STATS = "SELECT * FROM m10_recovery.queue_stats()"

EXTEND_WORK_LEASE = """
SELECT m10_recovery.extend_work_lease(
    p_work_id => %(work_id)s::bigint, p_worker_id => %(worker_id)s,
    p_lease_seconds => %(lease_seconds)s::integer)
"""

REQUEUE_DEAD_WORK = """
SELECT m10_recovery.requeue_dead_work(p_work_ids => %(work_ids)s::bigint[], p_method => %(method)s)
"""
