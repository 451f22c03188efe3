"""`discover` on the real shape of Dolibarr's agenda in MariaDB (tests/fixtures/ehr/dolibarr, with
its SOURCE note), a general ERP/CRM agenda used by small clinics. What it has that nothing else
here had: one table of events of every kind, where the meetings ('AC_RDV') carry the patients
(a contact) and the many automatic events ('AC_OTH_AUTO', "invoice validated") and calls carry
none; the end is `datep2`, named only by the start's name and a "2"; the doctor is the owner
user (`fk_user_action`) beside the author and the modifier; the patient's mobile is
`phone_mobile`, else `phone`; `percent` (-1/0/100) is no status word; tables are prefixed
`llx_` and keyed `rowid`, except the events' `id`. Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Paris"
FIRST = ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Lucas"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit"]
TYPES = [(1, "AC_TEL", "system", "Phone call"), (5, "AC_RDV", "system", "Meeting"),
         (40, "AC_OTH_AUTO", "systemauto", "Other (automatically inserted events)")]


def build(cursor: Any, with_phones: bool = True) -> dict[str, real.Want]:
    real.load_schema(cursor, "dolibarr")
    rng = random.Random(71)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    real.insert_rows(cursor, "INSERT INTO llx_c_actioncomm (id, code, type, libelle, module, active, position) "
                             "VALUES (%s, %s, %s, %s, NULL, 1, 0)", TYPES)
    users = [(1, "admin", "Admin", "Super", None), (2, "dupont", "Dupont", "Anne", "anne.dupont@cabinet.fr"),
             (3, "garcia", "Garcia", "Pablo", "pablo.garcia@cabinet.fr"),
             (4, "lefevre", "Lefèvre", "Marc", "marc.lefevre@cabinet.fr"), (5, "accueil", "Accueil", "Sophie", None)]
    real.insert_rows(cursor, "INSERT INTO llx_user (rowid, login, lastname, firstname, email, pass_crypted, api_key, "
                             "statut, datec) VALUES (%s, %s, %s, %s, %s, '$2y$10$abcdefghijklmnopqrstuv', "
                             "'k3yk3yk3y', 1, %s)", [(*u, now - timedelta(days=500)) for u in users])
    contacts: dict[int, tuple[str, str | None]] = {}
    socs, people = [], []
    for p in range(1, 61):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        home = f"01 45 {p // 10:02d} {p % 10:02d} 10"
        mobile = f"06 12 {p // 10:02d} {p % 10:02d} 34" if p % 4 else None
        socs.append((p, f"{last} (foyer {p})", home if p % 6 else None, now - timedelta(days=400)))
        own_phone = home if p % 5 == 0 else None
        people.append((p, p, last, first, own_phone, mobile, f"{first.lower()}{p}@example.fr",
                       1 if p % 8 == 0 else 0, now - timedelta(days=300)))
        phone = mobile or own_phone or (home if p % 6 else None)  # else the household's (llx_societe.phone)
        contacts[p] = (f"{first} {last}", None if phone is None or not with_phones else
                       "+33" + phone.replace(" ", "")[1:])
    if not with_phones:
        socs = [(s[0], s[1], None, s[3]) for s in socs]
        people = [(*p[:4], None, None, None, *p[7:]) for p in people]  # no phone, no email
    real.insert_rows(cursor, "INSERT INTO llx_societe (rowid, nom, phone, client, status, datec) "
                             "VALUES (%s, %s, %s, 1, 1, %s)", socs)
    real.insert_rows(cursor, "INSERT INTO llx_socpeople (rowid, fk_soc, lastname, firstname, phone, phone_mobile, "
                             "email, no_email, datec) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", people)
    expected: dict[str, real.Want] = {}
    rows, resources = [], []
    for e in range(1, 301):
        day = now.date() + timedelta(days=1 + e % 30)
        start = datetime(day.year, day.month, day.day, 8 + e % 9, 15 * (e % 4))
        created = now - timedelta(days=20, minutes=e)
        if e % 5 in (0, 2):  # an appointment with a patient, owned by a doctor
            contact, doctor = 1 + rng.randrange(60), 2 + e % 3
            kind, code, percent, label = 5, "AC_RDV", (-1, 0, 100)[e % 3], "Consultation"
            rows.append((e, f"{e}", start, start + timedelta(minutes=(20, 30, 45)[e % 3]), kind, code, created,
                         5, 1, contact, contact, doctor, percent, label))
            resources += [(e, "user", doctor), (e, "socpeople", contact)]
            utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
            name, phone = contacts[contact]
            expected[str(e)] = (utc.isoformat().replace("+00:00", "Z"), "booked", str(contact), name, phone,
                                str(doctor))
        elif e % 5 == 4:  # a call about the account, every other one logged against the contact
            rows.append((e, f"{e}", start, None, 1, "AC_TEL", created, 5, 5, 1 + e % 60,
                         1 + e % 60 if e % 10 == 9 else None, 5, -1,
                         "Appel relance facture"))
        else:  # the automatic events: an invoice validated, a proposal sent
            rows.append((e, f"{e}", start, None, 40, "AC_OTH_AUTO", created, 1, None, 1 + e % 60, None, 1, -1,
                         f"Facture FA2401-{e:04d} validée"))
    real.insert_rows(cursor, "INSERT INTO llx_actioncomm (id, ref, datep, datep2, fk_action, code, datec, "
                             "fk_user_author, fk_user_mod, fk_soc, fk_contact, fk_user_action, percent, label) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    real.insert_rows(cursor, "INSERT INTO llx_actioncomm_resources (fk_actioncomm, element_type, fk_element, "
                             "answer_status, mandatory) VALUES (%s, %s, %s, '0', 1)", resources)
    return expected


@pytest.mark.mariadb
def test_dolibarr_agenda_reads_only_the_appointments(mariadb_database: dict[str, Any], tmp_path: Path,
                                                     cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "FR", cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    mapping = real.written_mapping(tmp_path)
    fields = mapping["fields"]
    assert "pass_crypted" not in connector["query"] and "api_key" not in connector["query"]
    assert "fk_user_author" not in str(fields.get("practitioner.external_id"))
    assert "fk_contact" in str(fields.get("patient.external_id"))  # the contact, through llx_socpeople
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}  # the owner user, not author or modifier
    assert "fk_user_action" in connector["query"]
    # percent (-1 not applicable, 0 to do, 100 done) says no cancellation: no status is read from it
    assert "status" not in fields
    assert "no_email" in str(fields["patient.allow_email"])  # a refusal of email, read turned round
    # the calls logged against a contact are no visits: the kinds left out are named, not those kept
    assert "(a.code IS NULL OR a.code NOT IN ('AC_OTH_AUTO', 'AC_TEL'))" in connector["query"]
    # the person's mobile, else their phone, else their household's or company's (never before the person's own)
    assert fields["patient.phone"] == {"from": ["fk_contact_phone_mobile", "fk_contact_phone", "fk_soc_phone"]}
    assert fields["end"] == {"from": "datep2"}  # the event's end, named only by the start's name and a "2"
    found = real.sync_and_compare(run, connector, expected, ZONE)  # no automatic event or call imported
    lengths = {k: (datetime.fromisoformat(v["end"]) - datetime.fromisoformat(v["start"])) for k, v in found.items()}
    assert all(lengths[k] == timedelta(minutes=(20, 30, 45)[int(k) % 3]) for k in expected), lengths


@pytest.mark.mariadb
def test_dolibarr_kind_added_after_discover_is_imported(mariadb_database: dict[str, Any], tmp_path: Path,
                                                        cli: Any) -> None:
    """The clinic adds a visit kind ('AC_VISIO', video consultations) after ``discover --write``:
    its meetings are imported by the next ``sync --once`` (a query listing the kinds kept would
    drop them silently, forever); a new patientless kind ('AC_LUNCH') still is not."""
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "FR", cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    people = sorted({(w[2], w[3], w[4]) for w in expected.values()})
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    rows, added = [], dict(expected)
    for e in range(1001, 1013):
        day = now.date() + timedelta(days=2 + e % 20)
        start = datetime(day.year, day.month, day.day, 9 + e % 8, 30)
        if e % 3:  # a video consultation with a patient, owned by a doctor
            contact, name, phone = people[e % len(people)]
            doctor = 2 + e % 3
            rows.append((e, f"{e}", start, start + timedelta(minutes=30), 50, "AC_VISIO", now, 5, 1, int(contact),
                         int(contact), doctor, 0, "Téléconsultation"))
            utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
            added[str(e)] = (utc.isoformat().replace("+00:00", "Z"), "booked", contact, name, phone, str(doctor))
        else:  # the doctor's lunch break: no one's visit
            rows.append((e, f"{e}", start, start + timedelta(hours=1), 51, "AC_LUNCH", now, 2, 2, None, None, 2 + e % 3,
                         -1, "Pause déjeuner"))

    def more(cursor: Any) -> None:
        real.insert_rows(cursor, "INSERT INTO llx_c_actioncomm (id, code, type, libelle, module, active, position) "
                                 "VALUES (%s, %s, 'user', %s, NULL, 1, 0)",
                         [(50, "AC_VISIO", "Video consultation"), (51, "AC_LUNCH", "Lunch")])
        real.insert_rows(cursor, "INSERT INTO llx_actioncomm (id, ref, datep, datep2, fk_action, code, datec, "
                                 "fk_user_author, fk_user_mod, fk_soc, fk_contact, fk_user_action, percent, label) "
                                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    real.built(mariadb_database, more)
    found = real.sync_and_compare(run, connector, added, ZONE)
    assert sum(1 for k in found if int(k) > 1000) == 8  # every video consultation, no lunch break


@pytest.mark.mariadb
def test_dolibarr_agenda_without_phone_or_email_fails_check(mariadb_database: dict[str, Any], tmp_path: Path,
                                                             cli: Any) -> None:
    """Contacts with no phone and no email: the proposal reaches the patients but can remind
    nobody, and `check` (run by ``discover --write``) exits 1 and says so."""
    _, _settings, run = real.admin_start(mariadb_database, lambda cursor: build(cursor, with_phones=False), tmp_path,
                                        ZONE, "FR", cli)
    _, out, _ = run("discover", str(mariadb_database["url"]), "--stored-times", "local", "--write", expect=1)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "error: patient.phone, patient.email: only 0 of 120" in errors[0], out
