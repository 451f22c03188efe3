"""The `fleets:` section: a group of practices as one source template and a list of members.

A dental group with 60 offices on one product, an IT provider with 1,000 small practices: every
source has the same shape and only a few values differ (its name, its database, its zone, its
phone, the name its patients know). Written out, each is a dozen lines of settings.yaml and a
practice is added by editing the big file; as a fleet, a practice is one row of a CSV or YAML list
next to it. The list is expanded here into ordinary connectors (and sites), before the settings
are validated, so every check that applies to a hand-written source applies to every member, and
an error is told as the row and column of the list an admin has to open.

Secrets never go in the list (a spreadsheet is mailed around): a member's ``password`` (any
secret key of its kind) comes from the environment, ``<env_prefix><NAME>_<KEY>``, or from a file
the template names with the member's name in it (``password_file: /run/secrets/{name}``).
"""

from __future__ import annotations

import copy
import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from clinicsync.common.plugins import discover
from clinicsync.common.settings_base import FileRead, SettingsModel, read_file
from clinicsync.connectors.base import Connector
from clinicsync.connectors.registry import GROUP as CONNECTORS_GROUP
from clinicsync.sync.config.config_loader import ConfigError, load_yaml_text
from clinicsync.sync.config.settings.sites import SITE_KEY_PATTERN

# The columns with a meaning of their own; every column (these too) fills its ``{column}`` in the
# template's text values (``url: postgresql://reader@{host}/{database}``). ``label`` is the name
# of a member's own site, never the connector's ``label`` (the system's name, "OpenEMR").
NAME, LABEL, SITE, ZONE, PHONE, URL = "name", "label", "site", "zone", "phone", "url"
FIXED_COLUMNS = (NAME, LABEL, SITE, ZONE, PHONE, URL)
_SECRET_COLUMN = re.compile(r"password|secret|token|_file$|api_key", re.IGNORECASE)
_NAME = re.compile(SITE_KEY_PATTERN)


class FleetSettings(SettingsModel):
    """One fleet: what its members share (``connector``, ``site``) and where the list is."""

    name: str = Field(pattern=SITE_KEY_PATTERN, description="the fleet's name, as errors and logs say it")
    members: Path = Field(description="the list of practices: a CSV file with a header row, or a YAML list of "
                                      "mappings (relative paths are read against the settings folder); one row a "
                                      "practice: name (required), label, site, zone, phone, url, and any column "
                                      "the template names as {column}; `clinicsync run` reads it again when it "
                                      "changes")
    env_prefix: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$",
                                   description="a member's secret keys from the environment: "
                                               "<env_prefix><NAME>_<KEY>, e.g. DENTAL_NORTH_PASSWORD")
    connector: dict[str, Any] = Field(description="the source template: any connector's keys but name and site")
    site: dict[str, Any] | None = Field(None, description="each member is also a site (its key the member's name, "
                                                          "its name the label): the keys every member's site "
                                                          "shares (as `sites:`); unset: members name a `site` "
                                                          "column or none")


@dataclass(frozen=True)
class Origin:
    """Where an expanded connector or site came from: its fleet, list file, row and the column
    each of its keys was filled from (a key missing here came from the template)."""

    fleet: int
    members: str
    row: int
    name: str
    columns: dict[str, str]

    def where(self, key: str | None) -> str:
        """`fleets[0] practices.csv row 3 (north), column url` or `…, fleets[0].connector.query`."""
        at = f"{self.members} row {self.row} ({self.name})"
        if key is None:
            return at
        if key in self.columns:
            return f"{at}, column {self.columns[key]}"
        return f"{at}, from fleets[{self.fleet}].connector.{key}"


@dataclass
class Expansion:
    """The settings data with every fleet's members added as connectors and sites, and where
    each came from (for errors), and the lists as read (for `clinicsync run` to look again)."""

    data: dict[str, Any]
    connectors: dict[int, Origin] = field(default_factory=dict)
    sites: dict[str, Origin] = field(default_factory=dict)
    files: list[FileRead] = field(default_factory=list)


