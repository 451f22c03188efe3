"""The views of an appointment that change detection hashes: which fields count.

Fields added after the first stores were written count only when set, so an appointment hashes
as it did before they existed; each such group is a bit of a view mask, and each mask has its
view (its fields in declaration order). Kept apart from the hashing and the generated row code,
which both build on it, so that the rule of what counts is written once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import cache
from operator import attrgetter
from typing import Any

from clinicsync.mappings.model import NormalizedAppointment

# Fields added after the first stores were written count only when set, so an appointment
# without them hashes as it did before they existed: upgrading re-updates, announces and
# pushes nothing. Each group was added at once (data-quality notes and the source's own
# answer; the telehealth fields; the cancellation reason) and counts whole when
# it is set: a visit stated as in person without links is no news either.
_TELEHEALTH_FIELDS = frozenset({"visit_mode", "join_url", "provider_join_url", "dial_in"})
# Fields that are not content: they never count in change detection (booked_at: the booking
# time, read only by the go-live rule; replaces: which row a row succeeds, read by the ingest's
# supersede step; former_id: a stand-in id's readable form, read by the store's re-key), so a
# source that starts giving one changes nothing.
_UNHASHED = frozenset({"booked_at", "replaces", "former_id"})
_ALL_FIELDS = tuple(f.name for f in fields(NormalizedAppointment) if f.name not in _UNHASHED)


# The groups in bit order of ``_appointment_hash``'s mask (bit set: the group is unset).
_LATER_GROUPS: tuple[frozenset[str], ...] = (frozenset({"notes", "answer"}), _TELEHEALTH_FIELDS,
                                             frozenset({"cancel_reason"}))


def _view_getters() -> dict[int, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]]:
    """For each combination of unset later groups (bit i: group i unset), the fields that
    count and a getter of their values in declaration order: built once, not per row."""
    views: dict[int, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}
    for mask in range(1 << len(_LATER_GROUPS)):
        unset = frozenset().union(*(group for i, group in enumerate(_LATER_GROUPS) if mask >> i & 1))
        names = tuple(name for name in _ALL_FIELDS if name not in unset)
        views[mask] = (names, attrgetter(*names))
    return views


_VIEWS = _view_getters()


_PEOPLE_FIELDS = frozenset({"patient", "practitioner"})


def _view_builder(names: tuple[str, ...]) -> Callable[..., Callable[[Any], dict[str, Any]]]:
    """For one view's fields: a maker of the function that gives an appointment's view as a
    dict display (one expression, no zip), its patient and practitioner as the JSON the batch
    holds (``held``: a C-level lookup by identity) or else through ``person``. Compiled once
    per view from the dataclass's own field names."""
    maker: Callable[..., Callable[[Any], dict[str, Any]]] = eval(  # noqa: S307
        f"lambda held, person: lambda a: {{{_view_display(names)}}}")
    return maker


def _view_display(names: tuple[str, ...]) -> str:
    """The inside of the dict display of an appointment ``a``'s view (see _view_builder)."""
    return ", ".join(f"{name!r}: (held(id(a.{name})) or person(a.{name}))" if name in _PEOPLE_FIELDS
                     else f"{name!r}: a.{name}" for name in names)


@cache
def _view_builders() -> dict[int, Callable[..., Callable[[Any], dict[str, Any]]]]:
    """Every view's builder, compiled on the first batch that is hashed: eight ``eval`` calls
    (~6 M instructions) that an idle run, which hashes no batch, no longer pays at import."""
    return {mask: _view_builder(names) for mask, (names, _) in _VIEWS.items()}


# ``_appointment_hash``'s view mask of an appointment ``a``, as an expression for generated code.
_VIEW_MASK = ("((not (a.notes or a.answer)) | (not (a.join_url or a.provider_join_url or a.dial_in"
              " or a.visit_mode not in (None, 'in_person'))) << 1 | (not a.cancel_reason) << 2)")
