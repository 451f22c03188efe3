"""The booking kinds' verification and reading, pure: the signatures of the vendors' own
fixtures match the research's test vectors (computed with Cal.com's and Acuity's published
algorithms on the exact bytes), and Cal.com's freshness window is checked with a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from clinicsync.connectors import acuity, calcom, easyappointments
from clinicsync.connectors.booking_hooks import WebhookMalformed, WebhookRefused
from tests.server.booking_support import fixture

CAL = calcom.CalcomSettings(name="cal", secret=SecretStr("test-cal-secret"))
ACUITY = acuity.AcuitySettings(name="acu", user_id="1", api_key=SecretStr("test-acuity-api-key"))
EA = easyappointments.EasyAppointmentsSettings(name="ea", token=SecretStr("test-ea-token"))
# From /work/research/booking/NOTES.md §7 (sign_examples.py over the same files).
CAL_VECTORS = {
    "booking_cancelled.json": "dfb6acf73495c23ce358c827768d7e7753571a4f19a75c194f383012f87510b3",
    "booking_created.json": "f1243dce267ec0013a5d30f9c6a6a9ac45857515cf0b5d67e1a061362ec343ae",
    "booking_rescheduled.json": "9320c9b07e0b245b0142b45a091e1dbf055dcc69e1588ee889f5f11e83e17349",
}
ACUITY_VECTORS = {
    "webhook_canceled.txt": "WCQfcax/FkAXqT23dB+9BQVGcPar37Nbl4uA8WhVa/U=",
    "webhook_rescheduled.txt": "Xo+W/nydkGS0KIxz/UVGhE3YlqtKhAR+zaTmBoA0Rq8=",
    "webhook_scheduled.txt": "8Cer686TuYZdaRLTTKzg0LNvSxBqXho+hKL4+7douE4=",
}


@pytest.mark.parametrize(("name", "signature"), CAL_VECTORS.items())
def test_calcom_vectors_verify(name: str, signature: str) -> None:
    calcom.verify(CAL, fixture("calcom", name), signature)
    calcom.verify(CAL, fixture("calcom", name), signature.upper())  # hex compares case-insensitively
    with pytest.raises(WebhookRefused) as refused:
        calcom.verify(CAL, fixture("calcom", name) + b" ", signature)
    assert refused.value.status == 403


@pytest.mark.parametrize(("name", "signature"), ACUITY_VECTORS.items())
def test_acuity_vectors_verify(name: str, signature: str) -> None:
    acuity.verify(ACUITY, fixture("acuity", name), signature)
    with pytest.raises(WebhookRefused):
        acuity.verify(ACUITY, fixture("acuity", name), signature.lower())  # base64 is case-sensitive


def test_calcom_read_with_the_documented_clock() -> None:
    data = json.loads(fixture("calcom", "booking_rescheduled.json"))
    sent = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    event = calcom.read(data, sent + timedelta(seconds=30), timedelta(minutes=5))
    assert (event.trigger, event.uid, event.reschedule_uid) == ("BOOKING_RESCHEDULED", "new-booking-unique-id",
                                                                "previous-booking-unique-id")
    for now in (sent + timedelta(minutes=6), sent - timedelta(minutes=6)):  # too old, or from the future
        with pytest.raises(WebhookRefused) as refused:
            calcom.read(data, now, timedelta(minutes=5))
        assert refused.value.status == 403
    del data["payload"]["rescheduleUid"]
    with pytest.raises(WebhookMalformed) as malformed:
        calcom.read(data, sent, timedelta(minutes=5))
    assert malformed.value.field == "payload.rescheduleUid"


def test_easyappointments_read() -> None:
    event = easyappointments.read(json.loads(fixture("easyappointments", "appointment_delete.json")))
    assert (event.action, event.appointment_id, event.applied) == ("appointment_delete", "1", True)
    easyappointments.verify(EA, "test-ea-token")
    with pytest.raises(WebhookRefused):
        easyappointments.verify(EA, "test-ea-tokeN")


def test_acuity_read_form() -> None:
    event = acuity.read(fixture("acuity", "webhook_rescheduled.txt"))
    assert (event.action, event.appointment_id) == ("rescheduled", "54321")
    with pytest.raises(WebhookMalformed) as malformed:
        acuity.read(b"id=1")
    assert malformed.value.field == "action"


@pytest.mark.parametrize(("model", "values", "bad_key"), [
    (calcom.CalcomSettings, {"name": "c", "secret": " "}, "secret"),
    (calcom.CalcomSettings, {"name": "c", "secret": "s", "max_age_seconds": 1}, "max_age_seconds"),
    (acuity.AcuitySettings, {"name": "a", "user_id": "me", "api_key": "k"}, "user_id"),
    (easyappointments.EasyAppointmentsSettings, {"name": "e", "token": "t", "timezone": "Mars/Base"}, "timezone"),
    (easyappointments.EasyAppointmentsSettings, {"name": "e", "token": "t", "tokn_header": "X"}, "tokn_header"),
])
def test_settings_name_the_bad_key(model: type, values: dict[str, object], bad_key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model(**values)
    assert bad_key in str(caught.value)
