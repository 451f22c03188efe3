"""`clinicsync check` on a FHIR source: one page of the window is mapped; a misspelt
path fails naming the real key, an optional element absent from the sample only warns."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.fhir_fake import FakeFhir, appointment, patient, pem, practitioner, rsa_key
from tests.sync.test_check_source import mapping_file


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def fhir_settings(fake: FakeFhir, tmp_path: Path, mapping: str) -> str:
    key = tmp_path / "fhir-key.pem"
    key.write_text(pem(rsa_key()))
    return (f"- name: ehr\n  kind: fhir\n  base_url: {fake.base_url}\n  mapping: {mapping}\n"
            f"  auth: {{kind: smart_backend, client_id: clinicsync, kid: test-key, private_key_file: {key}}}\n")


def seed(fake: FakeFhir) -> None:
    fake.put(patient("p0"))
    fake.put(practitioner("d0"))
    for i in range(3):
        fake.put(appointment(f"a{i}", fake.clock + timedelta(days=i + 1), "p0", "d0"))


FHIR_MAPPING = """\
    name: ehr
    extends: fhir_r4
    fields:
      type: {{from: "{path}"}}
    """


def test_fhir_a_misspelt_path_fails_and_names_the_real_key(fhir_server: FakeFhir, tmp_path: Path,
                                                           write_settings: Callable[..., Path], cli: Any) -> None:
    seed(fhir_server)
    mapping = mapping_file(tmp_path, FHIR_MAPPING.format(path="appointmentType.coding[0].dispaly"))
    run = cli(write_settings(fhir_settings(fhir_server, tmp_path, str(mapping))))
    _, out, _ = run("check", "--json", expect=1)
    errors = [f for f in json.loads(out)["connectors"][0]["findings"] if f["level"] == "error"]
    assert [e["field"] for e in errors] == ["type"]
    assert "'dispaly' looks misspelt; did you mean 'display'?" in errors[0]["message"]
    assert not [s for s in fhir_server.seen("GET", "/fhir/Appointment") if "_lastUpdated" in s.query]


def test_fhir_an_optional_path_absent_from_the_sample_only_warns(fhir_server: FakeFhir, tmp_path: Path,
                                                                 write_settings: Callable[..., Path],
                                                                 cli: Any) -> None:
    seed(fhir_server)
    mapping = mapping_file(tmp_path, FHIR_MAPPING.format(path="serviceType[0].text"))
    run = cli(write_settings(fhir_settings(fhir_server, tmp_path, str(mapping))))
    _, out, _ = run("check", "--json")
    ehr = json.loads(out)["connectors"][0]
    assert ehr["ok"] and ehr["sample"]["mapped"] == 3
    assert {f["path"]: f["level"] for f in ehr["findings"]}["serviceType[0].text"] == "warning"
