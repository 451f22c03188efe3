"""`templates check` against worst-case samples (issue 30, obs 10): the longest or
costliest weekday and month names of each language (a Spanish Saturday, "sáb", is not
GSM-7), accented names, long doctors' names, every visit mode. It fails, one line per
problem, when an SMS would take more than one segment or lose its answer link."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicsync.sync.cli.template_check import check_site_templates, problem_lines
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.reminders.segments import gsm_plain, sms_size

SERVER = "server:\n  public_url: https://clinic.example.org\n  secret_key: test-only\n"


def clinic_settings(tmp_path: Path, store_url: str, reminders: str = "") -> Path:
    """A clinic with a long accented name, answer links (short ones in SMS), a Spanish default."""
    path = tmp_path / "settings.yaml"
    path.write_text('clinic:\n  name: "Clínica Santa Lucía"\n  timezone: America/New_York\n  language: es-ES\n'
                    f'store:\n  url: "{store_url}"\n' + SERVER + (f"reminders:\n{reminders}" if reminders else ""),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_fails_on_a_saturday_spanish_sms(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         store_url: str) -> None:
    """The Spanish SMS as it went before the fix (accents kept): "sáb" and "Lucía" force UCS-2
    (70 characters a segment), so the reminder takes 3 segments and its answer link is left out."""
    config = clinic_settings(tmp_path, store_url, "  sms_accents: keep\n")
    code, out, _ = cli(config)("templates", "check", "--json", expect=None)
    results = json.loads(out)
    [reminder] = [r for r in results if (r["language"], r["template"], r["channel"]) == ("es", "reminder", "sms")]
    assert reminder["encoding"] == "UCS-2" and reminder["segments"] == 3
    assert "sáb" in reminder["sample"]
    assert reminder["answer_link"] is False
    assert code == 1
    code, table, _ = cli(config)("templates", "check", expect=None)
    lines = [line for line in table.splitlines() if line.startswith("es/reminder.sms:")]
    assert any("3 SMS segments" in line and "sáb" in line for line in lines), table
    assert any("answer link left out" in line for line in lines), table


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_passes_with_plain_sms_letters(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       store_url: str) -> None:
    """The default: accents the GSM-7 alphabet lacks are dropped in SMS, so every patient SMS
    of every language and mode fits one segment with its answer link, on the worst samples."""
    code, out, _ = cli(clinic_settings(tmp_path, store_url))("templates", "check", "--json", expect=None)
    results = json.loads(out)
    sms = [r for r in results if r["channel"] == "sms"]
    assert {r["language"] for r in sms} == {"en", "es"}
    assert {r["template"] for r in sms} >= {"reminder", "reminder (video)", "reminder (phone)",
                                            "reminder (phone, dial-in)", "confirmation"}
    assert all(r["segments"] == 1 and r["encoding"] == "GSM-7" for r in sms), sms
    assert all(r["answer_link"] for r in sms if r["template"].split()[0] in ("confirmation", "reminder",
                                                                            "rescheduled")), sms
    [reminder] = [r for r in sms if (r["language"], r["template"]) == ("es", "reminder")]
    assert reminder["sample"].startswith("sáb")
    assert code == 0, [r["problems"] for r in results if r["problems"]]


# The shipped Spanish phone reminder before issue 58: a dial-in number made it 170 characters
# with its answer link, so the link was dropped when sent, while the check (whose phone sample
# had no dial-in) said "short link ok".
OLD_SPANISH_PHONE = (
    '{% if visit_mode == "phone" %}\n'
    '{{ clinic }}: cita por teléfono {{ short_date }}, {{ time }}.{% if dial_in %} Llame al {{ dial_in }} a esa '
    'hora.{% else %} Le llamamos{% if patient_phone and not answer_url %} al {{ patient_phone }}{% endif %}.'
    '{% endif %} {{ [reply, opt_out]|select|join(" ") }}\n'
    '{% else %}\n{{ clinic }}: su cita: {{ short_date }}, {{ time }}. {{ [reply, opt_out]|select|join(" ") }}\n'
    '{% endif %}\n')


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_fails_a_template_that_drops_the_link_for_a_dial_in_phone_visit(
        cli, tmp_path: Path, store_url: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mine" / "es").mkdir(parents=True)
    (tmp_path / "mine" / "es" / "reminder.sms.txt").write_text(OLD_SPANISH_PHONE, encoding="utf-8")
    code, out, _ = cli(clinic_settings(tmp_path, store_url, "  templates: mine\n"))(
        "templates", "check", "--json", expect=None)
    by_label = {(r["language"], r["template"]): r for r in json.loads(out) if r["channel"] == "sms"}
    dial_in = by_label["es", "reminder (phone, dial-in)"]
    assert dial_in["answer_link"] is False and dial_in["segments"] == 1, dial_in
    assert any("answer link left out" in problem for problem in dial_in["problems"]), dial_in
    assert by_label["es", "reminder (phone)"]["answer_link"] is True  # we call: it fits, as before
    assert code == 1


def test_accents_leave_an_sms_only_when_that_makes_it_gsm7() -> None:
    assert gsm_plain("Clínica Santa Lucía: sáb, 11 sept") == "Clinica Santa Lucia: sab, 11 sept"
    assert gsm_plain("Çağla Y\u0131lmaz, Zoë Łukasz") == "Çagla Yilmaz, Zoe Lukasz"  # Ç sits in GSM-7
    assert gsm_plain("Señor Müller, café") == "Señor Müller, café"  # ñ, ü, é are GSM-7
    # Cyrillic needs UCS-2 anyway: the accents cost nothing there and stay.
    assert gsm_plain("Лучия, sáb") == "Лучия, sáb"
    assert sms_size(gsm_plain("sáb " * 40)).segments == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_language_without_templates_is_reported_not_silently_english(  # type: ignore[no-untyped-def]
        cli, tmp_path: Path, store_url: str, store) -> None:
    """French patients got English with no word about it (issue 30, obs 12)."""
    from tests.sync.reminders.conftest import appointment, put

    put(store, appointment("A1", START_FR, language="fr"), appointment("A2", START_FR, patient="P2", language="fr"),
        appointment("A3", START_FR, patient="P3", language="es-MX"))
    code, out, _ = cli(clinic_settings(tmp_path, store_url))("templates", "check", "--json", expect=None)
    [french] = [r for r in json.loads(out) if r["language"] == "fr"]
    assert french["patients"] == 2 and french["template"] is None
    assert french["warnings"] == ["no templates for language 'fr' (2 patient(s)): these messages go in 'en'; "
                                  "add templates/fr/ (see docs/reminders.md, Languages)"]
    assert not [r for r in json.loads(out) if r["language"] == "es-MX"]  # es covers es-MX
    assert code == 0  # reported, like an undefined variable; the SMS sizes decide the exit
    _, table, _ = cli(clinic_settings(tmp_path, store_url))("templates", "check", expect=None)
    assert "fr: no templates for language 'fr' (2 patient(s))" in table


START_FR = datetime(2026, 12, 5, 15, tzinfo=UTC)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_waitlist_offer_is_checked_with_the_hold_the_clinics_strategy_gives_it(  # type: ignore[no-untyped-def]
        cli, tmp_path: Path, store_url: str) -> None:
    """The offer's SMS states its hold (sequential): checked with it, at the costly clock,
    ending on another day than the send. A 30-minute hold fits one segment (its weekday shown);
    a week-long one shows its short date and takes two, a problem named with the hold; `batch`
    has no hold, and its offer is checked without one."""
    def offer(waitlist: str) -> tuple[int, dict[str, dict[str, object]], str]:
        config = clinic_settings(tmp_path, store_url)
        config.write_text(config.read_text(encoding="utf-8") + f"waitlist:\n{waitlist}", encoding="utf-8")
        code, out, _ = cli(config)("templates", "check", "--json", expect=None)
        _, table, _ = cli(config)("templates", "check", expect=None)
        return code, {r["language"]: r for r in json.loads(out)
                      if (r["template"], r["channel"]) == ("waitlist_offer", "sms")}, table

    code, held, _ = offer("  strategy: sequential\n  hold: 30m\n")
    assert code == 0 and all(r["segments"] == 1 and not r["problems"] for r in held.values()), held
    assert all(str(r["sample"]).endswith(", held 30m") for r in held.values()), held
    code, week, table = offer("  strategy: sequential\n  hold: 7d\n")
    assert code == 1 and week["en"]["segments"] == 2 and week["en"]["units"] > held["en"]["units"], week
    assert any(line.startswith("en/waitlist_offer.sms: 2 SMS segments") and "held 7d" in line
               for line in table.splitlines()), table
    code, batch, _ = offer("  strategy: batch\n")
    assert code == 0 and all(r["segments"] == 1 and "held" not in str(r["sample"]) for r in batch.values()), batch
    assert all(batch[lang]["units"] < held[lang]["units"] for lang in ("en", "es")), (batch, held)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_templates_check_renders_each_sites_own_folder_as_its_messages(tmp_path: Path, store_url: str) -> None:
    """A site's folder (issue 60) is checked with the site's name: an SMS that fits under the
    group's short name takes two segments under the site's long one, and is named by site."""
    folder = tmp_path / "south" / "en"
    folder.mkdir(parents=True)
    (folder / "reminder.sms.txt").write_text("{{ clinic }}: " + "x" * 120 + "\n", encoding="utf-8")
    config = tmp_path / "settings.yaml"
    config.write_text(
        f'clinic: {{name: Group, timezone: America/New_York}}\nstore:\n  url: "{store_url}"\n'
        f"sites:\n  south: {{name: {'South Dental Care Center of Greater Springfield'}, templates: south}}\n"
        f"connectors:\n  - {{name: south-pm, kind: csv, mapping: generic_csv, drop_dir: {tmp_path}, site: south}}\n",
        encoding="utf-8")
    results = check_site_templates(load_settings(config))  # what `templates check` adds to the group's
    assert {r.site for r in results} == {"south"} and any(r.failed for r in results)
    assert any(line.startswith("south/en/reminder.sms: 2 SMS segments") for line in problem_lines(results))
