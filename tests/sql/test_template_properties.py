"""Property tests of fingerprint v3 (the learned template store), run against PostgreSQL.

Each example learns into an empty store (a savepoint rolled back after it), in the order given:
(a) a message and the same message with its variable parts changed share a signature, once the store
    has seen both: variable parts of every kind normalize_message knows, and a word in the last place
    (a name: user alice, user bob);
(b) a message with a fixed word changed (any word but the last) does not share its signature, once
    the store has seen both.
"""

from __future__ import annotations

import string
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sql.test_fingerprint_properties import KINDS, TEMPLATES

SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
WORDS = st.text(string.ascii_letters, min_size=1, max_size=12)

Conn = psycopg.Connection[Any]


def learned_signatures(db: Conn, *messages: str) -> list[str]:
    """The signatures of the messages learned in order into an empty store, then of the first again."""
    db.execute("SAVEPOINT learn")
    try:
        db.execute("TRUNCATE m10_recovery.template_merges, m10_recovery.message_templates CASCADE")
        out = []
        for message in (*messages, messages[0]):
            row = db.execute(
                "SELECT error_signature FROM m10_recovery.learn_template('E42', %s)", (message,)
            ).fetchone()
            assert row is not None
            out.append(str(row[0]))
        return out
    finally:
        db.execute("ROLLBACK TO SAVEPOINT learn")


@settings(SETTINGS, max_examples=150)
@given(data=st.data(), template=st.sampled_from(TEMPLATES))
def test_messages_differing_only_in_variable_parts_share_a_learned_signature(
    db: Conn, data: st.DataObject, template: str
) -> None:
    kinds = [data.draw(st.sampled_from(sorted(KINDS)), label="kind") for _ in range(template.count("{}"))]
    first = template.format(*(data.draw(KINDS[k], label=k) for k in kinds))
    second = template.format(*(data.draw(KINDS[k], label=k) for k in kinds))
    one, two, again = learned_signatures(db, first, second)
    assert one == two == again, kinds


@settings(SETTINGS, max_examples=100)
@given(template=st.sampled_from(TEMPLATES), first=WORDS, second=WORDS)
def test_a_name_in_the_last_place_is_learned_as_a_variable(
    db: Conn, template: str, first: str, second: str
) -> None:
    values = ["42"] * template.count("{}")
    one, two, again = learned_signatures(
        db, template.format(*values) + f" for {first}", template.format(*values) + f" for {second}"
    )
    assert one == two == again


def _inner_fixed_words(template: str) -> list[int]:
    """Positions of the fixed words (letters only) of a template split on spaces, but the last."""
    words = template.split(" ")
    return [i for i, w in enumerate(words[:-1]) if w.isalpha() and w.isascii()]


@settings(SETTINGS, max_examples=150)
@given(data=st.data(), template=st.sampled_from([t for t in TEMPLATES if _inner_fixed_words(t)]), other=WORDS)
def test_changing_a_fixed_word_changes_the_learned_signature(
    db: Conn, data: st.DataObject, template: str, other: str
) -> None:
    words = template.split(" ")
    at = data.draw(st.sampled_from(_inner_fixed_words(template)), label="word")
    if other == words[at]:
        other += "x"
    changed = " ".join([*words[:at], other, *words[at + 1 :]])
    kinds = [data.draw(st.sampled_from(sorted(KINDS)), label="kind") for _ in range(template.count("{}"))]
    values = [data.draw(KINDS[k], label=k) for k in kinds]
    one, two, again = learned_signatures(db, template.format(*values), changed.format(*values))
    assert one == again, "learning is deterministic: the first message keeps its signature"
    assert one != two
