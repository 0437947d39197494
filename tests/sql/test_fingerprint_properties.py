"""Property tests of the fingerprint, run against PostgreSQL.

(a) normalize_message is idempotent on arbitrary text: a template normalises to itself, so the
    signature of a message is the signature of its template.
(b) Messages built from one fixed template, whose variable parts are drawn from generators (numbers,
    UUIDs, IPv4 and IPv6 addresses, host names, hex ids, paths, e-mails, URLs, timestamps in common
    formats, durations, sizes, quoted values after '='), share a signature.
(c) Changing a fixed word of the template changes the signature.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def conn(shared_db_url: str) -> Iterator[Conn]:
    with psycopg.connect(shared_db_url, autocommit=True) as c:
        yield c


def normalize(conn: Conn, message: str) -> str:
    row = conn.execute("SELECT m10_recovery.normalize_message(%s)", (message,)).fetchone()
    assert row is not None
    return str(row[0])


def signature(conn: Conn, code: str, message: str) -> str:
    row = conn.execute("SELECT m10_recovery.error_signature(%s, %s)", (code, message)).fetchone()
    assert row is not None
    return str(row[0])


# --- (a) idempotence ------------------------------------------------------------------------------

# Any text PostgreSQL can hold: no NUL, no lone surrogate.
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=300)

# Log-like text: pieces that trigger the rules and their edges, glued in any order.
PIECES = [
    *"0123456789abcdefxyzABCDEFXZ .:/-_=\"',;<>?\\%\t\n()[]+#~@",
    *("<NUM>", "<HOST>", "<TS>", "<PATH>", "<URL>", "<ID>", "<VAL>", "<UUID>", "NUM", "://", "http", "::"),
    *("0x", ".com", ".co.uk", "Jun ", "June ", "Sun ", "Dec ", " 2005", "ms", "MB", " s", " bytes", "h", "m"),
    *("1.2.3.4", "12:34:56", "12:34", "2005-06-03", "2005-06-03-15.42.50.363", "deadbeef", "aB3dE5fG7hJ9"),
    *("a@b.com", "C:\\", "/a/b", "./", "fe80::1", "ff:ff:ff:ff:ff:ff", "  ", ", ", "x=", ": '", "T", "Z"),
    *("+02:00", "e-", "é", "\u00a0"),
]
LOG_TEXT = st.lists(st.sampled_from(PIECES) | ANY_TEXT.map(lambda s: s[:5]), max_size=40).map("".join)


@SETTINGS
@given(message=ANY_TEXT)
def test_normalisation_is_idempotent_on_any_text(conn: Conn, message: str) -> None:
    template = normalize(conn, message)
    assert normalize(conn, template) == template


@settings(SETTINGS, max_examples=300)
@given(message=LOG_TEXT)
def test_normalisation_is_idempotent_on_log_like_text(conn: Conn, message: str) -> None:
    template = normalize(conn, message)
    assert normalize(conn, template) == template
    assert not any(c in "0123456789" for c in template), "a template holds no ASCII digit"
    assert signature(conn, "E", message) == signature(conn, "E", template)


# --- (b) variable parts ---------------------------------------------------------------------------

LOWER = string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits


def _label(alphabet: str = LOWER + string.digits) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=10)


NUMBERS = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.builds(lambda i, f: f"{i}.{f}", st.integers(-9999, 9999), st.integers(0, 999999)),
    st.builds(lambda m, e: f"{m}e{e:+d}", st.integers(1, 9), st.integers(-30, 30)),
)
UUIDS = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
IPV4 = st.ip_addresses(v=4).map(str)
# An IPv6 address needs a digit to be told from a scope such as Foo::Bar (see normalize_message).
IPV6 = st.ip_addresses(v=6).map(str).filter(lambda s: any(c.isdigit() for c in s))
IPV6_FULL = st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).exploded)
TLDS = st.sampled_from(["com", "net", "org", "edu", "gov", "io", "info", "co.uk", "edu.hk", "com.cn"])
HOST_NAMES = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(
        st.builds(lambda a, b: a + b, _label(), st.sampled_from(["", "-x", "-1"])), min_size=1, max_size=3
    ),
    TLDS,
)
HOSTS = st.one_of(IPV4, IPV6, IPV6_FULL, HOST_NAMES)
HEX_IDS = st.one_of(
    st.text("0123456789abcdef", min_size=8, max_size=64).filter(lambda s: any(c.isdigit() for c in s)),
    st.text("0123456789ABCDEF", min_size=8, max_size=40).filter(lambda s: any(c.isdigit() for c in s)),
    st.integers(0, 2**64).map(hex),
)
_COMPONENT = st.text(ALNUM + "_-", min_size=1, max_size=12)
EXTENSIONS = ["", ".log", ".tar.gz", "/"]
_COMPONENTS = st.lists(_COMPONENT, min_size=1, max_size=5)
PATHS = st.one_of(
    st.builds(
        lambda a, cs, ext: f"/{a}/" + "/".join(cs) + ext, _COMPONENT, _COMPONENTS, st.sampled_from(EXTENSIONS)
    ),
    st.builds(lambda cs: "./" + "/".join(cs), _COMPONENTS),
    st.builds(lambda d, cs: f"{d}:\\" + "\\".join(cs), st.sampled_from("CDE"), _COMPONENTS),
)
EMAILS = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(ALNUM + "._+-", min_size=1, max_size=16),
    st.lists(_label(), min_size=1, max_size=3).map(".".join),
    st.text(LOWER, min_size=2, max_size=6),
)
URLS = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}{path}{query}",
    st.sampled_from(["http", "https", "ftp", "s3", "redis", "postgresql"]),
    HOSTS.map(lambda h: f"[{h}]" if h.count(":") > 1 else h) | _label(),
    st.lists(_COMPONENT, max_size=4).map(lambda cs: "".join("/" + c for c in cs)),
    st.one_of(st.just(""), st.builds(lambda k, v: f"?{k}={v}", _label(), _label())),
)
_MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31))
_TS_FORMATS = [
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"),
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
    lambda d: d.replace(tzinfo=UTC).isoformat(),
    lambda d: (d.replace(tzinfo=UTC) + timedelta(hours=2)).astimezone().isoformat(),
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
    lambda d: d.strftime("%Y-%m-%d"),
    lambda d: d.strftime("%Y/%m/%d %H:%M:%S"),
    lambda d: d.strftime("%Y-%m-%d-%H.%M.%S.%f"),
    lambda d: d.strftime("%Y.%m.%d-%H.%M.%S"),
    lambda d: d.strftime("%y/%m/%d %H:%M:%S"),
    lambda d: d.strftime("%b %d %H:%M:%S"),
    lambda d: f"{d:%b} {d.day:2d} {d:%H:%M:%S}",
    lambda d: d.strftime("%a %b %d %H:%M:%S %Y"),
    lambda d: d.strftime("%d/%b/%Y:%H:%M:%S +0000"),
    lambda d: d.strftime("%d %b %Y"),
    lambda d: d.strftime("%B %d, %Y"),
    lambda d: d.strftime("%H:%M:%S"),
    lambda d: d.strftime("%H:%M:%S.%f"),
]
TIMESTAMPS = st.builds(lambda f, d: f(d), st.sampled_from(_TS_FORMATS), _MOMENTS)
_TIME_UNITS = [
    *("ns", "us", "ms", "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes"),
    *("h", "hr", "hrs", "hour", "hours", "day", "days"),
]
_SPACE = st.sampled_from(["", " "])
DURATIONS = st.one_of(
    st.builds(lambda n, sp, u: f"{n}{sp}{u}", st.integers(0, 10**6), _SPACE, st.sampled_from(_TIME_UNITS)),
    st.builds(lambda x, sp, u: f"{x:.2f}{sp}{u}", st.floats(0, 1e4), _SPACE, st.sampled_from(["s", "ms"])),
    st.builds(lambda h, m: f"{h}h{m}m", st.integers(0, 99), st.integers(0, 59)),
)
SIZES = st.builds(
    lambda n, sp, u: f"{n}{sp}{u}",
    st.integers(0, 10**6) | st.floats(0, 1e4).map(lambda x: f"{x:.1f}"),
    _SPACE,
    st.sampled_from(["B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "kb", "mb", "bytes"]),
)
_QUOTED_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00\"'"), max_size=40)
QUOTED = _QUOTED_TEXT.map(lambda s: f'"{s}"') | _QUOTED_TEXT.map(lambda s: f"'{s}'")

KINDS: dict[str, st.SearchStrategy[str]] = {
    "number": NUMBERS,
    "uuid": UUIDS,
    "host": HOSTS,
    "hex id": HEX_IDS,
    "path": PATHS,
    "email": EMAILS,
    "url": URLS,
    "timestamp": TIMESTAMPS,
    "duration": DURATIONS,
    "size": SIZES,
}

# Fixed templates; {} is a variable part. The text around a slot separates it from the fixed words
# (a space or punctuation), as in real messages.
TEMPLATES = [
    "connection to {} failed, giving up",
    "worker {} could not process job {} (attempt {})",
    "[{}] request rejected by upstream; retry later",
    "error in handler: {} while reading {}.",
    "Loading {} failed: permission denied",
    "{} close, {} sent, {} received",
]


@settings(SETTINGS, max_examples=300)
@given(data=st.data(), template=st.sampled_from(TEMPLATES))
def test_messages_differing_only_in_variable_parts_share_a_signature(
    conn: Conn, data: st.DataObject, template: str
) -> None:
    kinds = [data.draw(st.sampled_from(sorted(KINDS)), label="kind") for _ in range(template.count("{}"))]
    first = template.format(*(data.draw(KINDS[k], label=k) for k in kinds))
    second = template.format(*(data.draw(KINDS[k], label=k) for k in kinds))
    assert normalize(conn, first) == normalize(conn, second), kinds
    assert signature(conn, "E42", first) == signature(conn, "E42", second)


@settings(SETTINGS, max_examples=200)
@given(first=QUOTED, second=QUOTED, key=st.sampled_from(["name=", "value = ", "error: ", "detail:"]))
def test_quoted_values_after_equals_or_colon_share_a_signature(
    conn: Conn, first: str, second: str, key: str
) -> None:
    template = "lookup failed for {}{} in the catalogue"
    one, two = template.format(key, first), template.format(key, second)
    assert normalize(conn, one) == normalize(conn, two)
    assert signature(conn, "", one) == signature(conn, "", two)


# --- (c) fixed words ------------------------------------------------------------------------------

WORDS = st.text(string.ascii_letters, min_size=1, max_size=12)


def _fixed_words(template: str) -> list[int]:
    """Positions of the fixed words (letters only) of a template split on spaces."""
    return [i for i, w in enumerate(template.split(" ")) if w.isalpha() and w.isascii()]


@SETTINGS
@given(data=st.data(), template=st.sampled_from(TEMPLATES), other=WORDS)
def test_changing_a_fixed_word_changes_the_signature(
    conn: Conn, data: st.DataObject, template: str, other: str
) -> None:
    words = template.split(" ")
    at = data.draw(st.sampled_from(_fixed_words(template)), label="word")
    if other == words[at]:
        other += "x"
    changed = " ".join([*words[:at], other, *words[at + 1 :]])
    kinds = [data.draw(st.sampled_from(sorted(KINDS)), label="kind") for _ in range(template.count("{}"))]
    values = [data.draw(KINDS[k], label=k) for k in kinds]
    one, two = template.format(*values), changed.format(*values)
    assert normalize(conn, one) != normalize(conn, two)
    assert signature(conn, "E42", one) != signature(conn, "E42", two)
