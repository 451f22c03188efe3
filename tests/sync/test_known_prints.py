"""The compact index of a connector's stored fingerprints (sync/store/known_prints.py, issue 32):
exact answers (never a changed row taken for an unchanged one), on every store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.known_prints import KnownPrints, known_prints
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.sync.test_fingerprint import Dropper, row, run, stored
from tests.sync.test_fingerprint import configure as configure  # the fixtures, shared
from tests.sync.test_fingerprint import drop as drop


def hexes(*numbers: int) -> list[str]:
    return [f"{number:032x}" for number in numbers]


def index(pairs: dict[str, str], chunk: int = 2) -> KnownPrints:
    rows = sorted(pairs.items())
    return known_prints(rows[start:start + chunk] for start in range(0, len(rows), chunk))


def test_hits_and_misses() -> None:
    prints = {hashlib.blake2b(str(n).encode(), digest_size=16).hexdigest(): f"id-{n}" for n in range(50)}
    known = index(prints, chunk=7)
    assert len(known) == 50
    for printed, external_id in prints.items():
        assert known.get(bytes.fromhex(printed)) == external_id
        assert known.get_hex(printed) == external_id
    assert known.get(bytes(16)) is None
    assert known.get(b"\xff" * 16) is None


def test_a_digest_that_shares_its_high_half_is_not_taken_for_another() -> None:
    """A 64-bit prefix alone would let a changed row pass as unchanged: the low half decides."""
    high = 0x1234_5678_9ABC_DEF0 << 64
    known = index(dict(zip(hexes(high | 1, high | 3, high | 7), ["one", "three", "seven"], strict=True)))
    assert [known.get_hex(h) for h in hexes(high | 1, high | 3, high | 7)] == ["one", "three", "seven"]
    assert [known.get_hex(h) for h in hexes(high, high | 2, high | 5, high | 8)] == [None] * 4


def test_an_empty_index_knows_nothing() -> None:
    known = known_prints([])
    assert len(known) == 0
    assert known.get(bytes(16)) is None
    assert known_prints([[]]).get(b"\x01" * 16) is None


def test_text_that_is_no_lowercase_digest_is_left_out() -> None:
    """No line's digest is written in capitals, short or long: such stored text never matched."""
    good = hexes(5)[0]
    known = known_prints([[("ABCDEF" + "0" * 26, "upper"), ("abc", "short"), (good, "good"), ("0" * 33, "long")]])
    assert len(known) == 1
    assert known.get_hex(good) == "good"
    assert known.get(bytes.fromhex("ABCDEF" + "0" * 26)) is None


def test_rows_in_any_order_are_found() -> None:
    """The store reads them in no particular order (no sort of the connector's rows)."""
    pairs = list(zip(hexes(9 << 100, 3, 7 << 64, 1 << 127), ["a", "b", "c", "d"], strict=True))
    known = known_prints([pairs[:2], pairs[2:]])
    assert [known.get_hex(printed) for printed, _ in pairs] == ["a", "b", "c", "d"]


def test_ids_keep_their_text() -> None:
    ids = ["Ä-1", "", "x" * 300, "\ud800lone", "日本"]
    pairs = dict(zip(hexes(1, 2, 3, 4, 5), ids, strict=True))
    known = index(pairs)
    assert [known.get_hex(printed) for printed in pairs] == ids


digests = st.binary(min_size=16, max_size=16)
# Digests crowded into few high halves and buckets, as well as spread ones.
crowded = st.tuples(st.integers(0, 3), st.integers(0, 5)).map(lambda hl: (hl[0] << 126 | hl[1]).to_bytes(16, "big"))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.one_of(digests, crowded), st.text(max_size=8), max_size=60),
       st.lists(st.one_of(digests, crowded), max_size=20), st.integers(1, 9))
def test_the_index_answers_as_a_dict_would(pairs: dict[bytes, str], probes: list[bytes], chunk: int) -> None:
    known = index({digest.hex(): external_id for digest, external_id in pairs.items()}, chunk)
    find = known.finder()
    assert len(known) == len(pairs)
    for digest in [*pairs, *probes]:
        assert known.get(digest) == find(digest) == pairs.get(digest)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(digests, st.text(max_size=4), max_size=40), st.sets(st.text(max_size=4), max_size=8),
       st.integers(1, 9))
