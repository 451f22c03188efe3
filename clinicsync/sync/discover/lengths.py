"""A visit's length from what it joins: a ward's, a service's or a visit type's default length.

A product that keeps a default length on the service (or ward, or type) and leaves the visit's
own end or length empty on some rows has its visits refused for a missing end unless the mapping
reads that default too. So when the joined rows carry a length column the scorer left unplaced,
the proposal reads it after the visit's own length (``duration_minutes: {from: [own, joined]}``),
or as the length where the visit has only an end, or none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.vocab import name_tokens, token_role

# Words that make a column a count, whatever length word stands beside it: 'minCapacity' is the
# fewest people a service takes, not its minutes.
_COUNTS = frozenset({"capacity", "persons", "people", "count", "quantity", "seats", "places", "participants"})
# Words that make a column an amount of money: 'price_min' is a service's lowest price (LatePoint),
# its 'min' the minimum, not minutes.
_MONEY = frozenset({"price", "cost", "charge", "amount", "fee", "deposit", "tax", "total", "rate", "discount",
                    # and words that make it a text about the length ('duration_name': "1 hour session")
                    "name", "label", "title", "description", "text"})
# Length words that may be something else ('min' is also the minimum): a column named with
# another length word ('duration') is the better default.
_WEAK = frozenset({"min", "len", "tiempo"})


def _length(out: str) -> bool:
    """Whether a column's name says a length (and not a count of something)."""
    tokens = name_tokens(out)
    return any(token_role(t) == "duration" for t in tokens) and not set(tokens) & (_COUNTS | _MONEY)


def _weak(out: str) -> bool:
    """Whether the only length word in the name is one that may mean something else."""
    return all(t in _WEAK for t in name_tokens(out) if token_role(t) == "duration")


def with_default_length(guesses: Sequence[Guess], unplaced: Sequence[str], tables_of: Mapping[str, str],
                        main: str) -> tuple[list[Guess], list[str]]:
    """``guesses`` with a joined table's length column added to ``duration_minutes`` (and taken
    off ``unplaced``), when there is one; else both as they came."""
    joined = [out for out in unplaced if tables_of.get(out, main) != main and _length(out)]
    if not joined:
        return list(guesses), list(unplaced)
    default = sorted(joined, key=_weak)[0]  # stable: the first strong length word, else the first
    out: list[Guess] = []
    placed = False
    for guess in guesses:
        if guess.field == "duration_minutes" and isinstance(guess.spec.get("from"), str):
            own = guess.spec["from"]
            guess = Guess(guess.field, f"{own} | {default}", guess.confidence,
                          f"{guess.why}; else {default!r}, the default length of the joined "
                          f"{tables_of[default]!r}", {**guess.spec, "from": [own, default]})
            placed = True
        out.append(guess)
    if not placed and not any(g.field in ("duration_minutes", "end") for g in guesses):
        out.append(Guess("duration_minutes", default, 0.7,
                         f"the default length of the joined {tables_of[default]!r} (the visit has none of its own)",
                         {"from": default}))
        placed = True
    return out, [c for c in unplaced if c != default] if placed else list(unplaced)
