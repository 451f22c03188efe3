"""clinicsync/common/bounded_json.py: the nesting depth of a body, bounded whether or not it parses."""

from __future__ import annotations

import orjson
import pytest

from clinicsync.common.bounded_json import MAX_DEPTH, json_depth, load_json


@pytest.mark.parametrize(("body", "depth"), [
    (b"", 0),
    (b"1", 0),
    (b"{}", 1),
    (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[[{{{{"}', 1),  # brackets inside a string do not count
    (b'{"a": "x\\"[[[["}', 1),  # nor after an escaped quote inside it
    (b'{"a": "x\\\\"}[[', 2),  # an escaped backslash ends before the quote: the string closes there
    (b'["unterminated [[[[', 1),  # an unterminated string runs to the end
    (b'[\\"[]', 1),  # a backslash outside a string escapes nothing: the quote opens a string
    (b"[]" * 100, 1),
])
def test_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_a_body_nested_too_deep_is_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        load_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def test_many_unterminated_quotes_are_scanned_once() -> None:
    """A body of quotes and escapes that never closes: every string runs to the end, so the
    scan is linear (a pattern that could fail and restart at each quote would be quadratic)."""
    body = b'"' + b'\\"' * 200_000
    assert json_depth(body) == 0
    assert json_depth(b'"\\' * 200_000) == 0


@pytest.mark.parametrize("body", [
    b"[" * 17 + b"]" * 17,  # valid JSON, one level too deep
    b'{"a":' * 17 + b"1" + b"}" * 17,
    b"[" * 2000 + b"]" * 2000,  # deeper than orjson's own limit (1024)
    b"[" * 20_000,  # not JSON either: refused as too deep, as a scan before parsing did
    b"[" * 17 + b"1,,",
])
def test_too_deep_is_refused_as_such_parsed_or_not(body: bytes) -> None:
    with pytest.raises(ValueError, match="nested deeper than 16 levels"):
        load_json(body)


@pytest.mark.parametrize(("body", "value"), [
    (b"[" * 16 + b"]" * 16, [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]),
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[["}', {"a": "[" * 22}),  # brackets in strings nest nothing
    (b'[{"a": [1, {"b": []}]}, 2, [[[[[[[[[[[[[[]]]]]]]]]]]]]]]', None),
])
def test_up_to_the_limit_is_parsed(body: bytes, value: object) -> None:
    assert load_json(body) == (value if value is not None else orjson.loads(body))


def test_a_shallow_body_that_is_no_json_gives_the_parsers_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        load_json(b"[[1,,")
