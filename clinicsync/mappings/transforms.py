"""Value transforms a mapping field can name (``type:``). Pure, no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache, lru_cache
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from clinicsync.common.timeutil import TimeError, parse_datetime, zone
from clinicsync.common.vocabulary import CHANNELS
from clinicsync.mappings.model import quoted_zone

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HL7_DTM = re.compile(r"(\d{12}(?:\d{2}(?:\.\d{1,4})?)?)(?:([+-])(\d{2})(\d{2}))?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_MINUTES_PER_UNIT = {
    "": 1, "m": 1, "min": 1, "mins": 1, "minute": 1, "minutes": 1,
    "s": 1 / 60, "sec": 1 / 60, "secs": 1 / 60, "second": 1 / 60, "seconds": 1 / 60,
    "h": 60, "hr": 60, "hrs": 60, "hour": 60, "hours": 60,
    "d": 1440, "day": 1440, "days": 1440,
}
# Control characters no stored text keeps: C0 but tab and line feed, DEL, C1, and lone
# surrogates (a JSON source can escape one). PostgreSQL refuses NUL and unpaired surrogates
# in text outright; the others only hide data or break the exports and messages built on it.
_CONTROL = re.compile("\r\n?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_TRUE = {"1", "true", "yes", "y", "t", "on"}
_FALSE = {"0", "false", "no", "n", "f", "off"}


class TransformError(ValueError):
    pass


def _control(match: re.Match[str]) -> str:
    found = match.group()
    if found[0] == "\r":
        return "\n"  # CR LF and a lone CR are line breaks: one form, LF
    return "\ufffd" if "\ud800" <= found <= "\udfff" else ""


def clean_text(value: str) -> str:
    """``value`` without control characters (see ``_CONTROL``), line breaks as LF. Every
    source's text passes here before any conversion, so no store, export or message sees
    a NUL or a stray escape code. Printable text (nearly all) returns as it came."""
    if value.isprintable():
        return value
    return _CONTROL.sub(_control, value)


def as_string(value: Any) -> str:
    return str(value).strip()


def as_integer(value: Any) -> int:
    try:
        return int(float(str(value).strip()))
    except (ValueError, OverflowError):  # "abc", "nan", "1e400"
        raise TransformError("not a whole number") from None


def as_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError("not yes/no")


def as_email(value: Any) -> str:
    text = str(value).strip()
    if not _EMAIL.match(text):
        raise TransformError("not a valid email address")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


@cache
def _phonenumbers() -> ModuleType:
    """phonenumbers, imported on the first number read: a run that reads none (an idle cron
    `sync --once`) does not load its ~60 modules.

    phonenumbers compiles its metadata patterns by string through re.compile, whose cache holds
    512: a mix of regions overflows it and each number recompiled its patterns (69 -> 42 us a
    number off the fast path, measured on 15 regions' example numbers). Its own unbounded cache
    holds one compiled pattern per metadata string, a bounded set. Process-wide, by design."""
    import phonenumbers

    phonenumbers.enable_pattern_cache()
    return phonenumbers


def phone_parser(region: str) -> Callable[[Any], str]:
    def as_phone(value: Any) -> str:
        text = str(value).strip()
        if ":" in text:  # no other character lowercases to ':'; a plain number skips both lower()s
            for scheme in ("whatsapp:", "tel:"):  # a WhatsApp address, a tel: URI (RFC 3966)
                if text.lower().startswith(scheme):
                    text = text[len(scheme):]
        plain = _plain_nanp(region)  # cached per region, looked up on the first number (phonenumbers' import)
        if plain is not None:
            e164 = plain(text)
            if e164 is not None:
                return e164
        try:
            return _phone_e164(text, region)
        except TransformError:
            several = [part for part in _CELL_SEPARATORS.split(text) if sum(c.isdigit() for c in part) >= 6]
            found = _first_mobile(several, region) if len(several) > 1 else None
            if found is None:
                raise
            return found

    return as_phone


# Between the numbers of one cell, as clinics type them: "0772 100001 / 0701 222333",
# "91 555 12 34; 612 345 678", "612 345 678, 91 555 12 34", "612 345 678 or 91 555 12 34": a
# slash with a space beside it, a comma with one after it, a semicolon, "or". Read only when the
# whole cell is not one number and it splits into two parts or more of six digits or more, so a
# slash inside one number (Germany's "030/1234567") or a comma before its extension stays that
# one number's.
_CELL_SEPARATORS = re.compile(r"\s+/\s*|\s*/\s+|\s*;\s*|\s*,\s+|\s+or\s+", re.IGNORECASE)


# The store's column for a patient's fallback numbers (patient.fallback_phones).
FALLBACK_PHONES_LIMIT = 255


class PhoneCell(str):
    """A cell of several numbers, read as the one a message goes to (the string itself, E.164)
    with the cell's other valid numbers in ``fallbacks``: E.164, in the cell's order, one space
    between them. Only the patient's phone keeps them (``split_phone``): the desk shows them,
    and reminders turn to them when the first number is known bad."""

    fallbacks: str


def split_phone(value: Any) -> tuple[Any, str | None]:
    """A mapped phone as the patient stores it: the number itself (a plain ``str``) and the
    fallback numbers of its cell (``PhoneCell``), None when the cell held one number."""
    if type(value) is PhoneCell:
        return str.__str__(value), value.fallbacks
    return value, None


def _texts(e164: str) -> bool:
    """Whether a number can take a text message: a mobile, or one its region's plan does not tell
    from a landline (North America's)."""
    phonenumbers = _phonenumbers()
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def texts_to(value: str, region: str) -> bool:
    """Whether ``value`` (as typed, read in ``region``) is a number a text message reaches."""
    try:
        return _texts(_phone_e164(value, region))
    except TransformError:
        return False


def _first_mobile(parts: list[str], region: str) -> str | None:
    """The number a message goes to from a cell of several: the first mobile, else the first
    valid one, else None (the cell is refused as one number is); the cell's other valid
    numbers come with it as its fallbacks (a ``PhoneCell``; docs/mappings.md, "Phone cells")."""
    numbers: list[str] = []
    chosen: str | None = None
    for part in parts:
        try:
            e164 = _phone_e164(part, region)
        except TransformError:
            continue
        if e164 in numbers:
            continue
        numbers.append(e164)
        if chosen is None and _texts(e164):
            chosen = e164
    if not numbers:
        return None
    chosen = chosen or numbers[0]
    if len(numbers) == 1:
        return chosen
    cell = PhoneCell(chosen)
    kept: list[str] = []
    for number in numbers:  # as many as the store's column holds (16 of the longest numbers)
        if number != chosen and sum(len(n) + 1 for n in kept) + len(number) <= FALLBACK_PHONES_LIMIT:
            kept.append(number)
    cell.fallbacks = " ".join(kept)
    return cell


def _phone_e164(text: str, region: str) -> str:
    """phonenumbers' reading of ``text``: parsed for ``region``, valid, as E.164 (the reference)."""
    phonenumbers = _phonenumbers()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise TransformError(f"not a phone number (region {region})") from None
    if not phonenumbers.is_valid_number(number):
        raise TransformError(f"not a valid phone number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A North American number as exports write it, ASCII digits only: (212) 555-0123, 212-555-0123,
# 212.555.0123, 2125550123, +1 212 555 0123, +1 (212) 555-0123, +12125550123. The area code
# starts with 2-9, so neither a leading 1 (the national prefix, the country code) nor 011 (the
# international prefix) can be read into it.
_NANP_SHAPE = re.compile(r"(\+1[ .-]?)?(?:\(([2-9][0-9]{2})\) ?|([2-9][0-9]{2})[ .-]?)([0-9]{3})[ .-]?([0-9]{4})")


@cache  # per region: its patterns compiled once (metadata does not change in a process)
def _plain_nanp(region: str) -> Callable[[str], str | None] | None:
    """A fast path for the plainest numbers of the North American plan (``_NANP_SHAPE``; a
    national one only where ``region`` dials +1 with the 011 prefix), giving exactly what
    ``_phone_e164`` gives, else None, and then ``_phone_e164`` decides. Why: phonenumbers
    costs ~30 µs a number and a first import meets each patient's number once.

    Why it is the same, step by step through phonenumbers.parse for such a text: the possible
    number starts at the first digit or the plus sign and ends at the last digit, with no
    extension (no mark such as ext, x, # or a comma); a '+' then '1' is country code 1
    (its metadata: the plan's main region's); else, with no '011' and no leading '1', the
    region's country code 1 applies. Its national prefix is stripped only when its pattern
    matches the ten digits, which is checked here (the digits then go to phonenumbers). So
    the number is country code 1 with the ten digits. is_valid_number reads it in the first
    region of +1 whose type patterns match it (the main region has no leading digits), then
    asks that region's patterns again: when the main region's match (``_valid_ten_digits``:
    is_valid_number_for_region), the number is valid; else phonenumbers decides. E.164 is
    '+1' and the digits. tests/mappings/test_phone_fast_path.py checks all of it against
    phonenumbers itself (generated numbers, W1's export, the fixtures, each region's examples)."""
    phonenumbers = _phonenumbers()
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    plan = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ())
    main = phonenumbers.PhoneMetadata.metadata_for_region(plan[0], None) if plan else None
    if metadata is None or main is None or main.leading_digits is not None or main.country_code != 1:
        return None
    national = metadata.country_code == 1 and metadata.international_prefix == "011"
    # The metadata whose national prefix parse strips: the region's own for a national number,
    # for '+1' the main region's (parse switches to it unless the region is that one).
    own = _prefix(metadata if metadata.country_code == 1 else None)
    main_prefix = _prefix(main)
    valid = _valid_ten_digits(main)

    def plain(text: str) -> str | None:
        match = _NANP_SHAPE.fullmatch(text)
        if match is None:
            return None
        plus, bracketed, bare, exchange, line = match.groups()
        if plus is None and not national:
            return None
        digits = (bracketed or bare) + exchange + line
        prefix = main_prefix if plus is not None else own
        if prefix is not None and prefix.match(digits) is not None:
            return None
        if not valid(digits):
            return None
        return "+1" + digits

    return plain


# The number types phonenumbers' _number_type_helper tries after the general pattern, in its order.
_TYPED = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line")


def _valid_ten_digits(metadata: Any) -> Callable[[str], bool]:
    """Whether ten digits are a number of some type in ``metadata``: what
    ``phonenumbers.is_valid_number_for_region`` answers for them with country code 1 and that
    region (its ``_number_type_helper`` is not UNKNOWN), with the patterns of the types that
    admit ten digits compiled once into one (3.7 µs a number -> ~0.5). A type is matched when
    its possible lengths (if any) hold 10 and its pattern matches all the digits; mobile counts
    only when its pattern differs from fixed line's, as there."""
    def admits(desc: Any) -> bool:
        return (desc is not None and bool(desc.national_number_pattern)
                and (not desc.possible_length or 10 in desc.possible_length))

    descs = [getattr(metadata, name) for name in _TYPED]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    typed = [f"(?:{desc.national_number_pattern})" for desc in descs if admits(desc)]
    general = metadata.general_desc
    if not typed or not admits(general):
        return lambda _digits: False
    whole, some_type = re.compile(general.national_number_pattern), re.compile("|".join(typed))
    return lambda digits: whole.fullmatch(digits) is not None and some_type.fullmatch(digits) is not None


def _prefix(metadata: Any) -> re.Pattern[str] | None:
    """The national prefix phonenumbers.parse would strip for ``metadata`` (a pattern it
    matches at the start of the digits), None when it strips none."""
    if metadata is None:
        return None
    pattern = metadata.national_prefix_for_parsing
    return re.compile(pattern) if pattern else None


@cache
def _language_names() -> dict[str, str]:
    names = Locale("en").languages
    return {name.lower(): code for code, name in names.items()}


def as_language(value: Any) -> str:
    """'es', 'ES', 'es_MX', 'Spanish', 'spa' -> 'es' / 'es-MX' (BCP 47). A region is kept
    only when the value names one (babel would add a likely one to 'spa': es_ES)."""
    return _language_tag(str(value).strip())


# Distinct language values remembered. Not unbounded: babel takes any script subtag
# ('es-Abcd', 'es-Abce', …: 456,976 per language, before case), so a source's values
# are not a closed set, and an unbounded cache grew with every new one for the
# process's life. A feed's handful of real values stay in it.
LANGUAGE_MEMO = 1024


@lru_cache(maxsize=LANGUAGE_MEMO)
def _language_tag(text: str) -> str:
    """Cached: babel's parse costs ~0.5 ms, and a feed repeats a handful of values."""
    code = _language_names().get(text.lower(), text).replace("-", "_")
    try:
        locale = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        raise TransformError("not a known language") from None
    territory = locale.territory if "_" in code else None
    return f"{locale.language}-{territory}" if territory else locale.language


def as_timezone(value: Any) -> str:
    """An IANA zone name, checked here (not after every field is read) so that a field's
    ``on_invalid: drop`` can pass over a zone a source states wrongly to the next path. The
    value is shown only when it looks like a zone name (a shifted column may hold PHI)."""
    text = str(value).strip()
    try:
        zone(text)
    except TimeError:
        raise TransformError(f"unknown IANA time zone {quoted_zone(text)} (e.g. America/Chicago)") from None
    return text


def as_channel(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in CHANNELS:
        raise TransformError(f"unknown channel (use one of {sorted(CHANNELS)})")
    return text


_ACCEPTED = {"confirmed", "confirm", "accepted", "accept", "yes", "y", "c", "true", "1"}
_DECLINED = {"declined", "decline", "refused", "no", "n", "x", "false", "0"}


def as_answer(value: Any) -> str:
    """A patient's answer recorded at the source: confirmed -> accepted, declined -> declined
    (FHIR participant status). Other words need the field's ``map:``."""
    text = str(value).strip().lower()
    if text in _ACCEPTED:
        return "accepted"
    if text in _DECLINED:
        return "declined"
    raise TransformError("not an answer (confirmed or declined; map the source's words with map:)")


def datetime_parser(formats: tuple[str, ...]) -> Callable[[Any], datetime]:
    def as_datetime(value: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_datetime(str(value), formats)
        except TimeError as exc:
            raise TransformError(str(exc)) from None

    return as_datetime


# Unix times a visit can have: 2000-01-01 to 2100-01-01 (a smaller number is a duration, a
# counter or a time in milliseconds' clothing; a larger one is milliseconds).
UNIX_SECONDS_RANGE = (946_684_800, 4_102_444_800)


def as_unix_seconds(value: Any) -> datetime:
    """Seconds since 1970-01-01 UTC (PHP's ``strtotime``, NOSH's ``schedule.start``): the instant
    itself, so neither the source's zone nor ``stored_times`` applies. A whole number only; one
    outside 2000-2100 is refused (milliseconds, or not a time at all)."""
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if not text.lstrip("+-").isdigit():
        raise TransformError("not a Unix time (whole seconds since 1970-01-01 UTC)")
    seconds = int(text)
    low, high = UNIX_SECONDS_RANGE
    if not low <= seconds < high:
        raise TransformError("a Unix time outside 2000-2100 (milliseconds? then it is not seconds)")
    return datetime.fromtimestamp(seconds, UTC)


def as_minutes_from_seconds(value: Any) -> int:
    """A duration counted in seconds (OpenEMR's pc_duration), as whole minutes rounded up."""
    seconds = as_integer(value)
    if seconds < 0:
        raise TransformError("a negative duration")
    return math.ceil(seconds / 60)


MAX_HOURS = 24  # a length in hours beyond a day is a misread column, not a visit


def as_minutes_from_hours(value: Any) -> int:
    """A duration counted in decimal hours (Odoo's ``calendar_event.duration`` and modules'
    ``planned_duration``: 0.25, 0.5, 1.0), as whole minutes, to the nearest (1/3 h: 20)."""
    if isinstance(value, bool):
        raise TransformError("not a number of hours")
    try:
        hours = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise TransformError("not a number of hours") from None
    if not 0 <= hours <= MAX_HOURS:  # NaN fails both sides too
        raise TransformError(f"not a number of hours from 0 to {MAX_HOURS}")
    return round(hours * 60)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise TransformError("not a date (expected YYYY-MM-DD)") from None


def _as_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise TransformError("not a time of day (expected HH:MM or HH:MM:SS)") from None


def combine_date_time(day: Any, clock: Any) -> datetime:
    """A date column and a time-of-day column (as many practice systems store them)
    joined into one naive wall-clock date-time; the mapping then localizes it."""
    moment = _as_time(clock)
    if moment.tzinfo is not None:
        raise TransformError("a time of day with an offset is not supported; give a local time")
    return datetime.combine(_as_date(day), moment)


MINUTES_A_DAY = 24 * 60


def combine_date_minutes(day: Any, minutes: Any) -> datetime:
    """A date column and a count of minutes since that day's midnight (LatePoint's
    ``start_time`` 540 is 09:00) joined into one naive wall-clock date-time, as
    ``combine_date_time`` joins a time of day; 1440 is the next midnight (an end)."""
    count = as_integer(minutes)
    if not 0 <= count <= MINUTES_A_DAY:
        raise TransformError(f"not a count of minutes since midnight (0 to {MINUTES_A_DAY})")
    return datetime.combine(_as_date(day), time()) + timedelta(minutes=count)


def as_hl7_datetime(value: Any) -> datetime:
    """HL7 v2 DTM, 'YYYYMMDDHHMM[SS[.S…]][+/-ZZZZ]': aware with an offset, else naive
    (the mapping's zone applies). Dates without a time of day are refused."""
    if isinstance(value, datetime):
        return value
    match = _HL7_DTM.fullmatch(str(value).strip())
    if match is None:
        raise TransformError("not an HL7 date-time (expected YYYYMMDDHHMM[SS][+/-ZZZZ])")
    wall, sign, hours, minutes = match.groups()
    import hl7  # here: a mapping that reads no HL7 time need not load it (an idle `sync --once`)

    try:
        parsed: datetime = hl7.parse_datetime(wall)
    except ValueError:
        raise TransformError("not a valid HL7 date-time") from None
    if sign is None:
        return parsed
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24) or int(minutes) > 59:
        raise TransformError("not a valid HL7 time zone offset")
    return parsed.replace(tzinfo=timezone(-offset if sign == "-" else offset))


_CLOCK_LENGTH = re.compile(r"(\d{1,2}):([0-5]\d)(?::00)?")


def as_duration_minutes(value: Any) -> int:
    """'379 MIN', '50 min', '2 hours', '90 s', '45' (minutes), '1:30' (hours and minutes, as
    hospital systems keep an estimated length) -> whole minutes, rounded up."""
    clock = _CLOCK_LENGTH.fullmatch(str(value).strip())
    if clock is not None:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    match = _DURATION.fullmatch(str(value).strip().lower())
    if match is None or match.group(2) not in _MINUTES_PER_UNIT:
        raise TransformError("not a duration (a number and a unit such as min, h, s)")
    return math.ceil(float(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)] - 1e-9)


# A visit mode's words, as sources write them: FHIR R5 service-mode codes (in-person,
# telephone, videoconference), the virtual-service-type codes (zoom, ms-teams, whatsapp),
# v3 ActCode encounter classes (AMB, VR) and the words front desks type.
_MODE_WORDS = {
    "in_person": {"in_person", "in-person", "in person", "inperson", "office", "clinic", "onsite", "on-site",
                  "on site", "face to face", "face-to-face", "amb", "ambulatory"},
    "video": {"video", "videoconference", "video visit", "video call", "telehealth", "telemedicine", "virtual",
              "vr", "zoom", "ms-teams", "teams", "whatsapp", "meet", "google meet", "webex", "online"},
    "phone": {"phone", "telephone", "phone call", "audio", "audio only", "audio-only", "voice", "call", "tel"},
}
_MODE_BY_WORD = {word: mode for mode, words in _MODE_WORDS.items() for word in words}
# Vendor codes name their product: "twilio-video-group-rooms", "Patient Virtual Meeting Room".
_MODE_HINTS = (("video", "video"), ("virtual", "video"), ("telephon", "phone"), ("phone", "phone"))
URL_LIMIT = 2048


def as_visit_mode(value: Any) -> str:
    """A visit mode: ``in_person``, ``video`` or ``phone``. Besides the words above, a code
    that names video (or a virtual room) or a telephone counts, an http(s) join link reads as
    video and a ``tel:`` URI as phone (a path to a join link is a marker of a video visit).
    A JSON document is none, even one that mentions a phone.
    Anything else is not a mode (dropped with a note; map the source's words with ``map:``)."""
    text = " ".join(str(value).strip().lower().replace("_", " ").split())
    found = _MODE_BY_WORD.get(text) or _MODE_BY_WORD.get(text.replace(" ", "_"))
    if found:
        return found
    if text.startswith(("https://", "http://")):
        return "video"
    if text.startswith("tel:"):
        return "phone"
    if text.startswith(("{", "[")):  # a JSON document (a form's settings) that mentions a phone is no mode
        raise TransformError("not a visit mode (a JSON document; map the source's words with map:)")
    for hint, mode in _MODE_HINTS:
        if hint in text:
            return mode
    raise TransformError("not a visit mode (in_person, video or phone; map the source's words with map:)")


def as_join_url(value: Any) -> str:
    """A join link: an absolute https URL with a host, no spaces, at most 2048 characters.
    Anything else (http, javascript:, a bare meeting id) is refused: the link goes into
    patients' messages and calendars, where only a secure, well-formed link belongs."""
    text = str(value).strip()
    if len(text) > URL_LIMIT:
        raise TransformError(f"a link longer than {URL_LIMIT} characters")
    try:
        parsed = urlsplit(text)
        host = parsed.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise TransformError("not an https link") from None
    if parsed.scheme.lower() != "https" or not host or any(c.isspace() for c in text):
        raise TransformError("not an https link")
    return text


def transform_for(kind: str, region: str, datetime_formats: tuple[str, ...]) -> Callable[[Any], Any]:
    table: dict[str, Callable[[Any], Any]] = {
        "string": as_string,
        "integer": as_integer,
        "boolean": as_boolean,
        "email": as_email,
        "phone": phone_parser(region),
        "language": as_language,
        "timezone": as_timezone,
        "channel": as_channel,
        "answer": as_answer,
        "visit_mode": as_visit_mode,
        "url": as_join_url,
        "datetime": datetime_parser(datetime_formats),
        "duration_seconds": as_minutes_from_seconds,
        "duration_hours": as_minutes_from_hours,
        "hl7_datetime": as_hl7_datetime,
        "unix_seconds": as_unix_seconds,
        "duration": as_duration_minutes,
    }
    if kind not in table:
        raise ValueError(f"unknown type {kind!r}; known: {sorted(table)}")
    return table[kind]
