-- Assertion helpers for the .sql tests, loaded into the test template database only (never shipped).
-- A failed assertion raises with SQLSTATE 'M1T00' and a message the pytest runner prints as is.
CREATE SCHEMA IF NOT EXISTS m10_test;

CREATE OR REPLACE FUNCTION m10_test.is(p_actual anyelement, p_expected anyelement, p_what text DEFAULT 'value')
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_actual IS DISTINCT FROM p_expected THEN
        RAISE EXCEPTION '%: expected %, got %', p_what,
            coalesce(p_expected::text, 'NULL'), coalesce(p_actual::text, 'NULL')
            USING ERRCODE = 'M1T00';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION m10_test.ok(p_condition boolean, p_what text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_condition IS NOT TRUE THEN
        RAISE EXCEPTION '%: expected true, got %', p_what, coalesce(p_condition::text, 'NULL')
            USING ERRCODE = 'M1T00';
    END IF;
END $$;

-- Run p_sql and require it to fail with p_sqlstate (and a message matching p_message_like when
-- given). The statement runs in a subtransaction, so whatever it wrote is undone either way.
CREATE OR REPLACE FUNCTION m10_test.throws(p_sql text, p_sqlstate text, p_message_like text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_state text;
    v_message text;
BEGIN
    BEGIN
        EXECUTE p_sql;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
    END;
    IF v_state IS NULL THEN
        RAISE EXCEPTION 'expected % from: %, but it succeeded', p_sqlstate, p_sql USING ERRCODE = 'M1T00';
    END IF;
    IF v_state <> p_sqlstate OR (p_message_like IS NOT NULL AND v_message NOT LIKE p_message_like) THEN
        RAISE EXCEPTION 'expected % (%) from: %, got % (%)', p_sqlstate, coalesce(p_message_like, 'any message'),
            p_sql, v_state, v_message USING ERRCODE = 'M1T00';
    END IF;
END $$;
