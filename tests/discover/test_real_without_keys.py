"""The real products' tests again, their DDL run without its foreign keys: many installs never
declare them (MyISAM tables, frameworks that keep references in code, dumps restored without
constraints), and discover must then find by names and values what the keys said: the visit
table, the patient through a 1:1 person row, the person a participant row names, the party a
numbered name is, a person's 1:1 extension row (Tamanu's additional data), a code named for
its table, a record's shared row (Vtiger), the doctor, a login's person kept in a 1:1 profile row
keyed alike (DHIS2's users and userinfo), a booking's element its name says nothing of (OpenEyes:
the operation table its values cover), a participation's version number named like two tables'
keys (SanteDB: the act versions, the only ones holding all its values). Each product's own test, unchanged, is
the judge (every visit compared)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.discover import real_ehr_support
from tests.discover.test_real_bahmni import test_bahmni_on_mariadb_through_discover_check_and_sync as bahmni
from tests.discover.test_real_bookly import test_bookly_status_and_patient_on_the_child_row as bookly
from tests.discover.test_real_civicrm import test_civicrm_activities_through_discover_check_and_sync as civicrm
from tests.discover.test_real_dhis2 import test_dhis2_tracker_events_people_as_attribute_rows as dhis2
from tests.discover.test_real_gnuhealth import test_gnuhealth_current_address_beside_the_direct_party as gnuhealth
from tests.discover.test_real_infyomhms import test_infyom_hms_two_roles_one_users_table as infyomhms
from tests.discover.test_real_khanza import (
    test_khanza_composite_key_indonesian_words_and_coded_references as khanza,
)
from tests.discover.test_real_krayin import test_krayin_meetings_through_discover_check_and_sync as krayin
from tests.discover.test_real_ofbiz import test_on_mariadb as ofbiz
from tests.discover.test_real_openeyes import test_on_mariadb as openeyes
from tests.discover.test_real_openhospital import test_open_hospital_wards_flags_and_default_lengths as openhospital
from tests.discover.test_real_openmrs_apptsched import (
    test_openmrs_apptsched_through_discover_check_and_sync as openmrs_apptsched,
)
from tests.discover.test_real_openvpms import (
    test_openvpms_acts_with_role_typed_participations_and_attribute_rows as openvpms,
)
from tests.discover.test_real_pretix import test_on_postgresql as pretix
from tests.discover.test_real_roundcube_calendar import test_on_mariadb as roundcube_calendar
from tests.discover.test_real_santedb import (
    test_santedb_versioned_acts_coded_roles_component_names_and_use_typed_phones as santedb,
)
from tests.discover.test_real_tamanu import (
    test_tamanu_text_datetimes_additional_data_phones_and_location_groups as tamanu,
)
from tests.discover.test_real_vtiger import test_vtiger_meetings_reach_their_owner_user_and_leave_calls_out as vtiger
from tests.discover.test_real_wp_easy_appointments import (
    test_easy_appointments_through_discover_check_and_sync as easy_appointments,
)
from tests.discover.test_real_x2crm import test_on_mariadb as x2crm

# Collected here under these names, each run with the keys taken out (``_without_keys``).
test_bahmni_without_keys = bahmni
test_bookly_without_keys = bookly
test_civicrm_without_keys = civicrm
test_dhis2_without_keys = dhis2
test_easy_appointments_without_keys = easy_appointments
test_gnuhealth_without_keys = gnuhealth
test_infyomhms_without_keys = infyomhms
test_khanza_without_keys = khanza
test_krayin_without_keys = krayin
test_ofbiz_without_keys = ofbiz
test_openeyes_without_keys = openeyes
test_openhospital_without_keys = openhospital
test_openmrs_apptsched_without_keys = openmrs_apptsched
test_openvpms_without_keys = openvpms
test_pretix_without_keys = pretix
test_roundcube_calendar_without_keys = roundcube_calendar
test_santedb_without_keys = santedb
test_tamanu_without_keys = tamanu
test_vtiger_without_keys = vtiger
test_x2crm_without_keys = x2crm


@pytest.fixture(autouse=True)
def _without_keys() -> Iterator[None]:
    real_ehr_support.KEYS["declared"] = False
    try:
        yield
    finally:
        real_ehr_support.KEYS["declared"] = True


def test_the_ddl_run_here_declares_no_key() -> None:
    """The harness itself: every product's DDL, as run here, keeps its tables and columns and
    loses every foreign key (else the tests above would judge the keyed schema again)."""
    for schema in sorted(real_ehr_support.FIXTURES.glob("*/schema.sql")):
        ddl = "\n".join(line for line in schema.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
        for statement in filter(str.strip, ddl.split(";")):
            stripped = real_ehr_support.without_keys(statement)
            if stripped is None:
                assert "FOREIGN KEY" in statement.upper() or "REFERENCES" in statement.upper(), statement
                continue
            said = re.sub(r"/\*.*?\*/", "", stripped, flags=re.S)  # a comment's words (WebCalendar's) are no key
            assert not re.search(r"FOREIGN\s+KEY|\sREFERENCES\s", said, re.I), (schema.parent.name, stripped)
            assert stripped.count("(") == stripped.count(")"), stripped
