CREATE OR REPLACE FUNCTION m10_recovery.replay_outbox(
    p_outbox_ids        bigint[]    DEFAULT NULL,
    p_event_type_prefix text        DEFAULT NULL,
    p_all               boolean     DEFAULT false,
    p_now               timestamptz DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_count integer;
BEGIN
    IF p_outbox_ids IS NULL AND p_event_type_prefix IS NULL AND p_all IS NOT TRUE THEN
        RAISE EXCEPTION 'name the dead letters to replay: p_outbox_ids, p_event_type_prefix or p_all => true'
            USING ERRCODE = '22023',
                  HINT = 'm10 outbox replay --all replays every dead letter; --id and --type-prefix choose some.';
    END IF;
    IF p_event_type_prefix IS NOT NULL AND btrim(p_event_type_prefix) = '' THEN
        RAISE EXCEPTION 'p_event_type_prefix must not be blank' USING ERRCODE = '22023';
    END IF;
    -- Back under the same id and event_id (receivers dedup by it), with a fresh set of attempts;
    -- the last error stays for reference. Delete and insert in one statement: never in both tables.
    WITH back AS (
        DELETE FROM m10_recovery.outbox_dead_letter d
         WHERE (p_outbox_ids IS NULL OR d.id = ANY (p_outbox_ids))
           AND (p_event_type_prefix IS NULL OR starts_with(d.event_type, p_event_type_prefix))
        RETURNING d.*
    )
    INSERT INTO m10_recovery.outbox
           (id, event_id, event_type, aggregate_type, aggregate_id, payload, retry_count, last_error,
            next_retry_at, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT b.id, b.event_id, b.event_type, b.aggregate_type, b.aggregate_id, b.payload, 0,
           'replayed from the dead letters (' || b.reason || ')', v_now, b.created_at, v_now
      FROM back b;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

COMMENT ON FUNCTION m10_recovery.replay_outbox(bigint[], text, boolean, timestamptz) IS
'Put dead-lettered events back in the outbox once their cause is fixed: those among p_outbox_ids,
or whose type starts with p_event_type_prefix, or every one with p_all => true (naming none of them
is an error, so nothing is replayed by accident). Each comes back under its own id and event_id
(the same webhook-id, so receivers still dedup it), due now, with retry_count 0. Returns how many
were replayed; replaying again replays nothing more.';
