"""Hypothesis strategies for hostile input, shared by the fuzz tests of every endpoint: odd
text (NUL, lone surrogates, RTL marks, emoji), arbitrary JSON values and bodies, odd header
values, query values and path ids; and the settings the fuzz tests run under."""

from __future__ import annotations

import json
import math
from datetime import timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
FEW = settings(FUZZ, max_examples=25)
REAL_ID = "<real-payment-id>"  # replaced in the test body by an existing payment's id
ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u200f",  # right-to-left mark
    "\u202eevil\u202c",  # right-to-left override
    "\ufeff",
    "\u0301",
    "😀",
    "👨\u200d👩\u200d👧",
    "𝕏𝕏𝕏",
    "\ud800",
    "\udfff",
    "x\udc80y",
    "Nguyễn Văn A",
    "Nguye\u0302\u0303n",
    "İß",
    "..",
    "../",
    "../../openapi.json",
    "%00",
    "%",
    "\\",
    "'; DROP TABLE payments;--",
    "\t\r\n",
    "\x7f\x1b[31m",
    "1e999",
    "-0",
    "null",
]
lone_surrogates = st.integers(0xD800, 0xDFFF).map(chr)
odd_chars = st.one_of(st.characters(), lone_surrogates, st.sampled_from(["\x00", "\u200f", "😀"]))
odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(ODD_STRINGS),
    st.lists(odd_chars, max_size=12).map("".join),
)
BIG_NUMBERS: list[int | float] = [
    10**40,
    -(10**40),
    2**63,
    -(2**63) - 1,
    2**64,
    0,
    -1,
    1e308,
    -1e308,
    5e-324,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(BIG_NUMBERS),
    odd_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(odd_text, inner, max_size=5)
    ),
    max_leaves=25,
)


def encode_json(value: object, style: str) -> bytes:
    """JSON text as bytes; surrogates either escaped (``\\ud800``) or raw (invalid UTF-8)."""
    if style == "ascii":
        return json.dumps(value).encode()
    if style == "raw-surrogates":
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if style == "utf-16":
        return json.dumps(value).encode("utf-16")
    return b"\xef\xbb\xbf" + json.dumps(value).encode()  # BOM


def deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # unbalanced


RAW_JSON_TRICKS = [
    b'{"amount": 1e999}',
    b'{"amount": -1e999}',
    b'{"amount": 1' + b"0" * 5000 + b"}",
    b'{"amount": -' + b"9" * 5000 + b"}",
    b'{"amount": NaN, "kind": Infinity}',
    b'{"reference": "\\ud800", "description": "\\udfff\\u0000"}',
    b'{"reference": "a", "reference": "b"}',
    b'{"payer": {"name": "\\u202e\\u200f"}}',
    b"\x00",
    b"null",
    b"[]",
    b"{}",
    b'"\\ud83d"',
    b"\xff\xfe{\x00}\x00",
]
json_bodies = st.one_of(
    st.builds(
        encode_json, json_values, st.sampled_from(["ascii", "raw-surrogates", "utf-16", "bom"])
    ),
    st.builds(deep, st.integers(1, 20_000), st.sampled_from(["list", "object", "open"])),
    st.sampled_from(RAW_JSON_TRICKS),
)
offsets = st.integers(-(24 * 60) + 1, 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
datetime_texts = st.one_of(
    st.builds(
        lambda d, tz: d.replace(tzinfo=tz).isoformat(),
        st.datetimes(),
        st.one_of(st.none(), offsets),
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00-23:59",
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:59:59.999999+00:00",
            "2030-02-30T00:00:00Z",
            "2030-01-01T24:00:00Z",
            "2030-01-01",
            "now",
        ]
    ),
)
latin1_text = st.text(
    st.characters(max_codepoint=0xFF, exclude_characters="\r\n\x00"), max_size=300
)
idempotency_keys = st.one_of(
    st.none(),
    st.just(""),
    st.uuids().map(str),
    st.just("k" * 255),
    st.just("k" * 256),
    latin1_text,
)


def cursor_for(text: str) -> str:
    from payments.http.requests import encode_cursor  # noqa: PLC0415

    return encode_cursor(text)


query_values = st.one_of(
    odd_text,
    datetime_texts,
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["created,pending", "succeeded,,", ",", "fee", "tax", "0", "200", "201"]),
    odd_text.map(
        lambda t: cursor_for(t.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    ),
    st.sampled_from(["v1", "djE6", "djE6AA", "!!!!", "=" * 10, "djE6" + "A" * 200]),
)
payment_ids = st.one_of(
    st.just(REAL_ID),
    st.just("pay_" + "0" * 26),
    odd_text.filter(bool),
    # very long ids, kept under httpx's 64 KiB URL limit once percent-encoded
    st.builds(
        lambda seed, n: (seed * n)[:4000], st.text(min_size=1, max_size=4), st.integers(50, 4000)
    ),
    st.sampled_from(["a/b", "../..", "..%2F..", "%2e%2e", "x?y=1", "x#frag", ";", "*"]),
)
