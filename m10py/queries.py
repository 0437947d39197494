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

# WorkConsumer's statements: sent by libpq in pipeline mode, so $n placeholders and text parameters.
CONSUMER_CLAIM = f"""
SELECT {_CLAIMED_COLUMNS} FROM m10_recovery.complete_and_claim(
    p_worker_id => $1, p_completed_ids => $2::bigint[], p_batch_size => $3::integer,
    p_lease_seconds => $4::integer, p_method => $5)
""".encode()

# Completes ($2) and gives back what was claimed ahead and never started ($3).
CONSUMER_FINISH = b"""
SELECT count(*), m10_recovery.release_work($1, $3::bigint[])
  FROM m10_recovery.complete_and_claim($1, $2::bigint[], 0)
"""

RELEASE_WORK = (
    "SELECT m10_recovery.release_work(p_worker_id => %(worker_id)s, p_work_ids => %(work_ids)s::bigint[])"
)

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

INGEST_FAILURE = """
SELECT candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failure(
    p_failure_match_id => %(failure_match_id)s::uuid, p_failure_payload => %(payload)s::jsonb,
    p_source => %(source)s, p_idempotency_key => %(idempotency_key)s::uuid,
    p_priority => %(priority)s::integer)
"""

INGEST_FAILURES = """
SELECT candidate_id, status, is_duplicate, occurrence_count, error_signature, work_id
  FROM m10_recovery.ingest_failures(
    p_failures => %(failures)s::jsonb, p_source => %(source)s, p_priority => %(priority)s::integer)
 ORDER BY ordinal
"""

EVALUATE_CANDIDATES = """
SELECT candidate_id, suggested_action, confidence, rule_name, auto_approved
  FROM m10_recovery.evaluate_candidates(p_candidate_ids => %(ids)s::bigint[], p_actor => %(actor)s)
"""

DECIDE_CANDIDATE = """
SELECT candidate_id, decision, decided_by, decided_at
  FROM m10_recovery.decide_candidate(
    p_candidate_id => %(candidate_id)s::bigint, p_decision => %(decision)s, p_actor => %(actor)s,
    p_note => %(note)s)
"""

CLAIM_EXECUTION = """
SELECT candidate_id, suggested_action, error_code, error_signature, lease_until
  FROM m10_recovery.claim_execution(
    p_executor => %(executor)s, p_batch_size => %(batch_size)s::integer,
    p_lease_seconds => %(lease_seconds)s::integer)
"""

RECORD_EXECUTION = """
SELECT m10_recovery.record_execution(
    p_candidate_id => %(candidate_id)s::bigint, p_executor => %(executor)s, p_outcome => %(outcome)s,
    p_details => %(details)s::jsonb)
"""

_CANDIDATE_COLUMNS = """
       id, failure_match_id, error_code, error_signature, message_template, occurrence_count,
       suggested_action, confidence, evaluation_state, decision, execution_status, source,
       created_at, updated_at
"""

LIST_CANDIDATES = f"""
SELECT {_CANDIDATE_COLUMNS}
  FROM m10_recovery.recovery_candidates
 WHERE (%(decision)s::text IS NULL OR decision = %(decision)s)
 ORDER BY confidence DESC NULLS LAST, id DESC
 LIMIT %(limit)s
"""

GET_CANDIDATE = f"""
SELECT {_CANDIDATE_COLUMNS}
  FROM m10_recovery.recovery_candidates
 WHERE id = %(candidate_id)s::bigint
"""

CANDIDATE_PROVENANCE = """
SELECT id, event, actor, details, created_at
  FROM m10_recovery.suggestion_provenance
 WHERE candidate_id = %(candidate_id)s::bigint
 ORDER BY id
"""

PUBLISH_OUTBOX = """
SELECT m10_recovery.publish_outbox(
    p_event_type => %(event_type)s, p_payload => %(payload)s::jsonb,
    p_aggregate_type => %(aggregate_type)s, p_aggregate_id => %(aggregate_id)s)
"""

CLAIM_OUTBOX = """
SELECT outbox_id, event_id, event_type, aggregate_type, aggregate_id, payload, retry_count, created_at,
       lease_expires_at
  FROM m10_recovery.claim_outbox(
    p_processor_id => %(processor_id)s, p_batch_size => %(batch_size)s::integer,
    p_lease_seconds => %(lease_seconds)s::integer, p_max_attempts => %(max_attempts)s::integer)
 ORDER BY outbox_id
"""

COMPLETE_OUTBOX = """
SELECT m10_recovery.complete_outbox(
    p_outbox_ids => %(outbox_ids)s::bigint[], p_processor_id => %(processor_id)s)
"""

