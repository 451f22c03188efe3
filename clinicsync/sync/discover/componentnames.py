"""A person's name kept as a name row whose parts are typed component rows: a name of the party
(its use, valid from one version to another) and, under it, one row per part, its type a word
or a code whose word a dictionary holds (``Given``, ``Family``), its value a text.

Why: an HL7 RIM-shaped store keeps no name column on the person at all; the parts of a name
are rows, as many given names as the person has, so the patient and the doctor were unnamed.

The rule, read from the rows: a child table of the party's table (the name rows) has a child
(the parts) with a type column whose words (codewords.py for a code) include one saying a given
name and one saying a family name (vocab's token roles), and a text column of values. The name
read is the name rows still in force (history.py: an ended validity, an ended version); the
given parts in their order (a whole-number sequence, else the key), then the family parts.
Rejected: one part per type (a second given name dropped), the name rows' newest (no stamp).
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicsync.sync.discover import codewords, history
from clinicsync.sync.discover.contacts import phonecell
from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import TEXT, WHOLE, Builder
from clinicsync.sync.discover.metarows import literal, plain
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role

MAX_TYPES = 30


@dataclass(frozen=True)
class Parts:
    """``parts`` rows (under ``names`` rows of the party) typed by ``kind``, valued ``value``."""

    names: Table
    owner: Ref  # names -> party
    parts: Table
    under: Ref  # parts -> names
    kind: str
    value: str
    given: str
    family: str
    words: codewords.Words | None
    current: str  # over {a}: the name rows in force ('' for all)


def _role(word: str) -> str | None:
    roles = {token_role(t) for t in name_tokens(word)}
    return "first_name" if "first_name" in roles else "last_name" if "last_name" in roles else None


def _typed(builder: Builder, names: Table, owner: Ref, under: Ref) -> Parts | None:
    q, parts = builder.q, builder.schema.tables[under.table]
    for kind, type_name in parts.columns.items():
        if kind in (under.column, *parts.primary_key) or audit(kind):
            continue
        words = codewords.words_of(builder.run, q, builder.schema, parts, kind)
        if words is not None:
            said = list(words.words)
        elif TEXT.search(type_name):
            said = [str(r[0]) for r in builder.run(f"SELECT DISTINCT {q(kind)} FROM {q(parts.name)}") if r[0]]
        else:
            continue
        if len(said) > MAX_TYPES or not all(plain(w) for w in said):
            continue
        given = next((w for w in said if _role(w) == "first_name"), None)
        family = next((w for w in said if _role(w) == "last_name"), None)
        references = {r.column for r in builder.schema.refs(parts.name)}
        value = next((c for c, t in parts.columns.items() if TEXT.search(t) and c != kind and not audit(c)
                      and c not in (*parts.primary_key, *references)), None)
        if given and family and value:
            ended = history.end_column(names)
            current = history.valid_until(builder.run, q, builder.schema, names) or \
                (history.current("{a}", q(ended)) if ended else "")
            return Parts(names, owner, parts, under, kind, value, given, family, words, current)
    return None


def find(builder: Builder, party: Table) -> Parts | None:
    """The typed name parts of ``party``'s rows, or None."""
    schema = builder.schema
    for owner in schema.children(party.name):
        names = schema.tables[owner.table]
        if owner.target_column != party.key or names.key is None:
            continue
        for under in schema.children(names.name):
            if under.target_column == names.key and under.table != names.name:
                found = _typed(builder, names, owner, under)
                if found is not None:
                    return found
    return None


def place(builder: Builder, who: str, party: Table, alias: str) -> Guess | None:
    """The party's name from its typed parts: the given parts, then the family parts."""
    found = find(builder, party)
    if found is None:
        return None
    q, plan = builder.q, builder.plan
    order = next((c for c, t in found.parts.columns.items() if WHOLE.search(t) and c not in
                  (found.under.column, found.kind)), str(found.parts.key))
    held = [found.current.format(a="cs_n")] if found.current else []
    outs = []
    for word in (found.given, found.family):
        at = f"cs_r.{q(found.kind)}"
        typed = found.words.among(at, [word], q) if found.words is not None else f"{at} = {literal(word)}"
        source = (f"{q(found.parts.name)} AS cs_r JOIN {q(found.names.name)} AS cs_n ON cs_n.{q(str(found.names.key))} "
                  f"= cs_r.{q(found.under.column)}")
        where = [f"cs_n.{q(found.owner.column)} = {alias}.{q(str(party.key))}", typed, *held]
        sql = phonecell.gathered(plan.dialect, f"cs_r.{q(found.value)}", source, where, [f"cs_r.{q(order)}"], " ")
        outs.append(plan.expr(sql, f"{who}_{word.lower()}", found.parts.name, "varchar"))
    return Guess(f"{'practitioner' if who == 'doctor' else who}.name", " + ".join(outs), 0.8,
                 f"the {found.parts.name!r} parts {found.given!r} then {found.family!r} of the {who}'s "
                 f"{found.names.name!r} rows in force", {"concat": outs})
