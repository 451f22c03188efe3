"""Fixtures for the reminder tests: a scripted notifier installed as a real plugin,
settings for it, and a quick way to put appointments into the store."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.notifiers.registry import notifier_kinds
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Mapped, Store
from tests.conftest import ROOT


@pytest.fixture
def scripted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Installs tests.sync.reminders.fakes:ScriptedNotifier under the entry-point group, as a
    third-party distribution would; returns the folder to put on PYTHONPATH for subprocesses."""
    site = tmp_path / "site"
    info = site / "scripted_fake-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scripted-fake\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[clinicsync.notifiers]\nscripted = tests.sync.reminders.fakes:ScriptedNotifier\n")
    monkeypatch.syspath_prepend(str(site))
    notifier_kinds.cache_clear()
    yield site
    notifier_kinds.cache_clear()


SettingsMaker = Callable[..., Settings]


@pytest.fixture
def reminder_settings(write_settings: Callable[..., Path], tmp_path: Path, scripted: Path) -> SettingsMaker:
    """Settings with two scripted notifiers (sms -> `texts`, email -> `mails`) and the given
    `reminders:` section (YAML, indented under it)."""

    def make(reminders: str = "", outcomes: str = "{}", extra_notifiers: str = "", notifier_keys: str = "") -> Settings:
        keys = textwrap.indent(textwrap.dedent(notifier_keys).strip(), "    ")
        entries = []
        for name in ("texts", "mails"):
            entries.append(f"  - name: {name}\n    kind: scripted\n    log: {tmp_path / (name + '.jsonl')}\n"
                           f"    outcomes: {outcomes}\n    rate_per_second: 1000\n" + (keys + "\n" if keys else ""))
        notifiers = "notifiers:\n" + "".join(entries) + extra_notifiers
        section = "reminders:\n" + textwrap.indent(textwrap.dedent(reminders).strip() or "enabled: true", "  ")
        path = write_settings(extra=notifiers + section + "\n")
        return load_settings(path)

    return make


def appointment(external_id: str, start: datetime, zone: str = "America/New_York", *, status: str = "booked",
                minutes: int = 30, type: str | None = "Follow-up", patient: str = "P1",
                phone: str | None = "+12125550101", email: str | None = "ana@example.org", language: str = "en",
                channel: str | None = "sms",
                allow_sms: bool = True, allow_email: bool = True, doctor: str = "D1",
                doctor_email: str | None = "hart@clinic.example.org") -> NormalizedAppointment:
    return NormalizedAppointment(
        external_id=external_id, status=status, start=start, end=start + timedelta(minutes=minutes), timezone=zone,
        type=type, location="Main Street Clinic",
        patient=NormalizedPatient(patient, "Ana María Ruiz", phone, email, language, channel, allow_sms, allow_email),
        practitioner=NormalizedPractitioner(doctor, "Dr. Amelia Hart", doctor_email))


def put(store: Store, *appointments: NormalizedAppointment, connector: str = "c1") -> None:
    store.apply_batch(connector, "run", [Mapped(str(i), a) for i, a in enumerate(appointments)], [], None)


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    """Every reminder's key -> (status, reason), in planning order."""
    with store.engine.connect() as connection:
        return {r.key: (r.status, r.reason) for r in connection.execute(select(REMINDERS).order_by(REMINDERS.c.id))}


__all__ = ["ROOT", "appointment", "put", "states"]
