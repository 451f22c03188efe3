"""`clinicsync replies feed` puts a rehearsed reply through the webhooks' own recording path:
an SMS "SI" from the patient's number confirms their visit (recorded like a Twilio or SNS
reply, answered in Spanish), an answer link's choice is recorded like the answer page's."""

from __future__ import annotations

import email
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.rehearsal.support import PHONE, csv_connector, mapping, row, visit_start, write_export

SERVER = "server: {public_url: 'https://clinic.example', secret_key: 0123456789abcdef0123456789}\n"


def synced(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any, extra: str = "") -> Any:
    write_export(drop_dir / "export.csv", [row(1, visit_start(), patient_phone=PHONE)])
    run = cli(write_settings(csv_connector(drop_dir, mapping(tmp_path), announce=True), extra=extra))
    run("sync", "--once")
    return run


def test_an_sms_si_confirms_the_visit(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                      cli: Any) -> None:
    run = synced(tmp_path, drop_dir, write_settings, cli)
    _, out, _ = run("replies", "feed", "--from", PHONE, "--text", "SI", "--json")
    fed = json.loads(out)
    assert (fed["action"], fed["outcome"], fed["language"]) == ("confirm", "applied", "es")
    assert fed["would_answer"] == "Gracias, su cita está confirmada."
    assert fed["recorded"]["outcome"] == "applied" and fed["recorded"]["appointment_id"] == fed["appointment_id"]
    _, listed, _ = run("appointments", "list", "--json", expect=None)
    assert "accepted" in listed
    _, again, _ = run("replies", "feed", "--from", PHONE, "--text", "SI")  # nothing awaits an answer now
    assert "outcome: no_appointment" in again
    _, _, err = run("replies", "feed", "--text", "SI", expect=2)
    assert "--from NUMBER --text TEXT" in err


def test_an_email_link_choice_is_recorded(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                          cli: Any) -> None:
    outbox = tmp_path / "outbox"
    run = synced(tmp_path, drop_dir, write_settings, cli, extra=(
        SERVER + f"notifiers:\n  - {{name: outbox, kind: outbox, directory: {outbox}}}\n"
        "reminders: {channels: [email], routes: {email: outbox}, quiet_hours: null}\n"))
    run("remind", "--once")
    links = {m for f in outbox.rglob("*.eml") for part in email.message_from_bytes(f.read_bytes()).walk()
             if part.get_content_type() == "text/plain"
             for m in re.findall(r"https://clinic\.example/r/[A-Za-z0-9._-]+",
                                 part.get_payload(decode=True).decode("utf-8"))}
    assert links, "the confirmation email carries answer links"
    _, out, _ = run("replies", "feed", "--link", sorted(links)[0], "--choice", "decline", "--json")
    fed = json.loads(out)
    assert fed["status"] == 200 and fed["recorded"]["action"] == "decline"
    assert fed["recorded"]["outcome"] == "applied"