FAIL_OUTBOX = """
SELECT m10_recovery.fail_outbox(
    p_outbox_id => %(outbox_id)s::bigint, p_processor_id => %(processor_id)s, p_error => %(error)s,
    p_retry_in_seconds => %(retry_in_seconds)s::double precision, p_dead_letter => %(dead_letter)s,
    p_max_attempts => %(max_attempts)s::integer, p_base_seconds => %(base_seconds)s::double precision,
    p_cap_seconds => %(cap_seconds)s::double precision)
"""

REPLAY_OUTBOX = """
SELECT m10_recovery.replay_outbox(
    p_outbox_ids => %(outbox_ids)s::bigint[], p_event_type_prefix => %(prefix)s, p_all => %(all)s)
"""

OUTBOX_STATS = "SELECT * FROM m10_recovery.outbox_stats()"

LIST_DEAD_LETTERS = """
SELECT id, event_id, event_type, retry_count, reason, last_error, dead_at
  FROM m10_recovery.outbox_dead_letter
 ORDER BY dead_at DESC, id DESC
 LIMIT %(limit)s
"""

ACQUIRE_LOCK = """
SELECT m10_recovery.acquire_lock(
    p_lock_name => %(name)s, p_holder_id => %(holder)s, p_ttl_seconds => %(ttl)s::integer)
"""

EXTEND_LOCK = """
SELECT m10_recovery.extend_lock(
    p_lock_name => %(name)s, p_holder_id => %(holder)s, p_ttl_seconds => %(ttl)s::integer)
"""

RELEASE_LOCK = "SELECT m10_recovery.release_lock(p_lock_name => %(name)s, p_holder_id => %(holder)s)"

CLEANUP_EXPIRED_LOCKS = "SELECT m10_recovery.cleanup_expired_locks()"

LIST_LOCKS = """
SELECT lock_name, holder_id, acquired_at, expires_at, extend_count
  FROM m10_recovery.distributed_locks
 ORDER BY lock_name
"""

SIMILAR_CANDIDATES = """
SELECT candidate_id, error_code, error_signature, template_id, template, score, shared_words,
       occurrence_count, decision
  FROM m10_recovery.similar_candidates(p_candidate_id => %(candidate_id)s::bigint,
                                       p_limit => %(limit)s::integer)
"""

CLAIM_WORK_BY_IDS = f"""
SELECT {_CLAIMED_COLUMNS} FROM m10_recovery.claim_work_by_ids(
    p_worker_id => %(worker_id)s, p_work_ids => %(work_ids)s::bigint[],
    p_lease_seconds => %(lease_seconds)s::integer)
"""

OVERDUE_WORK_IDS = """
SELECT m10_recovery.overdue_work_ids(
    p_grace_seconds => %(grace_seconds)s::double precision, p_batch_size => %(batch_size)s::integer,
    p_method => %(method)s)
"""

EVALUATE_WORK_BY_IDS = """
SELECT work_id, candidate_id FROM m10_recovery.evaluate_work_by_ids(
    p_worker_id => %(worker_id)s, p_work_ids => %(work_ids)s::bigint[])
"""

WORK_ITEM_STATES = """
SELECT work_id, state FROM m10_recovery.work_item_states(p_work_ids => %(work_ids)s::bigint[])
"""

DEAD_LETTER_WORK = """
SELECT state, last_error FROM m10_recovery.dead_letter_work(
    p_work_id => %(work_id)s::bigint, p_reason => %(reason)s)
"""

# Replays of one dead-letter entry are serialised across processes by a session advisory lock on the
# entry id (namespace 5: this bridge), held from the check to the record, around the XADD.
STREAM_REPLAY_LOCK = "SELECT pg_advisory_lock(5, hashtext(%(dead_letter_id)s))"
STREAM_REPLAY_UNLOCK = "SELECT pg_advisory_unlock(5, hashtext(%(dead_letter_id)s))"

PREPARE_STREAM_REPLAY = """
SELECT m10_recovery.prepare_stream_replay(
    p_dead_letter_id => %(dead_letter_id)s, p_work_id => %(work_id)s::bigint)
"""

RECORD_STREAM_REPLAY = """
SELECT m10_recovery.record_stream_replay(
    p_dead_letter_id => %(dead_letter_id)s, p_work_id => %(work_id)s::bigint, p_stream_id => %(stream_id)s)
"""

STREAM_REPLAYS = """
SELECT dead_letter_id, stream_id FROM m10_recovery.stream_replays
 WHERE dead_letter_id = ANY (%(dead_letter_ids)s::text[])
"""
