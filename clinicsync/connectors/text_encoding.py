"""Which encoding a drop file is in, found in the same streaming pass as its content hash.

Order of evidence: a byte-order mark (UTF-8, UTF-16); then the NUL pattern of BOM-less
UTF-16 (every other byte zero in mostly-ASCII text); then UTF-8 unless the file's
non-ASCII bytes are mostly not UTF-8 (a legacy Windows export: cp1252, or latin-1 where
cp1252 leaves a byte undefined). A UTF-8 file with a few stray bytes stays UTF-8: the
rows holding them are quarantined, every other accented name stays right ("Lucía", not
"LucÃ­a").

Undecodable bytes never stop a read: the ``MARK_ERRORS`` handler turns each into a lone
surrogate (U+DC00 + byte), which no valid decode of these encodings produces, so the
record reader can tell exactly which lines hold them (``undecodable``).
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Encoding = Literal["auto", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"]
MARK_ERRORS = "clinicsync.mark"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 1 << 20
_UTF16_SAMPLE = 4096


def _mark(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(MARK_ERRORS, _mark)


def undecodable(text: str) -> bool:
    """Whether ``text`` (decoded with ``MARK_ERRORS``) held bytes its encoding could not read:
    whether it holds a surrogate, which is exactly when a strict UTF-8 encode fails (every
    other code point encodes). The encode runs in C at a few times a regex search's speed;
    a quarter of a typical export's lines (accented names) take this test."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def display_name(encoding: str) -> str:
    """The encoding as people name it, for reasons and docs."""
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16",
            "utf-16-be": "UTF-16", "latin-1": "latin-1", "cp1252": "cp1252 (Windows)"}.get(encoding, encoding)


@dataclass(frozen=True)
class FileText:
    path: Path
    digest: str  # SHA-256 of the bytes: a file is read once, whatever its name
    encoding: str  # a Python codec name
    valid_utf8: bool = False  # the whole file was decoded strictly as UTF-8 (its lines need no check)


def _bom(first: bytes) -> str | None:
    if first.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the mark and drops it
    return None


def _bomless_utf16(sample: bytes) -> str | None:
    """UTF-16 without a mark: text that is mostly ASCII has a NUL in every other byte."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0:pairs * 2:2].count(0), sample[1:pairs * 2:2].count(0)
    if odd >= 0.4 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


# The only bytes cp1252 leaves undefined (its decoder fails on them and on nothing else):
# looking for five bytes is far cheaper than decoding every chunk a second time.
_CP1252_UNDEFINED = tuple(bytes([byte]) for byte in (0x81, 0x8D, 0x8F, 0x90, 0x9D))


class _Utf8Evidence:
    """Counts, over a stream, the non-ASCII characters that decode as UTF-8 and the bytes
    that do not; and whether cp1252 reads every byte."""

    def __init__(self) -> None:
        self.utf8 = codecs.getincrementaldecoder("utf-8")(MARK_ERRORS)
        self.valid = 0
        self.invalid = 0
        self.cp1252_ok = True

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if chunk.isascii() and not final:
            return
        text = self.utf8.decode(chunk, final)
        try:  # the common case, checked in C: every byte was UTF-8, so no mark was made
            text.encode("utf-8")
            invalid = 0
        except UnicodeEncodeError:
            invalid = len(_SURROGATE.findall(text))
        self.invalid += invalid
        self.valid += len(text) - len(text.encode("ascii", "ignore")) - invalid
        if self.cp1252_ok and any(byte in chunk for byte in _CP1252_UNDEFINED):
            self.cp1252_ok = False

    def encoding(self) -> str:
        if self.invalid == 0 or self.valid > self.invalid:
            return "utf-8"
        return "cp1252" if self.cp1252_ok else "latin-1"


def _utf8_evidence(path: Path) -> str:
    """The encoding of a BOM-less, non-UTF-16 file by the weight of its UTF-8 evidence: a
    second pass, taken only when the file is not all valid UTF-8."""
    evidence = _Utf8Evidence()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            evidence.feed(chunk)
    evidence.feed(b"", final=True)  # a multi-byte sequence cut off at the end
    return evidence.encoding()


def inspect_file(path: Path, configured: str, digest: str | None = None) -> FileText:
    """The content hash and the encoding to read ``path`` with (``configured`` unless 'auto').
    ``digest``: the hash, already taken (connectors/dropfolder.py ``file_digest``: a file
    already read is known by it alone, so its encoding is never looked for).

    Most files are valid UTF-8 (or ASCII): the pass decodes them strictly as it goes, which
    costs a fraction of the hash, and only a file that fails that gets the weighing of its
    evidence (``_Utf8Evidence``: counting, re-encoding) in a second pass. The answer is the
    same either way: a strict decode fails exactly when the evidence would count an
    undecodable byte, and with none the evidence says UTF-8."""
    hashing = hashlib.sha256() if digest is None else None
    strict = codecs.getincrementaldecoder("utf-8")("strict")
    all_utf8 = True
    found: str | None = None if configured == "auto" else configured
    if hashing is not None or found is None:
        with path.open("rb") as handle:
            first = True
            while chunk := handle.read(_CHUNK):
                if hashing is not None:
                    hashing.update(chunk)
                if first and found is None:
                    found = _bom(chunk[:4]) or _bomless_utf16(chunk[:_UTF16_SAMPLE])
                first = False
                # An ASCII chunk is skipped only when no character is left half-read before it:
                # else the decoder would join the next chunk's continuation bytes to it.
                if found is None and all_utf8 and (not chunk.isascii() or strict.getstate()[0]):
                    try:
                        strict.decode(chunk)
                    except UnicodeDecodeError:
                        all_utf8 = False
                if hashing is None and (found is not None or not all_utf8):
                    break  # nothing left to learn from the rest
    valid = False
    if found is None:
        try:
            strict.decode(b"", final=True)  # a multi-byte sequence cut off at the end
        except UnicodeDecodeError:
            all_utf8 = False
        found = "utf-8" if all_utf8 else _utf8_evidence(path)
        valid = all_utf8
    return FileText(path, hashing.hexdigest() if hashing is not None else digest or "", found, valid)
