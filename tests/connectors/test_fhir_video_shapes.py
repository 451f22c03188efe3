"""A FHIR video visit whose join link is a contained Endpoint's address and whose place is only
a supportingInformation Reference to a Location (issue 57 obs 8), through the real connector
against the loopback server: the Location is read like a participant's, the link is stored, and
`appointments list --json` / `show --json` carry the visit mode and the join link (an in-person
visit beside it says in_person, no link)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.connectors.fhir_fake import FakeFhir, appointment, location, patient, pem, practitioner, rsa_key
from tests.connectors.test_fhir_sync import fhir_connector, open_cli

SHAPE = Path(__file__).resolve().parents[1] / "fixtures" / "telehealth" / "contained_endpoint_video.json"
LINK = "https://video.example.org/room/3KX9?role=patient&tk=ep-51c2"


def test_contained_endpoint_and_supporting_location_reach_the_store(fhir_server: FakeFhir, tmp_path: Path,
                                                                     write_settings: Any, cli: Any) -> None:
    earlier = fhir_server.clock - timedelta(hours=1)
    fhir_server.put(patient("900021"), earlier)
    fhir_server.put(practitioner("900002"), earlier)
    fhir_server.put({**location("900031"), "name": "Main Street Clinic, Suite 2"}, earlier)
    fhir_server.put(location("l0"), earlier)
    video: dict[str, Any] = copy.deepcopy(json.loads(SHAPE.read_text(encoding="utf-8")))
    start = fhir_server.clock + timedelta(days=2)
    video.pop("meta")
    video["start"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    video["end"] = (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fhir_server.put(video, earlier)
    fhir_server.put(appointment("office-1", start + timedelta(hours=2), "900021", "900002", "l0"), earlier)
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(rsa_key()))
    run = open_cli(cli, write_settings(connectors=fhir_connector(fhir_server, key_file)))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["ehr"]["created"] == 2
    assert fhir_server.seen("GET", "/fhir/Location/900031")  # read as a participant's Location would be

    _, out, _ = run("appointments", "list", "--all", "--json")
    listed = {row["external_id"]: row for row in json.loads(out)["items"]}
    assert listed["ep-video-1"]["visit_mode"] == "video"
    assert listed["ep-video-1"]["join_url"] == LINK
    assert listed["ep-video-1"]["location"] == "Main Street Clinic, Suite 2"
    assert (listed["office-1"]["visit_mode"], listed["office-1"]["join_url"]) == ("in_person", None)
    assert listed["office-1"]["location"] == "Room l0"

    _, out, _ = run("appointments", "show", "ehr:ep-video-1", "--json")
    shown = json.loads(out)
    assert (shown["visit_mode"], shown["join_url"], shown["dial_in"]) == ("video", LINK, None)
    _, out, _ = run("appointments", "show", "ehr:ep-video-1")
    assert "video" in out and LINK in out