class FleetError(ValueError):
    """Bad fleets: every problem, each naming its fleet, row and column. ``expansion`` holds the
    members that did expand (None when the section itself is malformed), so the settings can
    still be checked and every problem told in one pass, not the rows' first and the values' next."""

    def __init__(self, problems: list[str], expansion: Expansion | None = None) -> None:
        self.problems = problems
        self.expansion = expansion
        super().__init__("; ".join(problems))


def expand_fleets(data: dict[str, Any], base_dir: Path) -> Expansion:
    """``data`` with its `fleets:` members added to `connectors:` (and `sites:`). Raises
    FleetError with every problem found: all rows are looked at, never only the first."""
    fleets = data.get("fleets")
    if not fleets:
        return Expansion(data)
    if not isinstance(fleets, list):
        raise FleetError(["fleets: a list of fleets (- name: …, members: …, connector: {…})"])
    connectors = list(data.get("connectors") or [])
    sites = dict(data.get("sites") or {})
    expansion = Expansion(data)
    taken = {item.get("name"): f"connectors[{i}]" for i, item in enumerate(connectors) if isinstance(item, dict)}
    problems: list[str] = []
    for index, fleet in enumerate(fleets):
        problems += _expand_one(index, fleet, base_dir, connectors, sites, taken, expansion)
    expansion.data = {**data, "connectors": connectors, **({"sites": sites} if sites else {})}
    if problems:
        raise FleetError(problems, expansion)
    return expansion


def _expand_one(index: int, fleet: Any, base_dir: Path, connectors: list[Any], sites: dict[str, Any],
                taken: dict[Any, str], expansion: Expansion) -> list[str]:
    at = f"fleets[{index}]"
    if not isinstance(fleet, dict) or not isinstance(fleet.get("connector"), dict) or not fleet.get("members"):
        return [f"{at}: needs members: (a CSV or YAML list) and connector: (the source template)"]
    template: dict[str, Any] = fleet["connector"]
    site_template = fleet.get("site")
    wrong = [key for key in (NAME, SITE) if key in template]
    if wrong:
        return [f"{at}.connector.{wrong[0]}: comes from each member's row, not the template"]
    if site_template is not None and not isinstance(site_template, dict):
        return [f"{at}.site: a mapping of the keys every member's site shares (or {{}})"]
    path = base_dir / str(fleet["members"])
    try:
        raw, read = read_file(path)
    except OSError as exc:
        return [f"{at}.members: cannot read {path}: {exc.strerror}"]
    expansion.files.append(read)
    label = Path(str(fleet["members"])).name
    try:
        rows = _rows(raw, path)
    except ValueError as exc:
        return [f"{at}.members ({label}): {exc}"]
    secret_keys, zone_key = _kind_keys(template.get("kind"))
    problems: list[str] = []
    for row, values in rows:
        where = f"{label} row {row}"
        secret = next((column for column in values if _SECRET_COLUMN.search(column) or column in secret_keys), None)
        if secret is not None:
            problems.append(f"{where}, column {secret}: secrets never go in the list; set "
                            f"{fleet.get('env_prefix') or '<env_prefix>'}<NAME>_{secret.upper()} in the environment "
                            f"or name a file in the template ({secret.removesuffix('_file')}_file: …/{{name}})")
            break  # the same column on every row: said once
        name = values.get(NAME, "")
        if not _NAME.match(name):
            problems.append(f"{where}, column name: {'missing' if not name else repr(name[:64])}; a member's name is "
                            "lowercase letters, digits, - and _ (it names its source and site)")
            continue
        if name in taken:
            problems.append(f"{where}, column name: {name!r} is also the name of {taken[name]}; names are unique")
            continue
        taken[name] = f"{label} row {row}"
        connector, columns = _filled(template, values)
        connector[NAME] = name
        if values.get(URL):
            connector[URL], columns[URL] = values[URL], URL
        if values.get(ZONE) and zone_key:
            connector[zone_key], columns[zone_key] = values[ZONE], ZONE
        _secrets_from_env(connector, name, fleet.get("env_prefix"), secret_keys)
        origin = Origin(index, label, row, name, columns)
        if values.get(SITE):
            connector[SITE], columns[SITE] = values[SITE], SITE
        elif site_template is not None:
            if name in sites and name not in expansion.sites:
                problems.append(f"{where}, column name: {name!r} is also a key of sites:; names are unique")
                continue
            connector[SITE] = name
            site, site_columns = _filled(site_template, values)
            site.update({key: values[column] for key, column in (("name", LABEL), ("phone", PHONE),
                                                                  ("timezone", ZONE)) if values.get(column)})
            site.setdefault("name", name)
            site_columns.update({"name": LABEL, "phone": PHONE, "timezone": ZONE})
            sites[name] = site
            expansion.sites[name] = Origin(index, label, row, name, site_columns)
        expansion.connectors[len(connectors)] = origin
        connectors.append(connector)
    return problems


