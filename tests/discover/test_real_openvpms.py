"""`discover` on OpenVPMS, an Australian veterinary practice system, in MariaDB
(tests/fixtures/ehr/openvpms, with its SOURCE note): a generic archetype store, no table of its
own for anything. Every record is an ``acts`` row typed by ``arch_short_name``
(``act.customerAppointment`` beside clinical events, invoices and vaccination reminders that
fall due ahead); who took part is ``participations`` rows typed by a role word
(``participation.customer``, ``.patient``, ``.clinician``, ``.schedule``, ``.author``), each
copying the act's start and end; every party is an ``entities`` row whose name parts are
``entity_details`` rows; a customer's phones are ``contacts`` rows whose number, area code and
SMS and preferred flags are ``contact_details`` rows. The patient of a vet is a pet, which has
no phone: the person to remind is its owner, the appointment's customer. Data synthetic (see
openvpms_data.py). Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import openvpms_data as vet
from tests.discover import real_ehr_support as real


@pytest.mark.mariadb
def test_openvpms_acts_with_role_typed_participations_and_attribute_rows(
        mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """The appointments are the acts of the kind whose rows name a customer and reach ahead (not
    the participations that copy their times, nor invoices, clinical events or reminders); the
    patient is the customer (whose parties have contacts), not the pet; the customer's name its
    firstName and lastName rows; its phone the contact allowed SMS, else the preferred, its area
    code written before the number; the doctor the clinician's party, and its name."""
    truth, settings, run = real.admin_start(mariadb_database, vet.build, tmp_path, vet.ZONE, vet.REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    query = connector["query"]
    assert "FROM acts AS a" in query and "'act.customerAppointment'" in query, query
    assert "'participation.customer'" in query and "'participation.author'" not in query, query
    found = real.sync_and_compare(run, connector, vet.expected(truth), vet.ZONE)
    window = [k for k, t in truth.items() if t["in_window"]]
    assert [k for k in window if (found[k]["practitioner"] or {}).get("name") != truth[k]["doctor_name"]] == []
    assert [k for k in window if found[k]["end"] <= found[k]["start"]] == []
    # an inactive act (the practice's removed appointment) is never imported
    assert not set(found) - set(window)
