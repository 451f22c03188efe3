"""The REST API for the waitlist (``/api/v1/waitlist``): a system that keeps its
waiting list outside a FHIR server or a database clinicsync reads adds, changes and removes
waiting patients by its own id, and reads back what became of them.

Authenticated, rate limited and answered exactly as the appointments API (sync/server/api.py:
the bearer key picks the ``rest_api`` source; problem+json errors naming the field). The body
goes through the waitlist mapping ``rest_api_waitlist_v1`` (mappings/), as a polled waiting
list goes through its own, so the rules (windows, zones, priority) are one. A POST of the
same body again answers 200 ``unchanged``: a retry never duplicates an entry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from clinicsync.common.types import utcnow
from clinicsync.common.waitlist_states import ENTRY_STATUSES
from clinicsync.connectors.rest_api import RestApiSettings
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.waitlist import load_waitlist_mapping
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.source_settings import source_timezone
from clinicsync.sync.server.api import DATE_TIME, PROBLEMS, KeyFirstRoute, PatientIn, Source, Strict, _count
from clinicsync.sync.server.problems import FieldProblem, Problem
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.api_entries import entries_of, remove_from_api, save_from_api
from clinicsync.sync.waitlist.entries import entry_dict

MAPPING = "rest_api_waitlist_v1"
# The mapping's field names as this API's body names them (a refusal names the body's field).
API_FIELDS = {"practitioner.external_id": "doctor_id", "later_appointment.external_id": "later_appointment_id",
              "available_until": "periods"}
EntryId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/]+$",
                              description="the entry's id in your system")]


class PeriodIn(Strict):
    start: str | None = Field(None, max_length=64, pattern=DATE_TIME, description="ISO 8601; none: from now")
    end: str | None = Field(None, max_length=64, pattern=DATE_TIME, description="ISO 8601; none: open-ended")


class WaitlistIn(Strict):
    id: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/]+$",
                    description="the entry's id in your system: a POST with a known id updates it")
    patient: PatientIn
    doctor_id: str | None = Field(None, max_length=255, description="the doctor's id; absent: any doctor")
    visit_type: str | None = Field(None, max_length=255)
    location: str | None = Field(None, max_length=255, description="absent: any place")
    visit_mode: Literal["in_person", "video", "phone"] | None = None
    duration_minutes: int | None = Field(None, ge=1, le=1440, description="the slot length wanted; absent: any")
    windows: str | None = Field(None, max_length=500, description="weekly local times, e.g. "
                                "'mon-fri 09:00-13:00; sat 09:00-12:00'; absent: any time")
    periods: list[PeriodIn] | None = Field(None, max_length=20, description="absolute periods the patient can come")
    priority: int = Field(0, ge=0, le=1000, description="higher first; then the longest waiting")
    expires: str | None = Field(None, max_length=64, pattern=DATE_TIME, description="stop offering after this")
    waiting_since: str | None = Field(None, max_length=64, pattern=DATE_TIME,
                                      description="since when the patient waits (default: now)")
    timezone: str | None = Field(None, max_length=64, description="IANA zone of local times (default: the "
                                                                 "clinic's)")
    later_appointment_id: str | None = Field(
        None, min_length=1, max_length=255, description="the patient's later visit at this source (an appointment "
        "id sent to /api/v1/appointments), released when they take an earlier slot (waitlist.booking.release_later)")


class WaitlistResult(BaseModel):
    id: str
    result: str = Field(description="created, updated, unchanged or removed")


class WaitlistEntryOut(BaseModel):
    id: str = Field(description="your id")
    status: str = Field(description=f"one of {', '.join(ENTRY_STATUSES)}")
    patient_id: str
    doctor_id: str | None
    visit_type: str | None
    location: str | None
    visit_mode: str | None
    duration_minutes: int | None
    windows: list[dict[str, Any]]
    priority: int
    timezone: str
    waiting_since: str | None
    expires_at: str | None


class WaitlistList(BaseModel):
    entries: list[WaitlistEntryOut]


router = APIRouter(prefix="/api/v1", tags=["waitlist API"], responses=PROBLEMS, route_class=KeyFirstRoute)


def _save(settings: Settings, store: Store, config: RestApiSettings, body: WaitlistIn) -> str:
    mapping = load_waitlist_mapping(MAPPING, source_timezone(settings, config),
                                    settings.clinic_for(config.name).default_region, settings.base_dir)
    try:
        entry = mapping.apply(body.model_dump(mode="json", exclude_none=True))
    except MappingError as exc:
        raise Problem(422, "Unprocessable Content", "the waitlist entry does not map; nothing was stored",
                      [FieldProblem(field=exc.field, detail=exc.reason)]) from None
    saved = save_from_api(store, config.name, entry, utcnow())
    if saved.refusal is not None:
        raise Problem(422, "Unprocessable Content", "no offer could ever reach this waitlist entry; nothing was "
                      "stored", [FieldProblem(field=API_FIELDS.get(saved.refusal.field, saved.refusal.field),
                                              detail=saved.refusal.reason)])
    if saved.duplicate is not None:
        _refuse_duplicate(saved.duplicate)
    assert saved.result is not None
    return saved.result


def _refuse_duplicate(existing: str) -> NoReturn:
    """One live entry per patient and need: a second id for the same patient, doctor (or any),
    type, place and mode is a 409 naming the entry that already waits (your id, and its URL in
    ``Location``), so your system can update that one instead of doubling the patient's offers."""
    raise Problem(409, "Conflict", f"this patient already waits for the same doctor, type, place and mode as "
                  f"entry {existing}; update that entry (POST with its id) or DELETE it first; nothing was stored",
                  [FieldProblem(field="id", detail=f"duplicate of the live entry {existing}")],
                  headers={"Location": f"/api/v1/waitlist/{quote(existing, safe='')}"})


