"""No patient data in a reason or a note: names, phones, emails and birth dates put into every
field of every shipped mapping's records (CSV rows, FHIR and vendor JSON, HL7 segments) never
come back in a quarantine reason or a data-quality note, whichever engine maps them. A shifted
column is the everyday way such values land where a status word or a zone belongs."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicsync.mappings.model import MappingError
from tests.mappings.test_compiled import MAPPINGS, RECORDS, SHIPPED, _copy, _leaves, _put

FIRST = ["Maria", "José", "Lucía", "Juan", "Wei", "Olga", "Aisha", "Pierre", "Nguyen", "Siobhán", "Ana"]
LAST = ["Lopez", "García", "Perez", "O'Brien", "Smith", "Müller", "Kowalski", "Okafor", "Dubois"]
NAMES = st.builds(lambda first, last, style: style(f"{first} {last}"), st.sampled_from(FIRST), st.sampled_from(LAST),
                  st.sampled_from([str, str.upper, lambda n: n.split()[0], lambda n: n.split()[1],
                                   lambda n: ", ".join(reversed(n.split()))]))
PHONES = st.sampled_from(["+1 212 555 0123", "(212) 555-0123", "212.555.0123", "0034 612 345 678", "612345678",
                          "+44 20 7946 0958", "5550123"])
EMAILS = st.builds(lambda first, last: f"{first.lower()}.{last.lower()}@example.org", st.sampled_from(FIRST),
                   st.sampled_from(LAST))
BIRTH_DATES = st.sampled_from(["1984-02-29", "29/02/1984", "02/29/1984", "19840229", "Feb 29, 1984",
                               "29.02.1984"])
PHI = st.one_of(NAMES, PHONES, EMAILS, BIRTH_DATES)


def _shown(value: str, text: str) -> list[str]:
    """The parts of `value` that `text` repeats: the whole, and each word of a name or a run
    of four or more digits (a phone's or a birth date's)."""
    parts = [value, *re.findall(r"[^\W\d_]{3,}", value), *re.findall(r"\d{4,}", value)]
    return [p for p in parts if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]


def _get(document: Any, at: tuple[Any, ...]) -> Any:
    for step in at:
        document = document[step]
    return document


def _outcomes(name: str, record: Any) -> list[str]:
    """What a person may be shown of the record: each engine's reason, or its notes."""
    said = []
    mapping = MAPPINGS[name]
    for apply in (mapping.apply, mapping.apply_interpreted):
        try:
            said.extend(apply(record).notes)
        except MappingError as exc:
            said.append(str(exc))
    return said


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_patient_data_in_any_reason_or_note(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(RECORDS)))
    record = _copy(data.draw(st.sampled_from(RECORDS[kind])))
    places = [at for at in _leaves(record) if not isinstance(_get(record, at), (dict, list))]  # never an ancestor
    value = data.draw(PHI)
    for at in data.draw(st.lists(st.sampled_from(places), min_size=1, max_size=2)) if places else []:
        _put(record, at, value)
    for name in SHIPPED:
        for said in _outcomes(name, record):
            assert not _shown(value, said), f"{name} ({kind}) repeats {value!r}: {said}"
