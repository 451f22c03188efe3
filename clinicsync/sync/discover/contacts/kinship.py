"""Contact rows that are not the person's own: a row flagged as an emergency contact, next of
kin or guardian, a row whose relationship names someone else (``spouse``, ``mother``), a row
that names another person as its owner, a row whose type code says whose it is ('emergency',
'spouse' beside 'home' and 'mobile'). Their phone or email is never the patient's.

Why: a contact table often holds the patient's own numbers beside those of the people to call
for them; a reminder sent to a spouse or a son tells a third party about the visit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.common.names import name_words
from clinicsync.common.vocabulary import SOMEONE_ELSES_CONTACT
from clinicsync.sync.discover.graph import Table

_FLAG = re.compile(r"^(is_?)?(emergency|emergency_?contact|next_?of_?kin|nok|kin|guardian|relative|"
                   r"third_?party|proxy|caregiver|carer)(_?(flag|contact|yn))?$", re.I)
_RELATION = re.compile(r"^(relation|relationship|relation_?type|relationship_?type|contact_?role|"
                       r"kinship|rel(ation)?_?to_?patient)$", re.I)
_TEXT = re.compile(r"char|text|string|clob|enum", re.I)
_OTHERS = ("spouse", "husband", "wife", "partner", "mother", "father", "parent", "child", "son", "daughter",
           "sibling", "brother", "sister", "guardian", "emergency", "emergency contact", "next of kin", "next_of_kin",
           "nok", "relative", "friend", "caregiver", "carer", "neighbour", "neighbor", "grandparent", "grandmother",
           "grandfather", "grandchild", "aunt", "uncle", "cousin", "niece", "nephew", "stepmother", "stepfather",
           "other")
_OTHER = re.compile(r"^(other|related|contact|emergency|guardian|kin)_?(party|person|patient|contact)(_?(id|uid))?$",
                    re.I)


# The words of a row's type code that say whose the number is, not what it is: "other" is a kind
# of phone ("home", "work", "other") among type codes, a relative only in a relationship column.
OTHERS_CODE = (SOMEONE_ELSES_CONTACT | {w for w in _OTHERS if " " not in w and "_" not in w}) - {"other"}


def others_code(label: str) -> bool:
    """Whether a contact row's type code (or its label) says the row is someone else's: an
    'emergency' or 'Next of kin' number kept as a kind of phone beside 'home' and 'mobile'
    (a spouse's mobile, which reads as a mobile as well as the patient's)."""
    return bool(set(name_words(label)) & OTHERS_CODE)


def others_table(table: Table) -> bool:
    """Whether every row of ``table`` is someone else's contact: a table kept for the people to
    call for the patient (``patient_emergency_contacts``, ``next_of_kin``), named so whoever it
    belongs to. It refers to the patient as the patient's own phone rows do, but its numbers
    are a spouse's or a relative's (the words a column of them is refused by, too)."""
    return bool(set(name_words(table.name)) & SOMEONE_ELSES_CONTACT)


def flag_columns(table: Table) -> list[str]:
    """Columns that flag a row as someone else's contact (``emergency``, ``next_of_kin``)."""
    return [c for c, t in table.columns.items() if _FLAG.match(c) and not _TEXT.search(t)]


def relation_column(table: Table) -> str | None:
    """A text column naming whose contact the row is (``relationship``: 'self', 'spouse'): rows
    naming a relative, a guardian or an emergency contact are someone else's."""
    return next((c for c, t in table.columns.items() if _RELATION.match(c) and _TEXT.search(t)), None)


def other_person_columns(table: Table) -> list[str]:
    """Columns naming another person the row belongs to (``related_party``)."""
    return [c for c in table.columns if _OTHER.match(c)]


def own_rows(table: Table, alias: str, quote: Callable[[str], str], truthy: Callable[[str], str]) -> list[str]:
    """SQL conditions keeping only the person's own rows (``truthy(column)``: the column is set)."""
    out = [f"NOT ({truthy(c)})" for c in flag_columns(table)]
    relation = relation_column(table)
    if relation is not None:  # a word it does not know ('self', 'home') is kept
        others = ", ".join(f"'{w}'" for w in _OTHERS)
        out.append(f"({alias}.{quote(relation)} IS NULL OR LOWER({alias}.{quote(relation)}) NOT IN ({others}))")
    out += [f"{alias}.{quote(c)} IS NULL" for c in other_person_columns(table)]
    return out


def describe(table: Table) -> str | None:
    """What is left out, for a proposal's reason; None when the table flags nothing."""
    said = [repr(c) for c in flag_columns(table)]
    relation = relation_column(table)
    if relation is not None:
        said.append(f"{relation!r} naming a relative or an emergency contact")
    said += [f"{c!r} set" for c in other_person_columns(table)]
    return f"rows of other people left out ({', '.join(said)})" if said else None
