"""A label kept as translations in one text column: a JSON object by language
(``{"de": "Impfung", "en": "Vaccination"}``), as Django's i18n fields and many multilingual
tools store a place's, a service's or an event's name.

Why: the scorer read such a column as "0% words" (JSON is no word) and left the place and the
visit's type out, or would have shown the patient the JSON itself. The words are there, one per
language: the clinic's own is read.

How: a column whose filled sampled values are all JSON objects, each of whose keys is a language
tag CLDR knows (``de``, ``en``, ``pt-br``) holding text, one of them the clinic's language or
English (a JSON object of two-letter field names is no translation), is scored on its words in the clinic's language
(the language of ``clinic.default_region`` by CLDR's likely subtags: DE and AT -> de, US -> en),
else the key present on most rows. A field placed on it reads that key (``column.de``, the
column listed under ``json_columns``), then the other keys the rows hold as fallbacks (a label
typed in one language only).

Rejected: reading every JSON object's first key (the order is the product's, not the clinic's).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Sequence

from babel import Locale, UnknownLocaleError

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.proposal import Guess

_TAG = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
MAX_KEYS = 3  # languages read in turn


def _translations(value: str) -> dict[str, str] | None:
    """The JSON object by language tag ``value`` holds, or None for anything else."""
    text = value.strip()
    if not text.startswith("{"):
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict) or not found or not all(
            isinstance(k, str) and _TAG.match(k) and _language(k) and isinstance(v, str) for k, v in found.items()):
        return None
    return found


def _language(tag: str) -> bool:
    """Whether ``tag`` names a language CLDR knows (``de``, ``pt-br``)."""
    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def clinic_language(region: str | None) -> str | None:
    """The language CLDR gives as likeliest for the clinic's region; None when unknown."""
    if not region:
        return None
    try:
        return str(Locale.parse(f"und_{region.upper()}").language)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def as_words(samples: Sequence[ColumnSample], region: str | None
             ) -> tuple[list[ColumnSample], dict[str, list[str]]]:
    """``samples`` with each translations column's values as its words in the clinic's language,
    and the keys to read for each such column, in turn."""
    language = clinic_language(region)
    out, keys = [], {}
    for sample in samples:
        filled = [v for v in sample.values if v]
        found = [_translations(v) for v in filled]
        counts = Counter(k for t in found if t for k in t)
        if not filled or any(t is None for t in found) or not {language, "en"} & set(counts):
            out.append(sample)  # not translations: a key of the clinic's language or English on some row
            continue
        order = sorted(counts, key=lambda k: (k != language, -counts[k], k))[:MAX_KEYS]
        keys[sample.name] = order
        words = [None if not v else next((t[k] for k in order if (t := _translations(v)) and t.get(k)), None)
                 for v in sample.values]
        out.append(dataclasses.replace(sample, values=words))
    return out, keys


def placed(guesses: Sequence[Guess], keys: dict[str, list[str]]) -> tuple[list[Guess], list[str]]:
    """Each guess read from a translations column made to read its keys; the columns so read."""
    out, used = [], []
    for guess in guesses:
        column = guess.spec.get("from")
        if not isinstance(column, str) or column not in keys or set(guess.spec) - {"from", "on_invalid"}:
            out.append(guess)
            continue
        paths = [f"{column}.{k}" for k in keys[column]]
        used.append(column)
        out.append(dataclasses.replace(guess, spec={**guess.spec, "from": paths if len(paths) > 1 else paths[0]},
                                       why=f"{guess.why}; its text is translations by language: "
                                           f"{', '.join(keys[column])} read in turn"))
    return out, used
