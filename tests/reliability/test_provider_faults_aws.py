"""Provider faults for the AWS SMS notifier (End User Messaging SMS): boto3 against the
loopback fake answering ThrottlingException, 500/503, resets and timeouts. As for Twilio
and SendGrid, each reminder ends sent exactly once at the provider, or `unknown` when AWS
may have taken it — never twice, never lost. botocore's own retries are off, so a read
timeout is never silently sent again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clinicsync.sync.store.store import Store
from tests.faults import FaultPlan, FaultyApi
from tests.notifiers.aws_fake import LONG_CODE, REGION, aws_credentials, end_user_messaging_fake
from tests.reliability.test_provider_faults import (
    ANSWER_WITHIN,
    COUNT,
    HTTP_BLIND,
    RATES,
    Setup,
    assert_faults_met,
    book,
    check_outcomes,
    dispatch_until_settled,
    serve,
    setup,
)

__all__ = ["aws_credentials", "serve", "setup"]  # fixtures


@pytest.mark.parametrize("seed", [6])
def test_aws_faults_every_reminder_sent_once_or_unknown(store: Store, setup: Setup, seed: int, aws_credentials: None,
                                                         serve: Callable[[FaultyApi], FaultyApi]) -> None:
    plan_ = FaultPlan(RATES, seed=seed, answer_within=ANSWER_WITHIN)
    api, service = end_user_messaging_fake(plan_)
    serve(api)
    settings = setup(f"""
notifiers:
  - {{name: texts, kind: aws_sms, region: {REGION}, origination_identity: "{LONG_CODE}", check_opt_out: false,
     endpoint_url: "{api.url}", timeout: 1, rate_per_second: 10000}}
""")
    addresses = book(store, settings, COUNT, "sms")
    dispatch_until_settled(settings, store, plan_, addresses, retry_after=False)
    check_outcomes(store, plan_, api.settled(), addresses, blind=HTTP_BLIND)
    assert_faults_met(plan_)
    assert len(service.sent) == sum(api.accepted.values())
