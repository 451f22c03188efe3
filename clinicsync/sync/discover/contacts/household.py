"""The phone of the household or company a patient's row belongs to, read after the person's own.

Why: a CRM or ERP agenda (Dolibarr: ``llx_socpeople.fk_soc`` -> ``llx_societe.phone``) keeps a
contact's own numbers on the contact and the household's or company's number on the row the
contact belongs to. A contact with no number of their own is then reached at home, as the
desk would ring them. Never the other way round: the household's number is only the last path
of ``patient.phone: {from: [own, ..., household]}``, so a person's own number always wins.

How: the patient's table's reference to a table that is no person's (no patient, person,
practitioner or login table), whose name or the reference's says a household or a company
(``societe``, ``soc``, ``household``, ``family``, ``company``, ``account``: never an insurer, a
pharmacy or an employer, whose number is no way to reach the patient), with a column named as
a phone (not a fax) is joined, its phone
columns selected under the reference's stem; they are kept away from the scorer (it would take
them as the person's own) and added after the sample shows they hold phone numbers
(``FLOOR`` of the values present). A column that does not is left out, said why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinicsync.sync.discover.graph import Table, audit, words
from clinicsync.sync.discover.kinds import USER, Builder, Household, kind_of
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import stem_of
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import column_roles, name_tokens

FLOOR = 0.8  # of a household phone column's sampled values present that must read as phone numbers
_NOT_A_LINE = frozenset({"fax", "telefax", "pager", "beeper"})
_HOUSEHOLD = frozenset({"household", "households", "family", "families", "familia", "familias", "famille", "familie",
                        "foyer", "hogar", "haushalt", "societe", "societes", "soc", "company", "companies", "empresa",
                        "empresas", "thirdparty", "thirdparties", "tiers", "account", "accounts"})


def _phones(table: Table) -> list[str]:
    return [c for c in table.columns if "phone" in column_roles(name_tokens(c))
            and not set(name_tokens(c)) & _NOT_A_LINE]


def join(builder: Builder, table: Table, alias: str, skip: set[str]) -> Household | None:
    """The first table the patient's ``table`` (joined as ``alias``) refers to that is no
    person's and has a phone column, joined; its phone columns selected. ``skip``: the tables
    already read as the patient's."""
    schema, plan = builder.schema, builder.plan
    for ref in schema.refs(table.name):
        target = schema.tables[ref.target]
        if audit(ref.column) or ref.target in skip or ref.target == plan.main.name or words(ref.target) & USER \
                or kind_of(ref.target) in ("person", "patient", "provider") \
                or not (words(ref.target) | words(ref.column)) & _HOUSEHOLD:
            continue
        phones = _phones(target)
        if not phones:
            continue
        at = plan.alias("h")
        plan.join(target, at, plan.on(ref, at, alias))
        builder.stamp_row(target, at)  # a changed household number moves the cursor like the person's own
        stem = stem_of(ref.column, target.name)
        outs = tuple(plan.add(at, c, f"{stem}_{c}", target.name, target.columns[c]) for c in phones)
        return Household(outs, target.name, ref.column)
    return None


def placed(guesses: Sequence[Guess], unplaced: Sequence[str], household: Household | None,
           sample: Mapping[str, Sequence[str | None]], region: str) -> tuple[list[Guess], list[str], list[str]]:
    """``guesses`` with the household's phone read last for ``patient.phone`` where the sample
    shows phone numbers (the field placed on it alone when the person has no phone column), the
    columns left unplaced, and notes for the columns that hold no phones."""
    out, rest, notes = list(guesses), list(unplaced), list[str]()
    if household is None or not any(g.field == "patient.external_id" for g in guesses):
        return out, rest, notes
    for column in household.outs:
        values = sample.get(column, [])
        p = profile(values, region)
        if not p.present or p.share("phone") < FLOOR:
            notes.append(f"{column!r} ({household.table!r}, through {household.column!r}): not read as the "
                         f"patient's fallback phone: {round(100 * p.share('phone')) if p.present else 0}% of "
                         f"{p.present} sampled values are phone numbers")
            continue
        why = (f"the phone of {household.table!r}, the household or company the patient's {household.column!r} "
               f"names: read only when the person has none ({round(100 * p.share('phone'))}% of {p.present} "
               "sampled values are phone numbers)")
        own = next((i for i, g in enumerate(out) if g.field == "patient.phone"), None)
        if own is None:
            out.append(Guess("patient.phone", column, 0.6, why, {"from": column}))
        else:
            guess = out[own]
            paths = guess.spec.get("from")
            paths = [paths] if isinstance(paths, str) else list(paths or [])
            if not paths:
                continue  # a phone made of parts: nothing to read after it
            out[own] = Guess(guess.field, f"{guess.source} + {column}", guess.confidence, f"{guess.why}; then {why}",
                             {**guess.spec, "from": [*paths, column]})
        rest = [c for c in rest if c != column]
        break
    return out, rest, notes
