"""A connector's stored fingerprints held compactly, for recognizing unchanged lines cheaply.

``LineRecognizer`` (sync/ingest/fingerprint.py) asks, for each line of a re-export, whether its
digest is the stored fingerprint of a live row and which row. A dict of a million hex
strings and ids held ~100 MB (220 MB while it was read), so past 200,000 rows the run used
to fall back to splitting every line and looking each batch up in the store: a re-export
cost three times as much per row at 1,000,000 rows as at 100,000 (docs/performance.md S1).

Here the 16-byte digests are two parallel ``array('Q')`` (high and low 64 bits) in the order
the store gave them, and an open-addressing table on the digests' leading bits holds each row's
position (linear probing, at most half full: most lookups read one slot, a miss most often an
empty one). A hit is confirmed on both halves: a 64-bit prefix alone could take a changed row for
an unchanged one (its change would be lost). The external ids are one string with an ``array``
of offsets, so a hit is a slice (no decode; ids are ASCII in practice, one byte a character: a
non-ASCII id widens the whole string to two or four). About 33 bytes per row and 4-8 for the
table (40 MB for 976,000 rows with ids of 9 characters).

The rows need no order: a sorted index cost the store a sort of the connector's rows on every
re-export (~30 ms of ~85 at 100,000 rows on SQLite, more per row as the table grows), and the
table is built in one pass as the old directory was. On SQLite (``read_known``) each range of
row ids comes as one text of digests and one JSON array of ids, not two driver strings a row;
other stores stream (fingerprint, external id) rows in chunks of 2,000 (not 20,000: the freed
chunks' small objects stayed resident, +10 MB), so no list of a million tuples is ever held. A
stored text that is not 32 lowercase hex digits is left out: no line's digest is written so, so
it could never match.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, compress, count, islice, repeat
from operator import itemgetter, rshift
from struct import Struct

import orjson
from sqlalchemy import Connection, Table, func, select

from clinicsync.sync.store.bulk import select_where_chunks

_HEX = re.compile(r"[0-9a-f]{32}")
HALVES = Struct(">QQ")  # a 16-byte digest as its high and low 64 bits
_first, _second = itemgetter(0), itemgetter(1)
_SPAN = 16_384  # row ids per read on SQLite: ~0.5 MB of digest text at most
class KnownPrints:
    """Digest -> external id for a connector's live rows; built by :meth:`add` (chunks of
    (fingerprint hex, external id) pairs, in any order) or :meth:`add_joined`, then :meth:`finish`.

    Row 0 is a placeholder, so that a table slot holding 0 is empty: rows are 1..len.

    ``wanted``: ids (the connector's open quarantine items' record ids) whose rows are noted as
    the chunks come (``wanted_rows``, while each chunk's ids are separate strings anyway), so that
    a caller holding rows (sync/ingest/fingerprint.py ``RecognizedLines``) can tell which of them are
    wanted without slicing each row's id and hashing it."""

    __slots__ = ("_high", "_ids", "_low", "_mask", "_offsets", "_parts", "_shift", "_table", "wanted",
                 "wanted_rows")

    def __init__(self, wanted: Iterable[str] = ()) -> None:
        self._high = array("Q", [0])
        self._low = array("Q", [0])
        self._ids = ""  # the ids joined (by finish), row k's is _ids[_offsets[k]:_offsets[k + 1]]
        self._parts: list[str] = []  # each chunk's ids joined, until finish
        self._offsets = array("I", [0, 0])
        self._table = array("I", [0, 0])  # slot -> row (0: empty); 2**bits slots
        self._shift = 63
        self._mask = 1
        self.wanted = frozenset(wanted)
        self.wanted_rows: set[int] = set()  # the rows whose id is in ``wanted``

    def __len__(self) -> int:
        return len(self._high) - 1

    def add(self, rows: Sequence[tuple[str, str]]) -> None:
        """Take a chunk of (fingerprint hex, external id) rows, as read from the cursor."""
        if not rows:
            return
        prints = list(map(_first, rows))
        joined = "".join(prints)
        # Every print is 32 lowercase hex digits exactly when the chunk's text is the hex of its
        # bytes (no case, no whitespace bytes.fromhex would pass over) and no print is shorter.
        if min(map(len, prints)) != 32 or not self.add_joined(joined, list(map(_second, rows))):
            rows = [row for row in rows if _HEX.fullmatch(row[0])]
            if rows:
                self.add_joined("".join(map(_first, rows)), list(map(_second, rows)))

    def add_joined(self, joined: str, ids: list[str]) -> bool:
        """Take a chunk given as its digests' hex joined (each 32 characters) and its ids, in
        the same order; False (nothing taken) when the text is not 32 lowercase hex digits a
        row."""
        try:
            digests = bytes.fromhex(joined)
        except ValueError:
            return False
        if len(joined) != 32 * len(ids) or digests.hex() != joined:
            return False
        if not ids:
            return True
        words = array("Q", digests)
        if sys.byteorder == "little":  # each 8 bytes read as the big-endian number they spell
            words.byteswap()
        if self.wanted:  # before the rows are added: the chunk's first row is len(self) + 1
            self.wanted_rows.update(compress(count(len(self._high)), map(self.wanted.__contains__, ids)))
        self._high.extend(words[0::2])
        self._low.extend(words[1::2])
        lengths = list(map(len, ids))
        end = self._offsets[-1]
        self._parts.append("".join(ids))
        if end + sum(lengths) > 0xFFFFFFFF and self._offsets.typecode == "I":
            self._offsets = array("Q", self._offsets)
        self._offsets.extend(accumulate(lengths, initial=end))
        del self._offsets[-len(ids) - 1]  # the chunk's start, already the last offset
        return True

    def finish(self) -> KnownPrints:
        """Build the table; returns self."""
        self._ids, self._parts = self._ids + "".join(self._parts), []
        count = len(self)
        bits = max(1, (2 * count).bit_length())  # at most half full
        self._shift = shift = 64 - bits
        self._mask = mask = (1 << bits) - 1
        table = array("I", bytes(4 << bits))
        # rshift with two iterables: a C call per row (``shift.__rrshift__`` built an argument tuple each)
        for row, slot in enumerate(map(rshift, islice(self._high, 1, None), repeat(shift)), 1):
            while table[slot]:
                slot = (slot + 1) & mask
            table[slot] = row
        self._table = table
        return self

    def parts(self) -> tuple[array[int], array[int], array[int], int, int, array[int], str]:
        """What a lookup reads (table, high, low, shift, mask, offsets, ids), for a caller that
        inlines it in its own loop (sync/ingest/fingerprint.py LineRecognizer: a call per line costs
        as much as the lookup). Valid until the next :meth:`add`."""
        return self._table, self._high, self._low, self._shift, self._mask, self._offsets, self._ids

    def names(self, rows: Iterable[int]) -> list[str]:
        """The external ids of these rows (as :meth:`get` gives them), in order."""
        ids, offsets = self._ids, self._offsets
        return [ids[offsets[row]:offsets[row + 1]] for row in rows]

    def get(self, digest: bytes) -> str | None:
        """The external id whose stored fingerprint is this 16-byte digest; None if none is."""
        return self.finder()(digest)

    def finder(self) -> Callable[[bytes], str | None]:
        """:meth:`get` as a closure over the arrays (no attribute reads per call). Valid until
        the next :meth:`add`."""
        table, high, low, shift, mask, offsets, ids = self.parts()
        unpack = HALVES.unpack

        def find(digest: bytes) -> str | None:
            top, bottom = unpack(digest)
            slot = top >> shift
            row = table[slot]
            while row:  # most often one slot: the table is at most half full
                if high[row] == top and low[row] == bottom:
                    return ids[offsets[row]:offsets[row + 1]]
                slot = (slot + 1) & mask
                row = table[slot]
            return None
        return find

    def get_hex(self, printed: str) -> str | None:
        """As :meth:`get`, for a fingerprint in its stored hex form."""
        return self.get(bytes.fromhex(printed)) if _HEX.fullmatch(printed) else None


def known_prints(chunks: Iterable[Sequence[tuple[str, str]]], wanted: Iterable[str] = ()) -> KnownPrints:
    """The index of these chunks of (fingerprint hex, external id) rows (``wanted``: see KnownPrints)."""
    index = KnownPrints(wanted)
    for rows in chunks:
        index.add(rows)
    return index.finish()


def read_known(connection: Connection, appointments: Table, connector: str, limit: int,
               wanted: Iterable[str] = ()) -> KnownPrints | None:
    """The raw-record fingerprints of the connector's live appointments (the ``appointment``
    table) with their external ids, read once for a whole run (``Store.known_fingerprints``);
    None when the connector has more than ``limit`` rows (then each batch looks its ids up).
    ``wanted``: ids whose rows the index notes (KnownPrints)."""
    # Counted first through the (connector, external_id) index: a source past the limit costs no
    # read of its rows, and no memory. SQLite's index holds the row ids too: their range is free.
    sqlite = connection.dialect.name == "sqlite"
    key, mine = appointments.c.id, appointments.c.connector == connector
    if not sqlite:
        if connection.execute(select(func.count()).where(mine)).scalar_one() > limit:
            return None
        return known_prints(select_where_chunks(
            connection, appointments, ("source_fingerprint", "external_id"), {"connector": connector},
            "deleted_at IS NULL AND source_fingerprint IS NOT NULL"), wanted)
    total, first, last = connection.execute(select(func.count(), func.min(key), func.max(key)).where(mine)).one()
    if total > limit:
        return None
    index = KnownPrints(wanted)
    for joined, ids in _sqlite_spans(connection, connector, first or 0, last or -1):
        if not index.add_joined(joined, ids):  # some stored text is no digest: row by row
            index.add(list(zip(_hex_rows(joined, ids), ids, strict=False)))
    return index.finish()


def _sqlite_spans(connection: Connection, connector: str, first: int, last: int) -> Iterator[tuple[str, list[str]]]:
    """The connector's live (fingerprints joined, ids) by ranges of row ids: SQLite seeks each
    range on the table's own key and joins its digests in one text and its ids in one JSON
    array (two driver strings a range instead of two a row). Texts other than 32 characters
    are left out here (no digest is written so)."""
    sql = ("SELECT group_concat(source_fingerprint, ''), json_group_array(external_id) FROM appointment "
           "NOT INDEXED WHERE id >= ? AND id < ? AND connector = ? AND deleted_at IS NULL "
           "AND length(source_fingerprint) = 32")
    for start in range(first, last + 1, _SPAN):
        joined, ids = connection.exec_driver_sql(sql, (start, start + _SPAN, connector)).one()
        if joined:
            yield joined, orjson.loads(ids)


def _hex_rows(joined: str, ids: list[str]) -> Iterable[str]:
    """A span's digests (32 characters each) one by one again."""
    return (joined[at:at + 32] for at in range(0, 32 * len(ids), 32))
