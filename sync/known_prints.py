"""A connector's stored fingerprints held compactly, for recognizing unchanged lines (issue 32).

``LineRecognizer`` (sync/fingerprint.py) asks, for each line of a re-export, whether its
digest is the stored fingerprint of a live row and which row. A dict of a million hex
strings and ids held ~100 MB (220 MB while it was read), so past 200,000 rows the run used
to fall back to splitting every line and looking each batch up in the store: a re-export
cost three times as much per row at 1,000,000 rows as at 100,000 (docs/performance.md S1).

Here the 16-byte digests are two parallel sorted ``array('Q')`` (high and low 64 bits), a
digest is found in its bucket of a directory on its leading bits (about one digest a bucket,
so most lookups compare one or none, without a ``bisect`` call) and confirmed on the low half:
a 64-bit prefix alone could take a changed row for an unchanged one (its change would be
lost). The external ids are one string with an ``array`` of offsets, so a hit is a slice (no
decode; ids are ASCII in practice, one byte a character: a non-ASCII id widens the whole
string to two or four). About 33 bytes per row in all (32 MB for 976,000 rows with ids of
9 characters, with the 4 MB directory) instead of ~100; read from
the cursor in chunks of 2,000 (not 20,000: the freed chunks' small objects stayed resident,
+10 MB), so no list of a million Python tuples is ever held either.

The rows come sorted by fingerprint from the store (``Store.known_fingerprints``: fixed-width
lowercase hex sorts as the digests' numbers under a binary collation). Correctness does not
rest on that: a stored text that is not 32 lowercase hex digits is left out (no line's digest
is written so, so it could never match), and rows out of order are sorted here.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from operator import itemgetter
from struct import Struct

_HEX = re.compile(r"[0-9a-f]{32}")
HALVES = Struct(">QQ")  # a 16-byte digest as its high and low 64 bits
_first, _second = itemgetter(0), itemgetter(1)


def _from_hex(text: str) -> bytes:
    """The bytes a hex text spells; b"" for a text that is not hex."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


class KnownPrints:
    """Digest -> external id for a connector's live rows; built by :meth:`add` (chunks of
    (fingerprint hex, external id) pairs, in fingerprint order) then :meth:`finish`."""

    __slots__ = ("_high", "_ids", "_low", "_offsets", "_parts", "_shift", "_sorted", "_starts")

    def __init__(self) -> None:
        self._high = array("Q")
        self._low = array("Q")
        self._ids = ""  # the ids joined (by finish), id k is _ids[_offsets[k]:_offsets[k + 1]]
        self._parts: list[str] = []  # each chunk's ids joined, until finish
        self._offsets = array("I", [0])
        self._starts = array("I", [0, 0])  # directory: bucket b is _high[_starts[b]:_starts[b + 1]]
        self._shift = 64
        self._sorted = True

    def __len__(self) -> int:
        return len(self._high)

    def add(self, rows: Sequence[tuple[str, str]]) -> None:
        """Take a chunk of (fingerprint hex, external id) rows, as read from the cursor."""
        if not rows:
            return
        prints = list(map(_first, rows))
        joined = "".join(prints)
        digests = _from_hex(joined)
        # Every print is 32 lowercase hex digits exactly when the chunk's text is the hex of its
        # bytes (no case, no whitespace bytes.fromhex would pass over) and no print is shorter.
        if len(joined) != 32 * len(prints) or min(map(len, prints)) != 32 or digests.hex() != joined:
            rows = [row for row in rows if _HEX.fullmatch(row[0])]
            prints = list(map(_first, rows))
            joined = "".join(prints)
            digests = _from_hex(joined)
        if not rows:
            return
        words = array("Q", digests)
        if sys.byteorder == "little":  # each 8 bytes read as the big-endian number they spell
            words.byteswap()
        high, low = words[0::2], words[1::2]
        follows = not self._high or (self._high[-1], self._low[-1]) <= (high[0], low[0])
        if self._sorted and not (follows and prints == sorted(prints)):
            self._sorted = False
        self._high.extend(high)
        self._low.extend(low)
        ids = list(map(_second, rows))
        lengths = list(map(len, ids))
        end = self._offsets[-1]
        self._parts.append("".join(ids))
        if end + sum(lengths) > 0xFFFFFFFF and self._offsets.typecode == "I":
            self._offsets = array("Q", self._offsets)
        self._offsets.extend(accumulate(lengths, initial=end))
        del self._offsets[-len(ids) - 1]  # the chunk's start, already the last offset

    def finish(self) -> KnownPrints:
        """Sort if the rows came out of order, then build the directory; returns self."""
        self._ids, self._parts = self._ids + "".join(self._parts), []
        if not self._sorted:
            self._sort()
        count = len(self._high)
        bits = min(22, count.bit_length())  # ~0.5-1 digest a bucket: most lookups compare one or none
        self._shift = shift = 64 - bits
        counts = array("I", bytes(4 << bits))
        for top in map(shift.__rrshift__, self._high):
            counts[top] += 1
        self._starts = array("I", accumulate(counts, initial=0))
        return self

    def _sort(self) -> None:
        """Rows read out of digest order (a store whose text collation is not binary): sorted
        here, at the cost of a transient list of the positions."""
        high, low, offsets, ids = self._high, self._low, self._offsets, self._ids
        order = sorted(range(len(high)), key=lambda k: (high[k], low[k]))
        self._high = array("Q", (high[k] for k in order))
        self._low = array("Q", (low[k] for k in order))
        self._ids = "".join(ids[offsets[k]:offsets[k + 1]] for k in order)
        self._offsets = array(offsets.typecode, accumulate((offsets[k + 1] - offsets[k] for k in order), initial=0))
        self._sorted = True

    def parts(self) -> tuple[array[int], array[int], array[int], int, array[int], str]:
        """What a lookup reads (starts, high, low, shift, offsets, ids), for a caller that
        inlines it in its own loop (sync/fingerprint.py LineRecognizer: a call per line costs
        as much as the lookup). Valid until the next :meth:`add`."""
        return self._starts, self._high, self._low, self._shift, self._offsets, self._ids

    def get(self, digest: bytes) -> str | None:
        """The external id whose stored fingerprint is this 16-byte digest; None if none is."""
        return self.finder()(digest)

    def finder(self) -> Callable[[bytes], str | None]:
        """:meth:`get` as a closure over the arrays (a re-export calls it once a line: no
        attribute reads there). Valid until the next :meth:`add`."""
        starts, high, low, shift = self._starts, self._high, self._low, self._shift
        offsets, ids = self._offsets, self._ids
        unpack = HALVES.unpack

        def find(digest: bytes) -> str | None:
            top, bottom = unpack(digest)
            bucket = top >> shift
            at, end = starts[bucket], starts[bucket + 1]
            while at < end:  # a bucket holds its digests in order, most often one or none
                high_at = high[at]
                if high_at == top and low[at] == bottom:
                    return ids[offsets[at]:offsets[at + 1]]
                if high_at > top:
                    return None
                at += 1
            return None
        return find

    def get_hex(self, printed: str) -> str | None:
        """As :meth:`get`, for a fingerprint in its stored hex form."""
        return self.get(bytes.fromhex(printed)) if _HEX.fullmatch(printed) else None


def known_prints(chunks: Iterable[Sequence[tuple[str, str]]]) -> KnownPrints:
    """The index of these chunks of (fingerprint hex, external id) rows."""
    index = KnownPrints()
    for rows in chunks:
        index.add(rows)
    return index.finish()
