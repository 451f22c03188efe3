"""The worst-case sample visits that messages are rendered against before they are sent for
real: the weekday and the month whose names cost most in an SMS, as babel spells them for each
language (a name outside GSM-7 first, then the longest, in the short and the full forms), the
longer of a morning and an evening clock, accented patients' names, a long doctor's name, and
every visit mode. `templates check` measures each message against them (cli/template_check.py);
the reply paths' rehearsal borrows the plain sample visit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from babel import Locale, UnknownLocaleError

from clinicsync.common.timeutil import zone
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.compose import Visit, short_day
from clinicsync.sync.reminders.render import format_clock, sms_plain
from clinicsync.sync.reminders.segments import sms_size

SAMPLE_YEAR = 2027  # any year: the samples need a date for each weekday-and-month pair
# Names whose letters leave GSM-7 (í, ç, ğ, dotless i, ë, Å) or sit in it (é, ñ): the patient's first
# name goes into every SMS.
SAMPLE_PATIENTS = ("Lucía Fernández", "Çağla Y\u0131lmaz", "Zoë Ångström")
SAMPLE_DOCTOR = "Dr. María José Fernández-Villalobos"
SAMPLE_LOCATION = "Centro de Especialidades San José, Edificio B"


def sample_visit(zone_name: str) -> Visit:
    start = datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    return Visit("demo", "A1001", start, start + timedelta(minutes=30), zone_name, 2, "Annual physical",
                 "Main Street Clinic", "Dr. Priya Natarajan", "Alexandra Kowalski")


# Telehealth samples: a join link of a common length (a Zoom or Teams link with a
# passcode is longer and may take a second segment), and the patient's own number.
SAMPLE_JOIN_URL = "https://vc.example.org/j/58210"
SAMPLE_PATIENT_PHONE = "+13125550144"
# A phone visit's number to dial in: a branch of its own in every SMS, longer
# than "we'll call you"; without it the check said "short link ok" while Spanish dial-in
# visits lost their link. A conference line's number, as a source stores it.
SAMPLE_DIAL_IN = "+13125550199"


def with_modes(visit: Visit) -> list[tuple[str, Visit]]:
    """The visit as each branch of the templates shows it: (label suffix, visit). Every mode
    a template tells apart: in person, video (with its join link), phone with the patient's
    own number (we call), phone with a number to dial in."""
    return [("", visit),
            (" (video)", replace(visit, visit_mode="video", join_url=SAMPLE_JOIN_URL)),
            (" (phone)", replace(visit, visit_mode="phone", patient_phone=SAMPLE_PATIENT_PHONE)),
            (" (phone, dial-in)", replace(visit, visit_mode="phone", patient_phone=SAMPLE_PATIENT_PHONE,
                                          dial_in=SAMPLE_DIAL_IN))]


def sample_visits(zone_name: str) -> list[tuple[str, Visit]]:
    """The plain sample visit as each mode shows it: (label suffix, visit)."""
    return with_modes(sample_visit(zone_name))


def _cost(name: str) -> tuple[bool, int]:
    """What a name costs in an SMS: outside GSM-7 first (it turns the whole SMS into UCS-2), then length."""
    size = sms_size(sms_plain(name))
    return size.encoding != "GSM-7", size.units


def costliest_names(locale: Locale) -> tuple[set[int], set[int]]:
    """The weekdays (0 = Monday) and months (1-12) whose names cost most in an SMS, in the
    abbreviated form (an SMS's short date) and the wide one (an email's full date)."""
    weekdays: set[int] = set()
    months: set[int] = set()
    for width in ("abbreviated", "wide"):
        days = locale.days["format"][width]
        weekdays.add(max(range(7), key=lambda d: _cost(days[d])))
        names = locale.months["format"][width]
        months.add(max(range(1, 13), key=lambda m: _cost(names[m])))
    return weekdays, months


def worst_starts(locale: Locale, zone_name: str) -> list[datetime]:
    """Visit starts (UTC) on the costliest weekday-and-month pairs, each on a two-digit day,
    at the clock time this locale writes longest (10:45 or 22:45: "10:45 p. m.")."""
    local = zone(zone_name)
    clock = max((time(10, 45), time(22, 45)),
                key=lambda t: _cost(format_clock(datetime.combine(date(SAMPLE_YEAR, 1, 1), t), locale)))
    weekdays, months = costliest_names(locale)
    starts = []
    for month in sorted(months):
        for weekday in sorted(weekdays):
            day = next(d for d in range(10, 29) if date(SAMPLE_YEAR, month, d).weekday() == weekday)
            moment = datetime.combine(date(SAMPLE_YEAR, month, day), clock, tzinfo=local)
            starts.append(moment.astimezone(UTC))
    return starts


def locale_of(language: str) -> Locale:
    """The locale of a template folder's name; English for a name babel does not know."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def worst_visits(settings: Settings, language: str) -> list[Visit]:
    """The worst-case patient visits for one language: each costly date with each accented name."""
    locale = locale_of(language)
    clinic = settings.clinic
    location = max([*clinic.places, SAMPLE_LOCATION], key=len)
    visits = []
    for start in worst_starts(locale, clinic.timezone):
        for patient in SAMPLE_PATIENTS:
            visits.append(Visit("demo", "A1001", start, start + timedelta(minutes=30), clinic.timezone, 2,
                                "Annual physical", location, SAMPLE_DOCTOR, patient))
    return visits


def describe(visit: Visit, language: str) -> str:
    """"sáb, 25 sept, 22:45, Lucía": what made the sample the worst, as the template saw it."""
    locale = locale_of(language)
    local = visit.start.astimezone(zone(visit.timezone))
    name = (visit.patient_name or "").split()[0]
    return f"{short_day(local, locale)}, {format_clock(local, locale)}, {name}"