@router.post("/waitlist", status_code=201, summary="Add a waiting patient, or update one by your id")
async def put_entry(body: WaitlistIn, request: Request, response: Response, config: Source) -> WaitlistResult:
    result = await run_in_threadpool(_save, request.app.state.settings, request.app.state.store, config, body)
    _count(request, result)
    response.status_code = 201 if result == "created" else 200
    return WaitlistResult(id=body.id, result=result)


@router.delete("/waitlist/{external_id}", summary="Take a patient off the waitlist")
async def delete_entry(external_id: EntryId, request: Request, config: Source) -> WaitlistResult:
    store: Store = request.app.state.store

    result = await run_in_threadpool(lambda: remove_from_api(store, config.name, external_id, utcnow()))
    if result is None:
        _count(request, "not_found")
        raise Problem(404, "Not Found", "no waitlist entry with this id from this source")
    _count(request, result)
    return WaitlistResult(id=external_id, result=result)


def _out(row: dict[str, Any]) -> WaitlistEntryOut:
    shown = entry_dict(row)
    return WaitlistEntryOut(id=shown["external_id"], status=shown["status"], patient_id=shown["patient_ref"],
                            doctor_id=shown["practitioner_ref"], visit_type=shown["visit_type"],
                            location=shown["location_ref"], visit_mode=shown["visit_mode"],
                            duration_minutes=shown["duration_minutes"], windows=shown["windows"],
                            priority=shown["priority"], timezone=shown["timezone"],
                            waiting_since=shown["waiting_since"], expires_at=shown["expires_at"])


@router.get("/waitlist", summary="This source's waitlist entries, in offer order")
async def list_entries(request: Request, config: Source,
                       status: Annotated[Literal["waiting", "booked", "removed", "expired"] | None,
                                         Query(description="only entries in this status (default: all)")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> WaitlistList:
    store: Store = request.app.state.store

    def read() -> list[dict[str, Any]]:
        return entries_of(store, config.name, [status] if status else list(ENTRY_STATUSES), limit)

    return WaitlistList(entries=[_out(row) for row in await run_in_threadpool(read)])


@router.get("/waitlist/{external_id}", summary="One waitlist entry and its status")
async def read_entry(external_id: EntryId, request: Request, config: Source) -> WaitlistEntryOut:
    store: Store = request.app.state.store

    def read() -> list[dict[str, Any]]:
        return entries_of(store, config.name, list(ENTRY_STATUSES), 1, external_id)

    found = await run_in_threadpool(read)
    if not found:
        raise Problem(404, "Not Found", "no waitlist entry with this id from this source")
    return _out(found[0])
