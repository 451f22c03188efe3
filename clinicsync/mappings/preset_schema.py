"""What a mapping preset may say: the fields an appointment has (``TARGETS``), the ones it
cannot be stored without (``CORE_FIELDS``), and the preset's schema (``FieldSpec``,
``MappingPreset``) that a YAML file is validated against before engine.py compiles it.
Kept apart from the compiler so that the schema reads as the reference docs/mappings.md
describes, without the generated code around it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PATIENT_FIELDS = {"external_id", "name", "phone", "email", "language", "channel", "allow_sms", "allow_email"}
PRACTITIONER_FIELDS = {"external_id", "name", "email"}
TARGETS = frozenset(
    {"external_id", "status", "start", "end", "duration_minutes", "timezone", "type", "location",
     "source_updated_at", "answer", "visit_mode", "join_url", "provider_join_url", "dial_in",
     "cancel_reason", "booked_at", "replaces"}
    | {f"patient.{f}" for f in PATIENT_FIELDS}
    | {f"practitioner.{f}" for f in PRACTITIONER_FIELDS}
)

# Fields an appointment cannot be stored or scheduled without: an unusable value here
# quarantines the record. Every other field is optional (dropped with a note).
CORE_FIELDS = frozenset({"external_id", "status", "start", "end", "duration_minutes", "timezone",
                         "patient.external_id", "practitioner.external_id"})


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | list[str] | None = Field(None, alias="from", description="path, or paths tried in order")
    column: str | list[str] | None = Field(
        None, description="a column name taken as written (dots, brackets, spaces and all), or names tried "
                          "in order: for flat rows whose names the path language would split")
    concat: list[str] | None = Field(
        None, description="paths whose values (every value of a list) are joined with a space; "
                          "with from: the fallback when no from path has a usable value")
    date: str | None = Field(None, description="path of a date; with `time:` read as one local date-time")
    time: str | None = Field(None, description="path of a time of day, combined with `date:`")
    time_unit: Literal["clock", "minutes", "hhmmss", "hhmm"] = Field(
        "clock", description="what `time:` holds: a time of day (clock), whole minutes since that day's "
                             "midnight (minutes: 540 is 09:00, as booking plugins keep it), or a clock written as "
                             "a whole number (hhmmss: 93000 is 09:30:00; hhmm: 930 is 09:30), where a negative "
                             "number is no time of day")
    value: Any = Field(None, description="a constant")
    type: str | None = None
    map: dict[str, Any] | None = Field(
        None, description="value map, matched case-insensitively; null passes over to the next path")
    default: Any = None
    required: bool = False
    fix: str | None = Field(None, description="how to fix a record that lacks this required field, "
                                              "added to its quarantine reason")
    quote: bool = Field(False, description="the values are codes, never patient data: a quarantine reason "
                                           "or a data-quality note may name them")
    fallback: FieldSpec | None = Field(
        None, description="read (its own from/map; the field's type unless it gives its own) when this field's "
                          "paths give no usable value; when a value was dropped for it, the appointment gets a "
                          "note, and without a fallback value the record is quarantined with the dropped value's "
                          "reason; a fallback value the type cannot read is named in a note (or the reason)")
    on_invalid: Literal["quarantine", "drop"] | None = Field(
        None, description="quarantine the record, or drop just this value (the next path is tried; with "
                          "none left the field is absent and the appointment carries a data-quality note). "
                          "Default: quarantine for required and core fields (id, status, times, zone), "
                          "drop for every other field")

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.date is None) != (self.time is None):
            raise ValueError("`date:` and `time:` go together")
        if self.time_unit != "clock" and self.time is None:
            raise ValueError("`time_unit:` says what `time:` holds: give it with `date:` and `time:`")
        # from + concat is allowed: concat is then the fallback when no from path has a value.
        given = [k for k, v in (("from/concat", self.from_ or self.concat), ("column", self.column),
                                ("date", self.date), ("value", self.value)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one of from (with concat)/column/date+time/value, not {' and '.join(given)}")
        return self


class MappingPreset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    extends: str | None = None
    datetime_formats: list[str] = Field(default_factory=list)
    status_map: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