def test_the_rows_of_wanted_ids_are_noted_as_the_chunks_come(pairs: dict[bytes, str], wanted: set[str],
                                                            chunk: int) -> None:
    """``wanted_rows`` are exactly the rows whose id is wanted (several rows may share an id, in
    any chunk); ``names`` gives each row's id as ``get`` does."""
    rows = sorted((digest.hex(), external_id) for digest, external_id in pairs.items())
    known = known_prints((rows[start:start + chunk] for start in range(0, len(rows), chunk)), wanted)
    every = range(1, len(known) + 1)
    assert known.names(every) == [external_id for _, external_id in rows]
    assert known.wanted_rows == {row for row in every if known.names([row])[0] in wanted}
    assert [known.get_hex(printed) for printed, _ in rows] == known.names(every)
    assert known_prints([rows]).wanted_rows == set()  # nothing wanted: nothing noted


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The index is read from each kind of store (SQLite by ranges of row ids, the others by rows)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("mariadb_database")["url"])


def test_the_store_reads_its_live_fingerprints_into_the_index(
        configure: Callable[..., Settings], drop: Dropper) -> None:
    settings = configure(extra="  mode: snapshot\n  max_delete_share: 0.5\n")
    drop(*(row(name) for name in "abcdefg"))
    run(settings)
    drop(*(row(name) for name in "abcdef"))  # g is gone: deleted, its fingerprint no longer counts
    run(settings)
    rows = stored(settings)
    live = {values[3]: external_id for external_id, values in rows.items() if values[2] is None}
    assert sorted(live.values()) == list("abcdef") and rows["g"][2] is not None
    store = Store.open(settings.store)
    try:
        known = store.known_fingerprints("src", 100)
        assert known is not None and len(known) == 6
        assert {printed: known.get_hex(printed) for printed in live} == live
        assert known.get_hex(str(rows["g"][3] or "0" * 32)) is None
        assert store.known_fingerprints("src", 5) is None  # past the limit: none held
    finally:
        store.close()

    drop(*(row(name) for name in "abcdef"), newline="\r\n")  # a re-export: every line recognized
    counts = run(settings)
    assert (counts.fetched, counts.unchanged, counts.created, counts.updated) == (6, 6, 0, 0)


def test_the_store_reads_every_live_digest_whatever_the_span_and_leaves_out_what_is_no_digest(
        configure: Callable[..., Settings], drop: Dropper, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite reads the connector's digests by ranges of row ids (spans of two here), each as one
    text: another connector's rows among them, deleted rows, and stored texts that are no
    digest (capitals, too short, 32 characters that are no hex) change nothing but those rows;
    the other stores read rows. The index answers as a dict of the live rows' digests would."""
    monkeypatch.setattr("clinicsync.sync.store.known_prints._SPAN", 2)
    settings = configure()
    drop(*(row(name) for name in "abcdefghij"))
    run(settings)
    table = Appointment.__table__  # type: ignore[attr-defined]
    rows = stored(settings)
    changed = {"c": {"connector": "other"}, "d": {"deleted_at": utcnow()},
               "e": {"source_fingerprint": str(rows["e"][3]).upper()}, "f": {"source_fingerprint": None},
               "g": {"source_fingerprint": "abc"}, "h": {"source_fingerprint": "g" * 32}}
    store = Store.open(settings.store)
    try:
        with store.engine.begin() as connection:
            for external_id, values in changed.items():
                connection.execute(update(table).where(table.c.external_id == external_id).values(**values))
        live = {str(values[3]): external_id for external_id, values in rows.items() if external_id not in changed}
        assert sorted(live.values()) == list("abij")
        known = store.known_fingerprints("src", 100)
        assert known is not None and len(known) == len(live)
        assert {printed: known.get_hex(printed) for printed in live} == live
        assert [known.get_hex(str(rows[name][3])) for name in "cdefgh"] == [None] * 6
        # The rows of wanted ids are noted whatever span they come in; ids not read are not.
        wanted = {"a", "c", "e", "j", "z"}
        noted = store.known_fingerprints("src", 100, wanted)
        assert noted is not None and noted.wanted == wanted
        assert sorted(noted.names(noted.wanted_rows)) == ["a", "j"]
    finally:
        store.close()
