"""The status page's Waitlist: open slots, offers out, accepted and expired slots,
who is waiting, and the week's refills; the front desk adds a patient (by patient id, or
from an appointment: the same patient, doctor and type) and takes one off the list.

Patients are shown as on the other pages: full names to the front_desk role, each such
view written to the access log first (the ids are waitlist entry ids, view /ui/waitlist),
initials to everyone else. Posts need the front_desk role and the session's CSRF token,
like the desk's actions (sync/desk/actions.py)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from clinicsync.common.timeutil import TimeError, localize
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.common.waitlist_states import OfferStatus, SlotStatus
from clinicsync.mappings.transforms import TransformError
from clinicsync.mappings.waitlist import parse_weekly
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.model import ROW_ID_MAX
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import charts
from clinicsync.sync.ui.auth import require_user, role_of, ui_settings
from clinicsync.sync.ui.mask import initials, phone_display
from clinicsync.sync.ui.render import now_of, redirect, render, times_of
from clinicsync.sync.ui.scope import appointment_in_scope, home_of, log_view, require_in_scope, scope_of
from clinicsync.sync.ui.session import check_csrf
from clinicsync.sync.waitlist.desk_list import add_from_desk, page_rows, remove_from_desk
from clinicsync.sync.waitlist.desk_list import refills as desk_refills
from clinicsync.sync.waitlist.entries import NewEntry
from clinicsync.sync.waitlist.reach import Refusal

pages = APIRouter(prefix="/ui", tags=["status page"], dependencies=[Depends(require_user), Depends(require_in_scope)],
                  include_in_schema=False)
User = Annotated[str, Depends(require_user)]
SHOWN = 100  # rows per table


def _patient(name: str | None, ref: str, full: bool) -> str:
    if full:
        return name or f"patient {ref}"
    return initials(name) if name else "—"


def _windows(entry: dict[str, Any]) -> str:
    parts = []
    for window in entry["windows"]:
        if "days" in window:
            parts.append(f"{','.join(window['days'])} {window['from']}-{window['to']}")
        else:
            parts.append(f"{(window.get('start') or '…')[:10]} to {(window.get('end') or '…')[:10]}")
    return "; ".join(parts) or "any time"


def waitlist_view(store: Store, full: bool, sources: Collection[str] | None = None) -> dict[str, Any]:
    """Everything the page shows, patient names masked unless ``full`` (``sources``: a
    site-scoped user's, sync/ui/scope.py)."""
    rows = page_rows(store, sources, SHOWN)
    entries, slots, offers, patients, doctors = rows.entries, rows.slots, rows.offers, rows.patients, rows.doctors
    by_slot = {s["id"]: s for s in slots}
    for entry in entries:
        entry["patient"] = _patient(patients.get((entry["connector"], entry["patient_ref"])), entry["patient_ref"],
                                    full)
        entry["doctor"] = doctors.get((entry["connector"], entry["practitioner_ref"] or ""), "") \
            or (entry["practitioner_ref"] or "any doctor")
        entry["window_text"] = _windows(entry)
    for slot in slots:
        slot["doctor"] = doctors.get((slot["connector"], slot["practitioner_ref"] or ""), "") \
            or (slot["practitioner_ref"] or "")
    for offer in offers:
        offer["patient"] = _patient(patients.get((offer["connector"], offer["patient_ref"])), offer["patient_ref"],
                                    full)
        offer["slot"] = by_slot.get(offer["slot_id"])
    return {"entries": entries,
            "offers_out": [o for o in offers if o["status"] in (OfferStatus.PENDING, OfferStatus.SENT)],
            "open_slots": [s for s in slots if s["status"] == SlotStatus.OPEN],
            "accepted": [s for s in slots if s["status"] == SlotStatus.TAKEN],
            "expired": [s for s in slots if s["status"] == "expired"], "counts": rows.counts, "totals": rows.totals,
            "winners": {o["slot_id"]: o["patient"] for o in offers if o["status"] == OfferStatus.ACCEPTED}}


def _prefill(store: Store, appointment_id: int | None) -> dict[str, Any]:
    """An appointment's patient, doctor and type, for "add to the waitlist" from its row."""
    if appointment_id is None:
        return {}
    row = store.waitlist_rows.form_appointment(appointment_id)
    if row is None or not row.patient_ref:
        return {}
    return {"connector": row.connector, "patient_id": row.patient_ref, "doctor_id": row.practitioner_ref or "",
            "visit_type": row.type or "", "appointment_id": row.id}


def _who(store: Store, form: dict[str, Any]) -> dict[str, Any] | None:
    """The patient the add form is about, by name and phone, and the later visit an earlier slot
    would release (the appointment it was opened from): the desk reads who, not an id. Only
    for the front desk (the caller's role decides), and only for an appointment of the form's
    own source and patient (a stale or forged one names nobody)."""
    raw = str(form.get("appointment_id") or "")
    if not raw.isdigit() or int(raw) > ROW_ID_MAX:
        return None
    row = store.waitlist_rows.form_visit(int(raw))
    if row is None or row.connector != form.get("connector") or row.patient_ref != form.get("patient_id"):
        return None
    return {"appointment_id": row.id, "patient": row.name or f"patient {row.patient_ref}",
            "phone": phone_display(row.phone) if row.phone else "", "tel": row.phone,
            "start_utc": row.start_utc, "timezone": row.timezone, "type": row.type,
            "doctor": row.doctor or row.practitioner_ref or ""}


def _entry_patient(store: Store, entry_id: int) -> str:
    """The name of an entry's patient, for "Added … to the waitlist" and "Took … off it"."""
    row = store.waitlist_rows.entry_patient(entry_id)
    return "" if row is None else (row.name or f"patient {row.patient_ref}")


def _doctors(store: Store, sources: Collection[str] | None) -> list[dict[str, str]]:
    return [{"connector": r.connector, "id": r.external_id, "name": r.name or r.external_id}
            for r in store.waitlist_rows.doctors(sources)]


def refill_chart(store: Store, settings: Settings, now: datetime, sources: Collection[str] | None = None,
                 home: ClinicSettings | None = None) -> Markup | None:
    """Slots refilled and hours recovered per week (ui.chart_weeks), here and on the health page;
    weeks in ``home``'s zone, the page's (scope.py ``home_of``; the clinic's without one)."""
    weeks = ui_settings(settings).chart_weeks
    home = home or settings.clinic
    refills = desk_refills(store, now - timedelta(weeks=weeks), now, ZoneInfo(home.timezone), sources)
    if not refills:
        return None
    return charts.grouped_bar_chart(
        [times_of(settings, home).week(w.label) for w in refills],
        {"slots refilled": [float(w.slots_refilled) for w in refills],
         "hours recovered": [w.hours_recovered for w in refills]},
        "waitlist: slots refilled and hours recovered per week")


def _page(request: Request, user: str, status_code: int = 200, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None) -> HTMLResponse:
    store, settings = request.app.state.store, request.app.state.settings
    role = role_of(ui_settings(settings), user)
    full = role == "front_desk"
    now = now_of(request)
    scope = scope_of(request, user)
    view = waitlist_view(store, full, scope.connectors)
    shown = [e["id"] for e in view["entries"]] + [o["entry_id"] for o in view["offers_out"]]
    if full and shown:
        log_view(request, user, role, "/ui/waitlist", shown, "waitlist", now=now)
    weeks = ui_settings(settings).chart_weeks
    chart = refill_chart(store, settings, now, scope.connectors, home_of(request, user))
    connectors = sorted({c.name for c in settings.connectors if scope.allows(c.name)})
    form = form or {}
    who = _who(store, form) if full else None
    done, done_name = request.query_params.get("done") or "", ""
    kind, _, number = done.partition("-")
    if full and kind in ("added", "exists", "removed") and number.isdigit() and int(number) <= ROW_ID_MAX \
            and _entry_in_scope(store, scope.connectors, int(number)):
        done_name = _entry_patient(store, int(number))
        if kind == "removed":  # no longer in the table the page logged: its name is a view of its own
            log_view(request, user, role, "/ui/waitlist", [int(number)], "waitlist", now=now)
    if who is not None:
        log_view(request, user, role, "/ui/waitlist#add", [who["appointment_id"]], now=now)
    return render(request, "waitlist.html", status_code, full=full, chart=chart, weeks=weeks,
                  form=form, errors=errors or {}, connectors=connectors, who=who,
                  doctors=_doctors(store, scope.connectors) if full else [], done=done or None,
                  done_name=done_name, **view)


def _entry_in_scope(store: Store, sources: Collection[str] | None, entry_id: int) -> bool:
    """Whether a waitlist entry named in ``?done=`` is of the user's sites."""
    if sources is None:
        return True
    connector = store.waitlist_rows.entry_source(entry_id)
    return connector is not None and connector in sources


@pages.get("/waitlist", response_class=HTMLResponse)
def waitlist_page(request: Request, user: User,
                  appointment: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None) -> HTMLResponse:
    """``?appointment=ID`` opens the add form filled from that appointment (one of another
    site answers as a missing one: 404)."""
    store = request.app.state.store
    if appointment is not None and not appointment_in_scope(store, scope_of(request, user), appointment):
        raise HTTPException(404, "no such appointment")
    return _page(request, user, form=_prefill(store, appointment))


def _front_desk(request: Request, user: str, token: Any) -> None:
    check_csrf(request, user, token)
    if role_of(ui_settings(request.app.state.settings), user) != "front_desk":
        raise HTTPException(403, "only the front desk changes the waitlist")


def _text(form: Any, key: str, limit: int = 255) -> str:
    return str(form.get(key) or "").strip()[:limit]


def _new_entry(store: Store, form: Any, zone_name: str, now: datetime,
               sources: Collection[str] | None = None) -> tuple[NewEntry | None, dict[str, str]]:
    """The form as an entry, or the problems by field (never echoing a patient's data). A
    source outside a site-scoped user's ``sources`` is answered as one without that patient."""
    errors: dict[str, str] = {}
    connector, patient_id = _text(form, "connector", 64), _text(form, "patient_id")
    if not connector or not patient_id:
        errors["patient_id"] = "Give the source and the patient's id in it."
    elif sources is not None and connector not in sources:
        errors["patient_id"] = f"No patient with this id is known from {connector}."
    else:
        if not store.waitlist_rows.patient_known(connector, patient_id):
            errors["patient_id"] = f"No patient with this id is known from {connector}."
    windows: list[dict[str, Any]] = []
    try:
        windows = parse_weekly(_text(form, "windows", 500))
    except TransformError as exc:
        errors["windows"] = f"Window: {exc} — e.g. mon-fri 09:00-13:00; sat 09:00-12:00."
    priority_text = _text(form, "priority", 8) or "0"
    if not priority_text.isdigit() or int(priority_text) > 1000:
        errors["priority"] = "Priority is a whole number from 0 (default) to 1000; higher goes first."
    expires = None
    if expires_text := _text(form, "expires", 10):
        try:
            expires = localize(datetime.fromisoformat(expires_text) + timedelta(days=1), zone_name)
        except (ValueError, TimeError):
            errors["expires"] = "Expires is a date (YYYY-MM-DD): the last day the patient can be offered a slot."
    appointment = _text(form, "appointment_id", 20)
    if appointment and "patient_id" not in errors and not _own_later_visit(store, appointment, connector, patient_id,
                                                                             now):
        errors["appointment_id"] = ("The appointment this form came from is not an upcoming visit of this patient: "
                                    "open “Add to waitlist” from the patient's own appointment page.")
    if errors:
        return None, errors
    return NewEntry(connector=connector, patient_ref=patient_id, timezone=zone_name,
                    practitioner_ref=_text(form, "doctor_id") or None, visit_type=_text(form, "visit_type") or None,
                    windows=tuple(windows), priority=int(priority_text), expires_at=expires,
                    current_appointment_id=int(appointment) if appointment.isdigit() else None), {}


def _own_later_visit(store: Store, appointment: str, connector: str, patient_id: str, now: datetime) -> bool:
    """Whether the form's hidden appointment (the later visit an offer would release) is this
    patient's own, still active and ahead: a forged or stale one would have another patient's
    visit released (cancelled at the source with ``release_later: auto``)."""
    if not appointment.isdigit() or int(appointment) > ROW_ID_MAX:
        return False
    row = store.waitlist_rows.later_visit(int(appointment))
    return (row is not None and row.connector == connector and row.patient_ref == patient_id
            and row.status in ACTIVE_STATUSES and row.start_utc > now)


@pages.post("/waitlist", response_model=None)
async def add(request: Request, user: User) -> RedirectResponse | HTMLResponse:
    form = await request.form()
    _front_desk(request, user, form.get("csrf"))
    store, settings = request.app.state.store, request.app.state.settings
    now = now_of(request)
    zone_name = settings.clinic_for(_text(form, "connector", 64) or None).timezone  # the source's site's zone
    entry, errors = _new_entry(store, form, zone_name, now, scope_of(request, user).connectors)
    if entry is None:
        kept = {key: _text(form, key, 500) for key in ("connector", "patient_id", "doctor_id", "visit_type",
                                                       "windows", "priority", "expires", "appointment_id")}
        if "appointment_id" in errors:
            kept.pop("appointment_id")  # not carried on: the desk adds the entry without it or from the visit
        return _page(request, user, 422, form=kept, errors=errors)
    added = add_from_desk(store, entry, now, added_by=user[:64])
    if added.existing is not None:  # one live entry per patient and need: the desk is shown the one that waits
        return redirect(request, f"/ui/waitlist?done=exists-{int(added.existing.id)}")
    refusal = added.refusal
    if refusal is not None:  # an entry no offer could ever reach is not stored
        kept = {key: _text(form, key, 500) for key in ("connector", "patient_id", "doctor_id", "visit_type",
                                                       "windows", "priority", "expires", "appointment_id")}
        return _page(request, user, 422, form=kept, errors={_form_field(refusal): refusal.reason})
    return redirect(request, f"/ui/waitlist?done=added-{added.entry_id}")


def _form_field(refusal: Refusal) -> str:
    """The form's field a waitlist refusal is about (its mapping field names the source's side)."""
    if refusal.field.startswith("practitioner"):
        return "doctor_id"
    if refusal.field.startswith("patient"):
        return "patient_id"
    return "windows"


@pages.post("/waitlist/{entry_id}/remove")
async def remove(request: Request, user: User, entry_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)]) -> RedirectResponse:
    form = await request.form()
    _front_desk(request, user, form.get("csrf"))
    if not remove_from_desk(request.app.state.store, entry_id, now_of(request)):
        raise HTTPException(404, "no such entry waiting")
    return redirect(request, f"/ui/waitlist?done=removed-{entry_id}")
