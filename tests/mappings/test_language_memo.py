"""A patient's language is parsed once per distinct value, and the values remembered are
bounded: babel accepts any script subtag, so a source's values are not a closed set."""

from __future__ import annotations

import itertools

from clinicsync.mappings import transforms
from clinicsync.mappings.transforms import _language_tag, as_language

BOUND = 1024  # transforms.LANGUAGE_MEMO


def test_distinct_language_values_do_not_grow_the_memo_past_its_bound() -> None:
    _language_tag.cache_clear()
    scripts = ("".join(p) for p in itertools.product("ABCDEFGHIJKL", "abcdefghij", "klmnopqrst"))
    for script in itertools.islice(scripts, BOUND + 100):
        assert as_language(f"es-{script}x") == "es"  # each accepted: a new key every time
    assert _language_tag.cache_info().currsize <= BOUND  # before: 1,124, one per value, never dropped
    assert transforms.LANGUAGE_MEMO == BOUND
    assert as_language("es_mx") == "es-MX" and as_language("Spanish") == "es"
    before = _language_tag.cache_info().hits
    as_language("es_mx")
    assert _language_tag.cache_info().hits == before + 1  # a feed's repeated value is still one lookup
