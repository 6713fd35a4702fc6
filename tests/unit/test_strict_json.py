"""strict_json: one JSON text, one reading."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain import strict_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(JSON)
def test_json_without_repeated_keys_reads_as_the_standard_library_reads_it(value: object) -> None:
    text = json.dumps(value)
    assert strict_json.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"amount": 150000, "amount": 1}', "amount"),
        ('{"a": {"b": 1, "b": 2}}', "b"),  # at any depth
        ('[{"x": 1}, {"x": 2, "x": 3}]', "x"),
        ('{"am\\u006funt": 1, "amount": 2}', "amount"),  # the same key, escaped
    ],
)
def test_a_key_named_twice_is_refused(text: str, key: str) -> None:
    with pytest.raises(strict_json.DuplicateKey) as raised:
        strict_json.loads(text)
    assert raised.value.key == key
    assert isinstance(raised.value, ValueError)


def test_nesting_past_the_parser_is_a_value_error_not_a_crash() -> None:
    with pytest.raises(strict_json.TooDeep):
        strict_json.loads("[" * 100_000 + "]" * 100_000)
