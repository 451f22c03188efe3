"""Each notifier kind's settings, as a site writes them in settings.yaml: validated up front,
secrets from the environment or a file, every problem named by key and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clinicsync.notifiers.registry import build_notifier, notifier_kinds
from clinicsync.notifiers.sendgrid_mail import SendGridNotifier, SendGridSettings
from clinicsync.notifiers.smtp import SmtpSettings
from clinicsync.notifiers.twilio_sms import TwilioSmsNotifier, TwilioSmsSettings
from clinicsync.notifiers.twilio_whatsapp import TwilioWhatsAppSettings
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import Settings, load_settings
from tests.conftest import ROOT

ACCOUNT = "AC" + "0123456789abcdef" * 2


def load(tmp_path: Path, notifiers: str) -> Settings:
    path = tmp_path / "settings.yaml"
    path.write_text("notifiers:\n" + textwrap.indent(textwrap.dedent(notifiers), "  "), encoding="utf-8")
    return load_settings(path)


def problems(tmp_path: Path, notifiers: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, notifiers)
    return caught.value.problems


def test_every_kind_is_registered_and_declares_its_channels() -> None:
    kinds = notifier_kinds()
    assert {"outbox", "smtp", "sendgrid", "twilio_sms", "twilio_whatsapp", "aws_sms"} <= set(kinds)
    assert {name: sorted(cls.channels) for name, cls in kinds.items() if name != "outbox"} == {
        "smtp": ["email"], "sendgrid": ["email"], "twilio_sms": ["sms"], "twilio_whatsapp": ["whatsapp"],
        "aws_sms": ["sms"]}
    assert kinds["outbox"].channels == {"email", "sms", "whatsapp"}
    for name, cls in kinds.items():
        assert cls.kind == name and cls.settings_model.model_fields["kind"].default == name


def test_all_kinds_load_with_secrets_from_env_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SENDGRID_KEY", "SG.from-env")
    (tmp_path / "twilio_token").write_text("token-from-file\n")
    (tmp_path / "smtp_password").write_text("pw-from-file")
    settings = load(tmp_path, f"""\
        - name: mail
          kind: smtp
          host: smtp.clinic.example
          username: reminders
          password_file: smtp_password
          sender: Demo Clinic <reminders@clinic.example>
        - name: sendgrid
          kind: sendgrid
          api_key: ${{TEST_SENDGRID_KEY}}
          sender: reminders@clinic.example
          rate_per_second: 50
        - name: sms
          kind: twilio_sms
          account_sid: {ACCOUNT}
          auth_token_file: twilio_token
          from_number: "+15005550006"
          status_callback: https://clinic.example/webhooks/twilio
        - name: whatsapp
          kind: twilio_whatsapp
          account_sid: {ACCOUNT}
          auth_token_file: twilio_token
          messaging_service_sid: MG{"0" * 32}
          templates: {{reminder.en: HX{"1" * 32}}}
        """)
    smtp, sendgrid, sms, whatsapp = settings.notifiers
    assert isinstance(smtp, SmtpSettings) and smtp.password is not None
    assert smtp.password.get_secret_value() == "pw-from-file" and smtp.effective_port == 587
    assert isinstance(sendgrid, SendGridSettings) and sendgrid.api_key.get_secret_value() == "SG.from-env"
    assert sendgrid.rate_per_second == 50 and sendgrid.api_root == "https://api.sendgrid.com"
    assert isinstance(sms, TwilioSmsSettings) and sms.auth_token.get_secret_value() == "token-from-file"
    assert sms.api_root == "https://api.twilio.com"
    assert isinstance(whatsapp, TwilioWhatsAppSettings) and whatsapp.templates == {"reminder.en": "HX" + "1" * 32}
    # Secrets never show in the settings' text form.
    assert "token-from-file" not in repr(settings) and "pw-from-file" not in repr(settings)
    assert isinstance(build_notifier(sendgrid), SendGridNotifier)
    assert isinstance(build_notifier(sms), TwilioSmsNotifier)


@pytest.mark.parametrize(("yaml", "expected"), [
    ("- {name: n, kind: smtp, host: h, sender: nobody}", ["notifiers[0].sender (line 2): not an email address"]),
    ("- {name: n, kind: smtp, host: h, sender: a@b.org, username: u}",
     ["notifiers[0] (line 2): give both username and password"]),
    ("- {name: n, kind: smtp, host: h, sender: a@b.org, security: none, username: u, password: p}",
     ["notifiers[0] (line 2): a password is never sent in clear text"]),
    ("- {name: n, kind: smtp, host: h, sender: a@b.org, security: tls}", ["notifiers[0].security (line 2):"]),
    ("- {name: n, kind: sendgrid, sender: a@b.org}", ["notifiers[0].api_key (line 2): Field required"]),
    ("- {name: n, kind: sendgrid, sender: a@b.org, api_key: '  '}",
     ["notifiers[0].api_key (line 2): is empty"]),
    ("- {name: n, kind: sendgrid, sender: a@b.org, api_key: k, api_root: 'ftp://x'}",
     ["notifiers[0].api_root (line 2): must be an http(s) URL"]),
    (f"- {{name: n, kind: twilio_sms, account_sid: {ACCOUNT}, auth_token: t}}",
     ["notifiers[0] (line 2): give exactly one of from_number or messaging_service_sid"]),
    (f"- {{name: n, kind: twilio_sms, account_sid: {ACCOUNT}, auth_token: t, from_number: '4155550123'}}",
     ["notifiers[0].from_number (line 2): not an E.164 phone number"]),
    (f"- {{name: n, kind: twilio_whatsapp, account_sid: {ACCOUNT}, auth_token: t, from_number: '+15005550006',"
     " status_callback: 'not a url'}", ["notifiers[0].status_callback (line 2): must be an http(s) URL"]),
    ("- {name: n, kind: twilio_sms, account_sid: nope, auth_token: t, from_number: '+15005550006'}",
     ["notifiers[0].account_sid (line 2):"]),
    ("- {name: n, kind: smtp, host: h, sender: a@b.org, pasword: x}", ["notifiers[0].pasword (line 2): unknown key"]),
    ("- {name: n, kind: twillio}", ["notifiers[0].kind (line 2): unknown notifier kind 'twillio'; known kinds: ["]),
])
def test_bad_settings_name_the_key(tmp_path: Path, yaml: str, expected: list[str]) -> None:
    found = problems(tmp_path, yaml)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), problem


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, f"""\
        - name: sms
          kind: twilio_sms
          account_sid: {ACCOUNT}
          auth_token_file: /nonexistent/token
          from_number: "+15005550006"
        """)
    assert problem.startswith("notifiers[0] (line 2): auth_token_file: cannot read /nonexistent/token")


def test_root_settings_example_blocks_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commented examples in settings.yaml load once uncommented and their secrets are given."""
    text = (ROOT / "settings.yaml").read_text(encoding="utf-8")
    start = text.index("\nnotifiers:") + 1
    lines = []
    for line in text[start:].splitlines()[1:]:
        if line[:1].isalpha():
            break  # the next top-level section
        lines.append(line)
    block = "\n".join(line.replace("#  ", "  ", 1) if line.startswith("#  ") else line for line in lines)
    for name in ("SMTP_PASSWORD", "SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.setenv(name, "AC" + "9" * 32 if name == "TWILIO_ACCOUNT_SID" else "secret")
    path = tmp_path / "settings.yaml"
    path.write_text("notifiers:\n" + block + "\n", encoding="utf-8")
    kinds = [n.kind for n in load_settings(path).notifiers]
    assert kinds == ["outbox", "smtp", "sendgrid", "twilio_sms", "twilio_whatsapp", "aws_sms"]