def _rows(raw: bytes, path: Path) -> list[tuple[int, dict[str, str]]]:
    """The list's rows as (row number an admin sees, {column: value}), empty cells left out.
    A CSV's row number is its line (the header is row 1); a YAML list's, its item (1-based)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text; save the list as UTF-8") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:  # read as settings.yaml is: the same bounds on depth and aliases, the same errors
            items = load_yaml_text(text, path.name).data
        except ConfigError as exc:
            raise ValueError("; ".join(exc.problems)) from None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValueError("a YAML list of mappings (- name: north, url: …)")
        return [(number, {str(k): str(v) for k, v in item.items() if v is not None and str(v) != ""})
                for number, item in enumerate(items, start=1)]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or NAME not in [column.strip() for column in reader.fieldnames]:
        raise ValueError("the first row names the columns, one of them `name`")
    rows = []
    for line in reader:
        values = {str(k).strip(): v.strip() for k, v in line.items() if k is not None and isinstance(v, str)}
        if any(values.values()):
            rows.append((reader.line_num, {k: v for k, v in values.items() if v}))
    return rows


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _filled(template: dict[str, Any], values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``template`` with each ``{column}`` of its text replaced by the row's value,
    and which column filled each top-level key (the first one named in it)."""
    columns: dict[str, str] = {}

    def fill(value: Any, key: str) -> Any:
        if isinstance(value, str):
            def replace(match: re.Match[str]) -> str:
                if match[1] not in values:
                    return match[0]  # not a column of this row: left as written
                columns.setdefault(key, match[1])
                return values[match[1]]
            return _PLACEHOLDER.sub(replace, value) if "{" in value else value
        if isinstance(value, dict):
            return {k: fill(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v, key) for v in value]
        return copy.copy(value)

    return {key: fill(value, key) for key, value in template.items()}, columns


def _kind_keys(kind: Any) -> tuple[frozenset[str], str | None]:
    """The secret keys of a connector kind and its key for the zone of its times (None: it has
    none), from its settings model; nothing for a kind that does not exist (the model says so)."""
    if not isinstance(kind, str):
        return frozenset(), None
    try:
        found = discover(CONNECTORS_GROUP, Connector, {kind})
    except (KeyError, ValueError, LookupError):
        return frozenset(), None
    model = next(iter(found.values())).settings_model if found else None
    if model is None:
        return frozenset(), None
    fields = model.model_fields
    secrets = frozenset(name for name, f in fields.items() if f.annotation in (SecretStr, SecretStr | None))
    return secrets, "timezone" if "timezone" in fields else None


def _secrets_from_env(connector: dict[str, Any], name: str, prefix: str | None, keys: frozenset[str]) -> None:
    """Each secret key the template leaves unset, from ``<prefix><NAME>_<KEY>`` when set."""
    if not prefix:
        return
    for key in keys:
        if key in connector or f"{key}_file" in connector:
            continue
        value = os.environ.get(f"{prefix}{name.upper().replace('-', '_')}_{key.upper()}")
        if value:
            connector[key] = value
