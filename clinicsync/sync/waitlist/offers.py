"""Offers: who is offered an open slot, and the messages that carry them.

Choosing (``plan_offers``, in the stage's write transaction): a hold that ran out expires the
offer; then each open slot gets offers up to how many may be out at once (one in
``sequential``, ``batch_size`` in ``batch``), never more than ``max_offers_per_slot`` in all,
to the best entries that fit (match.py) and were never offered this slot (the table's unique
key on (slot, entry): never twice to one patient for one slot, even across workers). An entry
that already won a slot (its booking under way) is offered no other.

Sending (``OfferSender``): a chosen offer goes out outside the quiet hours of the patient's
zone (``reminders.quiet_hours``: the same helper reminders use), on the patient's channel
through the notifiers reminders route to (``reminders.routes``), rendered from the
`waitlist_offer` template with its signed one-tap link. The offer is marked ``sent`` (its hold
starts) in its own committed transaction *before* the notifier is called, conditional on it
still being ``pending`` and its slot ``open``: a crash after that claim leaves an offer that
expires unanswered, never one sent twice. The hold starts at that claim, not at the stage's
start: an offer sent late in a slow loop (many offers, a slow provider) is held for the whole
``waitlist.hold`` all the same, and the time its message states is the one the store keeps;
the quiet hours are judged at the send too. A patient whose offer another took is told once
(``waitlist_taken``; ``told_at`` is claimed the same way)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, and_, func, select, update

from clinicsync.common.timeutil import moment_in_pass
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.common.waitlist_states import EntryStatus, OfferStatus, SlotStatus
from clinicsync.notifiers.base import CHANNELS, Message, Notifier, OptedOutError, PermanentError, RetryableError
from clinicsync.notifiers.registry import build_notifier
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import patient_address, resolve_routes
from clinicsync.sync.reminders.render import Renderer, TemplateProblem
from clinicsync.sync.reminders.timing import quiet_window
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.model import Appointment, Location, Patient, Practitioner, table_of
from clinicsync.sync.store.model.reminders import OPT_OUTS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.waitlist.compose import OfferDraft, render_offer
from clinicsync.sync.waitlist.detect import inserted
from clinicsync.sync.waitlist.entries import need_key
from clinicsync.sync.waitlist.match import Entry, Slot, ranked

A = table_of(Appointment)
P = table_of(Patient)
D = table_of(Practitioner)
L = table_of(Location)
S, E, O = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS  # noqa: E741
OUT = (OfferStatus.PENDING, OfferStatus.SENT)
log = structlog.get_logger("clinicsync.waitlist")


@dataclass
class OfferReport:
    offered: int = 0  # chosen this cycle
    sent: int = 0
    deferred: int = 0  # held by the quiet hours
    failed: int = 0
    hold_expired: int = 0
    told: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"offered": self.offered, "sent": self.sent, "deferred": self.deferred, "failed": self.failed,
                "hold_expired": self.hold_expired, "told_taken": self.told}


def slot_view(slot: Any, freed_patient_ref: str | None) -> Slot:
    return Slot(slot.connector, slot.practitioner_ref, slot.visit_type, slot.location_ref, slot.visit_mode,
                slot.start_utc, slot.end_utc, freed_patient_ref)


def earliest_booked(connection: Connection, connector: str, patient_refs: list[str], now: datetime
                    ) -> dict[str, datetime]:
    """patient_ref -> the start of their earliest active appointment still ahead."""
    if not patient_refs:
        return {}
    rows = connection.execute(select(A.c.patient_ref, func.min(A.c.start_utc)).where(
        A.c.connector == connector, A.c.patient_ref.in_(patient_refs), A.c.end_utc > now,
        A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES),
        (A.c.participation.is_(None)) | (A.c.participation != "declined")).group_by(A.c.patient_ref))
    return {ref: start for ref, start in rows}


def plan_offers(connection: Connection, settings: Settings, now: datetime, report: OfferReport) -> None:
    """Expire run-out holds, then choose the next offers of every open slot."""
    config = settings.waitlist
    report.hold_expired += connection.execute(update(O).where(
        O.c.status == OfferStatus.SENT, O.c.hold_until.is_not(None), O.c.hold_until <= now).values(
        status=OfferStatus.EXPIRED)).rowcount or 0
    open_slots = select(S).where(S.c.status == SlotStatus.OPEN).order_by(S.c.start_utc, S.c.id)
    for slot in connection.execute(open_slots).all():
        offers = connection.execute(select(O.c.entry_id, O.c.status).where(O.c.slot_id == slot.id)).all()
        room = min(config.at_once() - sum(o.status in OUT for o in offers), config.max_offers_per_slot - len(offers))
        if room <= 0:
            continue
        rows = connection.execute(select(E).where(E.c.status == EntryStatus.WAITING,
                                                  E.c.connector == slot.connector)).all()
        entries = [Entry.of(r) for r in _one_per_need(connection, rows, {o.entry_id for o in offers})]
        if not entries:
            continue
        freed_by = connection.execute(select(A.c.patient_ref).where(A.c.id == slot.appointment_id)).scalar()
        booked = earliest_booked(connection, slot.connector, list({e.patient_ref for e in entries}), now)
        best = _first_of_each_need(ranked(slot_view(slot, freed_by), entries, match=config.match, now=now,
                                          booked=booked), {r.id: need_key(r) for r in rows})
        for place, entry in enumerate(best[:room], start=len(offers) + 1):
            report.offered += inserted(connection, O, insert_ignoring_duplicates(connection, O).values(
                slot_id=slot.id, entry_id=entry.id, rank=place, status=OfferStatus.PENDING, created_at=now))


def _one_per_need(connection: Connection, rows: Sequence[Any], offered: set[int]) -> list[Any]:
    """The waiting entries that may be offered this slot, one per patient and need (entries.py
    ``need_key``): a patient listed twice (a source's duplicate rows, an API entry and the
    desk's) is one candidate, offered once, never taking a second place in a batch. A need
    that already has an offer of this slot, or won another slot (its booking under way), is
    left out."""
    keys = {row.id: need_key(row) for row in rows}
    won = {int(i) for i in connection.execute(select(O.c.entry_id).join(E, E.c.id == O.c.entry_id).where(
        O.c.status == OfferStatus.ACCEPTED, E.c.status == EntryStatus.WAITING)).scalars()}
    done = {keys[i] for i in (offered | won) if i in keys}
    return [row for row in rows if keys[row.id] not in done]


def _first_of_each_need(best: list[Entry], keys: dict[int, tuple[Any, ...]]) -> list[Entry]:
    """The ranked entries with a need's later copies dropped: its best-placed copy stands for it."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for entry in best:
        key = keys[entry.id]
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


@dataclass
class Recipient:
    """Who an offer goes to and what it shows: the rows behind one offer."""

    offer: Any
    slot: Any
    entry: Any
    patient: Any | None
    doctor: str | None
    location: str | None
    opted_out: set[tuple[str, str]] = field(default_factory=set)


class OfferSender:
    """Sends chosen offers and "just been taken" notices, one at a time, through the notifiers."""

    def __init__(self, settings: Settings, engine: Engine, now: datetime, links: Callable[[int], str],
                 renderer: Renderer | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.now = now  # the stage's start
        self.clock = clock
        self.started = clock()
        self.links = links
        self.renderer = renderer  # given (tests, `templates check`): for every site
        self._renderers: dict[str | None, Renderer] = {}
        self.routes = resolve_routes(settings)
        self.notifier_settings = {n.name: n for n in settings.notifiers}
        self._notifiers: dict[str, Notifier] = {}

    # -- rows -----------------------------------------------------------------------------
    def _recipient(self, connection: Connection, offer: Any) -> Recipient:
        slot = connection.execute(select(S).where(S.c.id == offer.slot_id)).one()
        entry = connection.execute(select(E).where(E.c.id == offer.entry_id)).one()
        patient = connection.execute(select(P).where(P.c.connector == entry.connector,
                                                     P.c.external_id == entry.patient_ref)).first()
        doctor = connection.execute(select(D.c.name).where(D.c.connector == slot.connector,
                                                           D.c.external_id == slot.practitioner_ref)).scalar()
        location = connection.execute(select(L.c.name).where(L.c.connector == slot.connector,
                                                             L.c.external_id == slot.location_ref)).scalar()
        recipient = Recipient(offer, slot, entry, patient, doctor, location)
        addresses = [a for a in (self._address(recipient, c) for c in CHANNELS) if a]
        if addresses:
            recipient.opted_out = {(o.channel, o.address) for o in connection.execute(
                select(OPT_OUTS.c.channel, OPT_OUTS.c.address).where(OPT_OUTS.c.address.in_(addresses)))}
        return recipient

    @staticmethod
    def _address(recipient: Recipient, channel: str) -> str | None:
        return patient_address(recipient.patient, channel)

    def channels(self, recipient: Recipient) -> list[tuple[str, str]]:
        """The patient's channel first, then the clinic's order (``reminders.channels``)."""
        patient = recipient.patient
        if patient is None or patient.channel == "none":
            return []
        preferred = [patient.channel] if patient.channel in CHANNELS else []
        out = []
        for channel in dict.fromkeys(preferred + list(self.settings.reminders.channels)):
            address = self._address(recipient, channel)
            if channel in self.routes and address and (channel, address) not in recipient.opted_out:
                out.append((channel, address))
        return out

    def at(self) -> datetime:
        """The time of a send: the stage's start plus the whole minutes the loop has taken so far
        (on the clock), so a send late in a slow loop is seen at its own time, also when the stage
        was given its moment (`waitlist --once --at`, the simulation); the reminders' rule
        (:func:`~clinicsync.common.timeutil.moment_in_pass`)."""
        return moment_in_pass(self.now, self.started, self.clock())

    def renderer_for(self, connector: str) -> Renderer:
        """The templates of ``connector``'s site over `reminders.templates` over the shipped ones."""
        if self.renderer is not None:
            return self.renderer
        site = self.settings.site_of(connector)
        renderer = self._renderers.get(site)
        if renderer is None:
            renderer = self._renderers[site] = Renderer(self.settings.template_folders_for(connector),
                                                        sms_accents=self.settings.reminders.sms_accents)
        return renderer

    def quiet(self, recipient: Recipient, at: datetime) -> bool:
        """Inside the quiet hours (the site's, else `reminders.quiet_hours`) of the patient's
        zone (the entry's) at ``at``."""
        quiet = self.settings.quiet_hours_for(recipient.slot.connector)
        return quiet_window(at, recipient.entry.timezone, quiet) is not None

    # -- sending --------------------------------------------------------------------------
    def pending(self) -> Iterator[int]:
        """The chosen offers of open slots, best first."""
        with self.engine.connect() as connection:
            ids = list(connection.execute(select(O.c.id).select_from(O.join(S, S.c.id == O.c.slot_id)).where(
                O.c.status == OfferStatus.PENDING, S.c.status == SlotStatus.OPEN)
                .order_by(S.c.start_utc, O.c.rank, O.c.id)).scalars())
        yield from ids

    def send_offer(self, offer_id: int, report: OfferReport) -> None:
        with self.engine.connect() as connection:
            offer = connection.execute(select(O).where(O.c.id == offer_id)).one()
            recipient = self._recipient(connection, offer)
        if self.quiet(recipient, self.at()):
            report.deferred += 1
            return
        channels = self.channels(recipient)
        if not channels:
            self._mark(offer_id, OfferStatus.FAILED, from_status=OfferStatus.PENDING)
            report.failed += 1
            return
        sent = self.at()  # the hold runs from the send, as the message says
        hold_until = sent + self.settings.waitlist.hold_for()
        with self.engine.begin() as connection:  # the claim, committed before any send
            claimed = connection.execute(update(O).where(
                O.c.id == offer_id, O.c.status == OfferStatus.PENDING,
                select(S.c.id).where(S.c.id == O.c.slot_id, S.c.status == SlotStatus.OPEN).exists()).values(
                status=OfferStatus.SENT, sent_at=sent, hold_until=hold_until,
                message_key=f"waitlist:offer:{offer_id}")).rowcount
        if not claimed:
            return
        draft = self._draft(recipient, "waitlist_offer", self.links(offer_id),
                            hold_until if self.settings.waitlist.strategy == "sequential" else None, sent)
        outcome = self._deliver(recipient, draft, channels, f"waitlist:offer:{offer_id}")
        if outcome == "retry":
            self._mark(offer_id, OfferStatus.PENDING, from_status=OfferStatus.SENT, sent_at=None, hold_until=None,
                       message_key=None)
            report.deferred += 1
        elif outcome is None:
            self._mark(offer_id, OfferStatus.FAILED, from_status=OfferStatus.SENT)
            report.failed += 1
        else:
            with self.engine.begin() as connection:
                connection.execute(update(O).where(O.c.id == offer_id).values(channel=outcome))
            report.sent += 1

    def to_tell(self) -> list[int]:
        """Offers another patient took, shown to their patient and not told yet."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(O.c.id).where(
                O.c.status == OfferStatus.TAKEN_BY_OTHER, O.c.told_at.is_(None), O.c.sent_at.is_not(None))
                .order_by(O.c.id)).scalars())

    def tell_taken(self, offer_id: int, report: OfferReport) -> None:
        with self.engine.connect() as connection:
            offer = connection.execute(select(O).where(O.c.id == offer_id)).one()
            recipient = self._recipient(connection, offer)
        told = self.at()
        if self.quiet(recipient, told):
            report.deferred += 1
            return
        with self.engine.begin() as connection:
            claimed = connection.execute(update(O).where(O.c.id == offer_id, O.c.told_at.is_(None)).values(
                told_at=told)).rowcount
        if not claimed:
            return
        channels = self.channels(recipient)
        if offer.channel:  # the channel the offer reached them on, first
            channels.sort(key=lambda c: c[0] != offer.channel)
        if self._deliver(recipient, self._draft(recipient, "waitlist_taken", None, None, told), channels,
                         f"waitlist:taken:{offer_id}"):
            report.told += 1

    def _draft(self, recipient: Recipient, kind: str, url: str | None, hold_until: datetime | None,
               sent: datetime) -> OfferDraft:
        slot, patient = recipient.slot, recipient.patient
        language = patient.language if patient is not None else None
        if self.settings.site_of(slot.connector) is not None:  # a site writes in its language to those without one
            language = self.settings.clinic_for(slot.connector).speaks(language)
        return OfferDraft(kind, language, slot.start_utc, slot.end_utc,
                          slot.timezone, patient.name if patient is not None else None, recipient.doctor,
                          slot.visit_type, recipient.location, slot.visit_mode, url, hold_until, sent)

    def _deliver(self, recipient: Recipient, draft: OfferDraft, channels: list[tuple[str, str]],
                 key: str) -> str | None:
        """The channel it went out on, "retry" for a passing fault, None when every channel failed.
        An unclassified error may have delivered it: it counts as sent (never twice)."""
        for channel, address in channels:
            try:
                connector = recipient.slot.connector
                rendered = render_offer(self.renderer_for(connector), draft, channel, self.settings, connector)
            except TemplateProblem as exc:
                log.warning("waitlist.template", kind=draft.kind, channel=channel, error=str(exc))
                continue
            message = Message(channel=channel, recipient=address, body_text=rendered.text, idempotency_key=key,
                              subject=rendered.subject, body_html=rendered.html, language=rendered.language,
                              metadata={"kind": draft.kind, "offer": key.rsplit(":", 1)[1]},
                              sender=self.settings.sender_for(recipient.slot.connector, channel))
            try:
                self._notifier(self.routes[channel]).deliver(message)  # under its send_deadline
            except RetryableError:
                return "retry"
            except (OptedOutError, PermanentError) as exc:
                log.info("waitlist.channel_failed", channel=channel, error=type(exc).__name__)
                continue
            except Exception as exc:  # DeliveryUnknownError or a bug: it may have gone out
                log.warning("waitlist.delivery_unknown", channel=channel, error=type(exc).__name__)
                return channel
            return channel
        return None

    def _mark(self, offer_id: int, status: OfferStatus, *, from_status: OfferStatus, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(O).where(and_(O.c.id == offer_id, O.c.status == from_status)).values(
                status=status, **values))

    def _notifier(self, name: str) -> Notifier:
        if name not in self._notifiers:
            self._notifiers[name] = build_notifier(self.notifier_settings[name],
                                                   {"base_dir": self.settings.base_dir})
        return self._notifiers[name]

    def close(self) -> None:
        for notifier in self._notifiers.values():
            try:
                notifier.close()
            except Exception as exc:  # closing must not hide the cycle's outcome
                log.warning("notifier.close_failed", notifier=notifier.name, error=type(exc).__name__)
        self._notifiers.clear()

