""""Did you mean …" for a misspelt settings key: `quiet_hour:` under `reminders:` is refused as
an unknown key *and* told `quiet_hours`, from the keys the schema has at that very place (the
section's model, a connector's kind, a list's items), never from another section's."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The settings models a value of this annotation may be: itself, a list's or a dict's
    items, each member of a union (a connector of any kind)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (list, tuple, set, frozenset, Sequence):
        return [m for a in args for m in _models(a)]
    if origin is dict:
        return _models(args[1]) if len(args) == 2 else []
    if origin in (Union, types.UnionType) or (origin is not None and args):
        return [m for a in args for m in _models(a)]
    return []


def _keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def known_keys(root: type[BaseModel], path: Sequence[str | int]) -> set[str]:
    """The keys the schema accepts at ``path`` (the location of the mapping the unknown key is
    in, list indexes included), empty where it cannot tell."""
    models: list[type[BaseModel]] = [root]
    for part in path:
        if isinstance(part, int):
            continue  # a list's item: the models already stand for it
        found: list[type[BaseModel]] = []
        for model in models:
            field = model.model_fields.get(part) or next(
                (f for f in model.model_fields.values() if f.alias == part), None)
            if field is not None:
                found += _models(field.annotation)
        models = found or [m for m in models if m.__name__.lower().startswith(str(part).lower())]
        if not models:
            return set()
    return set().union(*(_keys(m) for m in models))


def did_you_mean(root: type[BaseModel], loc: Sequence[str | int]) -> str:
    """' (did you mean 'quiet_hours'?)' for the unknown key at ``loc``, or ''."""
    if not loc or not isinstance(loc[-1], str):
        return ""
    near = difflib.get_close_matches(loc[-1], sorted(known_keys(root, loc[:-1])), n=1, cutoff=0.75)
    return f" (did you mean {near[0]!r}?)" if near else ""
