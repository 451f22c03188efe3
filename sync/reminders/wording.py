"""Words a clinic writes once per language and messages show in the patient's: a visit
type's name (``reminders.types.<type>.names``) and a place's instructions (a plain string,
or ``{language: text}``). Issue 30, obs 12: Spanish messages showed English visit types and
instructions."""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale

from clinicsync.sync.settings.reminders import RemindersSettings


def in_language(value: object, locale: Locale) -> str | None:
    """``value`` for this locale: a string as it is; from ``{tag: text}`` the locale's tag
    (es-MX), then its language (es), then ``default``, then the first entry (words in
    another language beat no instructions at all)."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping) or not value:
        return None
    texts = {str(k).replace("_", "-").lower(): str(v) for k, v in value.items() if v}
    tag = str(locale).replace("_", "-").lower()
    for key in (tag, locale.language, "default"):
        if key in texts:
            return texts[key]
    return next(iter(texts.values()), None)


def type_name(config: RemindersSettings, visit_type: str | None, locale: Locale) -> str | None:
    """The visit type as the patient's language names it, else as the source stores it."""
    if not visit_type:
        return visit_type
    override = config.types.get(visit_type)
    names = override.names if override is not None else None
    if not names:
        return visit_type
    tag = str(locale).replace("_", "-").lower()
    lowered = {k.replace("_", "-").lower(): v for k, v in names.items()}
    return lowered.get(tag) or lowered.get(locale.language) or visit_type
