"""The status column read over the whole table rather than the sample: every word it holds, the
words of a shared option list its codes point at, and a product that moves a visit by booking a
new row (the old row's successor). The shape proposal (sql.py) calls each once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.discover import optionstatuses
from clinicsync.sync.discover.graph import Schema
from clinicsync.sync.discover.optionlists import option_lists
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.sql_reading import MAX_WORDS, quote_name, run_checked
from clinicsync.sync.discover.statuses import status_word
from clinicsync.sync.discover.successors import creation_note, creation_rule


def creation_successors(run: Callable[[str], list[tuple[Any, ...]]], dialect: str, plan: ReadPlan,
                         proposal: Proposal, by_field: dict[str, Guess], where: str) -> None:
    """A product that moves a visit by booking a new row for the same patient at the moment it
    marks the old one, and names the old row nowhere: where the data shows it consistently, the
    query reads the old row's id (``replaces_id``) and ``replaces`` maps it; where it shows it
    only for some rows, a note gives the counts and asks (successors.py)."""
    def own(field_name: str) -> str | None:
        guess = by_field.get(field_name)
        if guess is None or plan.select.get(guess.source) != f"a.{plan.quote(guess.source)}":
            return None
        return guess.source
    assert proposal.mapping is not None
    rule = creation_rule(run, plan.quote, plan.main, dialect, own("status"), own("patient.external_id"),
                         proposal.status_words)
    if rule is None:
        return
    if rule.expression is None:
        proposal.notes.append(creation_note(rule, None))
        return
    out = plan.expr(rule.expression, "replaces_id", plan.main.name, plan.main.columns[plan.main.key or ""])
    proposal.connector["query"] = plan.sql(where)
    proposal.mapping["fields"]["replaces"] = {"from": out}
    proposal.mapping["status_map"].update(dict.fromkeys(rule.words, "cancelled"))
    proposal.status_words = [StatusWord(w.value, "cancelled", w.count, 0.8) if w.value in rule.words else w
                             for w in proposal.status_words]
    proposal.notes.append(creation_note(rule, out))


def all_status_words(connection: Connection, plan: ReadPlan, kept: str, guess: Guess | None,
                      sampled: Sequence[StatusWord]) -> list[StatusWord]:
    """The status column's words over the whole table, not only the sample: a word the sample
    missed would be quarantined on the first run. The scorer's reading of a word stands; a word
    it did not see is read as a known synonym, else listed as unknown."""
    if guess is None or guess.source not in plan.select:
        return list(sampled)
    expr = plan.select[guess.source]
    where = f"\nWHERE {kept}" if kept else ""
    rows = run_checked(connection, f"SELECT {expr}, COUNT(*)\n{plan.from_sql()}{where}\nGROUP BY {expr}\n"
                            "ORDER BY COUNT(*) DESC")
    seen = {w.value: w for w in sampled}
    out = []
    for value, count in rows[:MAX_WORDS]:
        if value is None:
            continue
        word = str(value)
        known = seen.get(word)
        guessed = status_word(word)[0]  # read as the sample's words are
        out.append(StatusWord(word, known.status, int(count), known.confidence) if known is not None else
                   StatusWord(word, guessed, int(count), 0.6 if guessed else 0.0))
    return out


def listed_statuses(connection: Connection, schema: Schema, plan: ReadPlan, guess: Guess | None,
                     words: list[StatusWord], notes: list[str]) -> list[StatusWord]:
    """Status codes whose words are a list of a shared option table (optionstatuses.py), read
    through it; the words as they were when no list fits or the list cannot be read."""
    if guess is None or guess.source not in plan.select or all(w.status is not None for w in words):
        return words
    try:
        with connection.begin_nested():
            lists = option_lists(schema, lambda sql: run_checked(connection, sql),
                                 lambda n: quote_name(connection, n), connection.dialect.name)
    except SQLAlchemyError:
        return words
    read = optionstatuses.read(lists, guess.source, plan.tables_of.get(guess.source, plan.main.name), words)
    if read is None:
        return words
    notes.append(read[1])
    return read[0]
