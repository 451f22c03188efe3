"""settings.yaml as pydantic models, loaded with every error collected and located."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection
from functools import cache, reduce
from operator import or_
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, create_model, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from clinicsync.common.plugins import discover, plugin_names
from clinicsync.common.settings_base import FileRead, SettingsModel, base_dir_from
from clinicsync.connectors.base import Connector, ConnectorSettings
from clinicsync.connectors.registry import GROUP as CONNECTORS_GROUP
from clinicsync.connectors.registry import connector_kinds
from clinicsync.notifiers.base import Notifier, NotifierSettings
from clinicsync.notifiers.registry import GROUP as NOTIFIERS_GROUP
from clinicsync.notifiers.registry import notifier_kinds
from clinicsync.sync.config.clinic import ClinicSettings, validate_timezone  # noqa: F401 - re-exported
from clinicsync.sync.config.config_loader import ConfigError, LoadedYaml, format_path, load_yaml_file
from clinicsync.sync.config.settings.calendar import CalendarSettings, CalendarSite
from clinicsync.sync.config.settings.fleets import Expansion, FleetError, FleetSettings, expand_fleets
from clinicsync.sync.config.settings.reminders import QuietHours, RemindersSettings
from clinicsync.sync.config.settings.responses import ResponsesSettings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.config.settings.service import ServiceSettings
from clinicsync.sync.config.settings.sites import SITE_KEY_PATTERN, SiteSettings
from clinicsync.sync.config.settings.suggest import did_you_mean
from clinicsync.sync.config.settings.ui import UiSettings
from clinicsync.sync.config.settings.waitlist import WaitlistSettings

DEFAULT_CONFIG = Path("settings.yaml")
# The sections that configure peers (sources, message channels, the HTTP server, calendars,
# the status page): an unset ${VAR} there matters only to a command that talks to them.
# A settings file without a `notifiers:` key sends through the dry-run outbox, as the docs say
# (docs/notifiers.md): the minimal file of getting-started named none, and every reminder was
# skipped "no reachable channel" while `check` said 0 problems. Its folder is
# the outbox's default, `<settings folder>/.clinicsync/outbox`. `notifiers: []` means none.
DEFAULT_NOTIFIERS: tuple[dict[str, str], ...] = ({"name": "outbox", "kind": "outbox"},)
PEER_SECTIONS = frozenset({"connectors", "notifiers", "server", "calendar", "responses", "ui"})


class StoreSettings(SettingsModel):
    url: str = Field("sqlite:///.clinicsync/clinicsync.db", validate_default=True, description="any SQLAlchemy URL")
    pool_size: int = Field(10, ge=1, le=100, description="connections kept open per process (opened as needed): "
                           "`clinicsync run` with the default service.poll_workers (4), the stages, the reminder "
                           "dispatcher and the HTTP server needs up to 17, this plus max_overflow")
    max_overflow: int = Field(10, ge=0, le=100, description="extra connections allowed at peaks")
    pool_timeout: float = Field(30, gt=0, description="seconds to wait for a free connection")
    echo: bool = False
    future_tolerance_seconds: int = Field(
        300, ge=0, le=86_400, description="how far ahead of this server's clock a source's own `updated_at` may be: "
        "the REST API refuses one further ahead (422), a webhook's is taken as the time it arrived")
    tombstone_days: float = Field(
        30, gt=0, le=3650, description="how long a source's delete is remembered: within it, a copy of the "
        "appointment that is not newer than the delete (a late retry, a reordered webhook) is refused")
    run_history_days: float = Field(
        90, gt=0, le=3650, description="how long the run history (each poll and push: its counts and error) is kept; "
        "a connector's newest successful run is always kept")
    patient_data_days: float = Field(
        365, ge=30, le=3650, description="how long after a visit ended its patient data is kept: then the visit's "
        "patient, telehealth links and cancellation reason, its reminders' recipient and its replies are forgotten, "
        "and the patient's name and contacts once none of their visits is within this window or ahead; the visit's "
        "identity, times and status stay (a source still listing it imports nothing new). The access log is kept")

    @field_validator("url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        """A URL SQLAlchemy can read, with a driver that is installed (never echoing it: it may
        hold a password)."""
        try:
            url = make_url(value)
            url.get_dialect()
        except ArgumentError:
            raise ValueError("not a database URL (e.g. sqlite:///clinicsync.db or "
                             "postgresql://user@host/db)") from None
        except NoSuchModuleError:
            raise ValueError(f"no database driver for {url.drivername!r} is installed "
                             "(sqlite, postgresql and mysql+pymysql are)") from None
        return value

    @field_validator("url")
    @classmethod
    def _relative_sqlite(cls, value: str, info: ValidationInfo) -> str:
        prefix = "sqlite:///"
        if value.startswith(prefix) and not value.startswith(prefix + "/") and ":memory:" not in value:
            return prefix + str(base_dir_from(info) / value[len(prefix):])
        return value


class LoggingSettings(SettingsModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


class SettingsRoot(SettingsModel):
    """Fields shared by every build of the settings model (connectors are added per kind)."""

    clinic: ClinicSettings = ClinicSettings()
    store: StoreSettings = StoreSettings()
    logging: LoggingSettings = LoggingSettings()
    reminders: RemindersSettings = RemindersSettings()
    service: ServiceSettings = ServiceSettings()
    waitlist: WaitlistSettings = WaitlistSettings()
    sites: dict[Annotated[str, Field(pattern=SITE_KEY_PATTERN)], SiteSettings] = Field(
        default_factory=dict, description="the practices of one deployment (key -> name, phone, zone, places, "
                                          "senders, templates, quiet hours); each connector names its `site:`; "
                                          "unset: one practice, the `clinic:` section")
    fleets: list[FleetSettings] = Field(
        default_factory=list, description="groups of practices: a source template and a list of members (CSV or "
                                          "YAML), each member a connector (and a site) of its own")


def _union(models: tuple[type[SettingsModel], ...]) -> Any:
    return reduce(or_, models)


def _plugin_item(models: tuple[type[SettingsModel], ...]) -> Any:
    """One settings model per registered kind, told apart by their ``kind`` key."""
    return models[0] if len(models) == 1 else Annotated[_union(models), Field(discriminator="kind")]


def settings_model(connector_names: Collection[str] | None = None,
                   notifier_names: Collection[str] | None = None) -> type[Settings]:
    """The root model with one variant per registered connector and notifier kind (entry
    points), or only per kind named: a file naming `csv` need not import boto3, sqlglot and
    the FHIR auth stack to be read (`status` in a fraction of a second)."""
    connector_classes = (connector_kinds() if connector_names is None
                         else discover(CONNECTORS_GROUP, Connector, connector_names))
    notifier_classes = (notifier_kinds() if notifier_names is None
                        else discover(NOTIFIERS_GROUP, Notifier, notifier_names))
    return _model_for(tuple(connector_classes.values()), tuple(notifier_classes.values()))


@cache
def _model_for(connector_classes: tuple[type[Connector], ...],
               notifier_classes: tuple[type[Notifier], ...]) -> type[Settings]:
    """Built once per set of kinds: pydantic's create_model costs ~15 ms of CPU, and every
    settings load (each reload of `clinicsync run`, each sync of a test) asked for it anew.
    Keyed by the classes themselves, so a different set of registered kinds gets its own model."""
    connectors = tuple(cls.settings_model for cls in connector_classes) or (ConnectorSettings,)
    notifiers = tuple(cls.settings_model for cls in notifier_classes) or (NotifierSettings,)
    connector_list: Any = list[_plugin_item(connectors)]  # type: ignore[misc]
    notifier_list: Any = list[_plugin_item(notifiers)]  # type: ignore[misc]
    model: type[Settings] = create_model(
        "Settings",
        __base__=Settings,
        connectors=(connector_list, Field(default_factory=list)),
        notifiers=(notifier_list, Field(default_factory=list)),
    )
    return model


class Settings(SettingsRoot):
    """The validated settings. ``connectors`` holds each kind's own settings model."""

    connectors: list[ConnectorSettings] = Field(default_factory=list)
    server: ServerSettings | None = Field(None, description="`clinicsync serve`: listen address, public URL, secrets")
    notifiers: list[NotifierSettings] = Field(
        default_factory=list, description="message channels; without this key, the dry-run outbox "
                                          "(messages written as files under .clinicsync/outbox, nothing sent); "
                                          "`[]`: none")
    notifiers_defaulted: SkipJsonSchema[bool] = Field(
        False, exclude=True, description="the file has no `notifiers:` key: ``notifiers`` is the dry-run outbox "
                                         "(DEFAULT_NOTIFIERS), said by `check` and `remind`")
    calendar: CalendarSettings = Field(default_factory=CalendarSettings, description="doctors' calendars")
    ui: UiSettings | None = Field(None, description="the status page at /ui: who may open it")
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings, description="patients' replies")
    source: SkipJsonSchema[str] = Field("settings", exclude=True)
    base_dir: SkipJsonSchema[Path] = Field(Path("."), exclude=True, description="relative paths are read against this")
    unset_secrets: SkipJsonSchema[list[str]] = Field(
        default_factory=list, exclude=True,
        description="the ${VAR} of peer sections left unset (load_settings(defer_secrets=True)), as errors")
    files_read: SkipJsonSchema[tuple[FileRead, ...]] = Field(
        (), exclude=True, description="the settings file and each `*_file` secret as they were read "
                                      "(`clinicsync run` compares them with the files now: "
                                      "sync/runs/settings_watch.py)")
    fleet_files: SkipJsonSchema[tuple[FileRead, ...]] = Field(
        (), exclude=True, description="each fleet's list as it was read (`clinicsync run` reads the settings again "
                                      "when one changes: sync/service/fleet_reload.py)")

    @field_validator("connectors", "notifiers")
    @classmethod
    def _unique_names(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        seen: set[str] = set()
        for item in value:
            if item.name in seen:
                raise ValueError(f"two {info.field_name} are named {item.name!r}; names must be unique")
            seen.add(item.name)
        return value

    @model_validator(mode="after")
    def _sites_named(self) -> Settings:
        """With `sites:`, every source names one of them; without, none names any: a source
        whose patients would be written to in another practice's name is refused here."""
        for index, item in enumerate(self.connectors):
            if self.sites and item.site is None:
                raise ValueError(f"connectors.{index}.site: missing; once `sites:` is set every connector names "
                                 f"its site (one of: {', '.join(sorted(self.sites))})")
            if item.site is not None and item.site not in self.sites:
                known = f"one of: {', '.join(sorted(self.sites))}" if self.sites else "`sites:` is not set"
                raise ValueError(f"connectors.{index}.site: unknown site {item.site!r} ({known})")
        return self

    @model_validator(mode="after")
    def _user_sites_named(self) -> Settings:
        """A status-page user's ``sites`` are keys of `sites:` (a typo would hide a practice's
        patients from its own desk, or, worse, name no site and so show every one)."""
        for index, user in enumerate(self.ui.users if self.ui is not None else []):
            for site in user.sites:
                if site not in self.sites:
                    known = f"one of: {', '.join(sorted(self.sites))}" if self.sites else "`sites:` is not set"
                    raise ValueError(f"ui.users.{index}.sites: unknown site {site!r} ({known})")
        return self

    @model_validator(mode="after")
    def _keys_in_one_site(self) -> Settings:
        """An API key belongs to one source, hence one site: a key given to sources of two sites
        would silently write only to the first one's, so it is refused."""
        owner: dict[str, tuple[str, str | None]] = {}
        for index, item in enumerate(self.connectors):
            for key in getattr(item, "api_keys", None) or []:
                first = owner.setdefault(key.sha256, (item.name, item.site))
                if first[1] != item.site:
                    raise ValueError(f"connectors.{index}.api_keys: the API key {key.name!r} of {item.name!r} is also "
                                     f"a key of {first[0]!r}, a source of another site; give each site its own keys")
        return self

    @model_validator(mode="after")
    def _calendar_sites(self) -> Settings:
        """The calendar stage is handed `calendar:` alone: it learns each source's site here.
        The phone is the one messages give (the site's, the clinic's, then
        `reminders.clinic_phone`); the address is the place of a visit without a location
        (``ClinicSettings.place(None, None)``)."""
        def site(key: str | None, connector: str | None) -> CalendarSite:
            clinic = self.clinic_for(connector)
            shown = clinic.phone_display()
            place = clinic.place(None, None)
            return CalendarSite(key, clinic.name, shown[0] if shown else self.reminders.clinic_phone,
                                place.address if place is not None else None)

        self.calendar.learn_sites(site(None, None), {item.name: site(item.site, item.name) for item in self.connectors
                                                     if item.site is not None and self.sites},
                                  {item.name: item.label for item in self.connectors if item.label})
        return self

    def site_of(self, connector: str | None) -> str | None:
        """The site key of a source's visits; None without `sites:` (one practice) or for a
        source the settings no longer name (an orphan: it belongs to no desk but IT's)."""
        if not self.sites or connector is None:
            return None
        return _site_index(self.connectors).get(connector)

    def connectors_of(self, site: str) -> list[str]:
        """The names of the sources that belong to ``site`` (what a site-scoped page lists)."""
        return [item.name for item in self.connectors if item.site == site]

    def clinic_for(self, connector: str | None) -> ClinicSettings:
        """The `clinic:` section as the patients of ``connector``'s site know it: the site's
        name, phone, zone, places and language over the clinic's. Without `sites:`, `clinic:`."""
        site = self.site_of(connector)
        return self.clinic if site is None else self.sites[site].as_clinic(self.clinic)

    def site_for(self, connector: str | None) -> SiteSettings | None:
        """The site of ``connector``'s visits, for what `clinic:` has no key for (sender
        identities, templates, quiet hours); None without `sites:`."""
        site = self.site_of(connector)
        return None if site is None else self.sites[site]

    def sender_for(self, connector: str | None, channel: str) -> str | None:
        """Who ``connector``'s messages on ``channel`` come from: its site's `email_from` or
        `sms_from` (SMS and WhatsApp); None: the notifier's configured sender."""
        site = self.site_for(connector)
        if site is None:
            return None
        return site.email_from if channel == "email" else site.sms_from

    def quiet_hours_for(self, connector: str | None) -> QuietHours | None:
        """The quiet hours of ``connector``'s patients: their site's, else `reminders.quiet_hours`."""
        site = self.site_for(connector)
        if site is not None and site.quiet_hours is not None:
            return site.quiet_hours
        return self.reminders.quiet_hours

    def template_folders_for(self, connector: str | None) -> list[Path]:
        """The folders whose templates override the shipped ones for ``connector``'s messages,
        the first winning: the site's `templates`, then `reminders.templates`."""
        site = self.site_for(connector)
        named = [site.templates if site is not None else None, self.reminders.templates]
        return [self.base_dir / folder for folder in dict.fromkeys(named) if folder]

    def connector_names(self) -> set[str]:
        """The sources these settings name: a source the store holds beside them is orphaned
        (renamed or removed, sync/ingest/orphans.py)."""
        return {item.name for item in self.connectors}

    def writes_back(self, connector: str) -> bool:
        """Does this source take answers back (sync/responses/writeback.py)? CSV without a
        `responses_file`, SQL without `writeback:`, FHIR with `writeback: false` do not. One rule
        for the desk (what a cancellation says it does) and the waitlist (whether a later visit
        is released at the source or left to the desk)."""
        if not self.responses.writeback:
            return False
        config = next((c for c in self.connectors if c.name == connector), None)
        return bool(config is not None
                    and (getattr(config, "writeback", None) or getattr(config, "responses_file", None)))

    def connector(self, name: str) -> ConnectorSettings:
        """The source named ``name`` (KeyError: none), by an index of this load's list: the
        service asks at every poll, and a scan of its sources grew each poll with their count."""
        found = _connector_index(self.connectors).get(name)
        if found is None:
            raise KeyError(name)
        return found


# Each list of connectors' sites by source name, kept with the list it was made from (so an id
# is never taken for another list's): a dispatch asks a message's site several times, and a
# scan of 1,000 sources cost ~35 µs each time. Settings are not changed in place once loaded.
_SITE_INDEXES: dict[int, tuple[list[ConnectorSettings], dict[str, str | None]]] = {}


def _site_index(connectors: list[ConnectorSettings]) -> dict[str, str | None]:
    found = _SITE_INDEXES.get(id(connectors))
    if found is None or found[0] is not connectors or len(found[1]) != len(connectors):
        if len(_SITE_INDEXES) >= 32:  # settings read again (a reload, tests): the old ones go
            _SITE_INDEXES.clear()
        found = _SITE_INDEXES[id(connectors)] = (connectors, {item.name: item.site for item in connectors})
    return found[1]


_CONNECTOR_INDEXES: dict[int, tuple[list[ConnectorSettings], int, dict[str, ConnectorSettings]]] = {}


def _connector_index(connectors: list[ConnectorSettings]) -> dict[str, ConnectorSettings]:
    """Each source by name, kept with the list (and its length) it was made from, as
    ``_site_index``; the first of a name wins, as the scan it replaces did."""
    found = _CONNECTOR_INDEXES.get(id(connectors))
    if found is None or found[0] is not connectors or found[1] != len(connectors):
        if len(_CONNECTOR_INDEXES) >= 32:  # settings read again (a reload, tests): the old ones go
            _CONNECTOR_INDEXES.clear()
        index: dict[str, ConnectorSettings] = {}
        for item in connectors:
            index.setdefault(item.name, item)
        found = _CONNECTOR_INDEXES[id(connectors)] = (connectors, len(connectors), index)
    return found[2]


ROOT_PROBLEM_AT = re.compile(r"^([a-z_]+(?:\.[\w-]+)+): ")


def _problem(error: Any, loaded: LoadedYaml, kinds: dict[str, set[str]], expansion: Expansion,
             model: type[BaseModel]) -> str:
    loc = tuple(error["loc"])
    section = str(loc[0]) if loc else ""
    known = kinds.get(section, set())
    # A discriminated union puts the tag into the location: connectors.0.csv.drop_dir.
    if len(loc) > 2 and loc[2] in known:
        loc = loc[:2] + loc[3:]
    for unset_loc, problem in loaded.unset.items():  # a value refused because its ${VAR} is unset
        if loc[:len(unset_loc)] == unset_loc or unset_loc[:len(loc)] == loc:
            return problem
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = f"unknown key{did_you_mean(model, loc)} (check the spelling; see `clinicsync config schema`)"
    elif error["type"] == "union_tag_invalid":
        kind = error["input"].get("kind")
        message = f"unknown {section.removesuffix('s')} kind {kind!r}; known kinds: {sorted(known)}"
        loc = (*loc, "kind")
    elif error["type"] == "union_tag_not_found":
        message = f"missing key 'kind' (one of {sorted(known)})"
    message = message.removeprefix("Value error, ")
    if not loc and (named := ROOT_PROBLEM_AT.match(message)):  # a check across sections names its key itself
        loc = tuple(int(part) if part.isdigit() else part for part in named[1].split("."))
        message = message[named.end():]
    origin = (expansion.connectors.get(loc[1]) if len(loc) > 1 and loc[0] == "connectors" and isinstance(loc[1], int)
              else expansion.sites.get(loc[1]) if len(loc) > 1 and loc[0] == "sites" else None)
    if origin is not None:  # a fleet's member: the row and column of its list
        return f"{origin.where(str(loc[2]) if len(loc) > 2 else None)}: {message}"
    line = loaded.line_of(loc)
    where = f"{format_path(loc)} (line {line})" if line else format_path(loc)
    return f"{where}: {message}"


def validate_settings(loaded: LoadedYaml, source: str, base_dir: Path) -> Settings:
    data = loaded.data if loaded.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(["the top level must be a mapping of sections (clinic:, store:, connectors: …)"],
                          source)
    fleet_problems: list[str] = []
    try:
        expansion = expand_fleets(data, base_dir)
    except FleetError as exc:
        if exc.expansion is None:
            raise ConfigError(exc.problems, source) from None
        fleet_problems, expansion = exc.problems, exc.expansion  # the good rows are checked too
    data = expansion.data
    defaulted = "notifiers" not in data
    if defaulted:
        data = {**data, "notifiers": [dict(notifier) for notifier in DEFAULT_NOTIFIERS]}
    model = settings_model(*_kinds_named(data))
    files_read: list[FileRead] = [loaded.read] if loaded.read is not None else []
    try:
        settings = model.model_validate({**data, "source": source, "base_dir": base_dir,
                                         "unset_secrets": list(loaded.unset.values()),
                                         "notifiers_defaulted": defaulted},
                                        context={"base_dir": base_dir, "files_read": files_read})
    except ValidationError as exc:
        kinds = {"connectors": plugin_names(CONNECTORS_GROUP), "notifiers": plugin_names(NOTIFIERS_GROUP)}
        problems = [_problem(e, loaded, kinds, expansion, model) for e in exc.errors()]
        raise ConfigError(list(dict.fromkeys(fleet_problems + problems)), source) from None
    except (OSError, RecursionError, UnicodeError) as exc:  # a validator touching the file system
        raise ConfigError([f"a value could not be checked ({type(exc).__name__}); check paths and zones "
                           "for typos"], source) from None
    if fleet_problems:
        raise ConfigError(fleet_problems, source)
    return settings.model_copy(update={"files_read": tuple(dict.fromkeys(files_read)),
                                       "fleet_files": tuple(expansion.files)})


def _kinds_named(data: dict[str, Any]) -> tuple[set[str] | None, set[str] | None]:
    """The connector and notifier kinds the file names; None for a section where one is
    missing or unknown, so that every kind is loaded and the error lists them all."""

    def named(section: str, group: str) -> set[str] | None:
        items = data.get(section)
        if not isinstance(items, list):
            return set()
        kinds = {item.get("kind") if isinstance(item, dict) else None for item in items}
        known = plugin_names(group)
        return kinds if kinds <= known else None  # type: ignore[return-value]

    return named("connectors", CONNECTORS_GROUP), named("notifiers", NOTIFIERS_GROUP)


def config_path(explicit: Path | None) -> Path:
    """--config, else $CLINICSYNC_CONFIG, else ./settings.yaml."""
    if explicit is not None:
        return explicit
    env = os.environ.get("CLINICSYNC_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_settings(path: Path, *, defer_secrets: bool = False) -> Settings:
    """The validated settings. With ``defer_secrets``, a ``${VAR}`` left unset in a peer
    section (PEER_SECTIONS) is no error yet: the value is an unusable placeholder and the
    error waits in ``unset_secrets`` for a command that talks to that peer (the CLI's
    AppContext raises it); `appointments list` runs without the webhook's secret (obs 7)."""
    loaded = load_yaml_file(path, PEER_SECTIONS if defer_secrets else frozenset())
    return validate_settings(loaded, str(path), path.resolve().parent)


def json_schema() -> str:
    return json.dumps(settings_model().model_json_schema(), indent=2)
