"""A practice added to (or removed from) a fleet's list is polled (or no longer) without a restart.

`clinicsync run` reads settings.yaml once: an edit of it is reported and waits for a restart
(sync/runs/settings_watch.py), since a half-saved file, or one job on the new settings and the
next on the old, is worse than a restart. A fleet's list is different: it is where a group adds
its 61st office, one row, and it changes far more often than the settings. So when a list
changes (a stat each look, a digest when the stat moved), the whole settings are read and
validated again, and only if they are valid and settings.yaml itself is as this process read
it are they taken: the next polls run on them, the pool polls the new member at once and no
longer claims a removed one. An invalid list is refused (said once in the log, with its row and
column) and the members as read before keep being polled; it is read again at each look until
it is taken (a new member's secret file may come a little after its row).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from clinicsync.common.settings_base import FileRead, read_file
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import Settings, load_settings

log = structlog.get_logger("clinicsync.settings")


@dataclass
class FleetReload:
    """The look at the fleets' lists of one service process (its job: sync/service/jobs.py)."""

    refused: dict[str, str] = field(default_factory=dict)  # path -> the digest whose reload was refused

    def look(self, settings: Settings) -> Settings | None:
        """The settings read again if a fleet's list changed since ``settings`` were read and
        they are valid with settings.yaml as it was; None: nothing to take."""
        changed = [read for read in settings.fleet_files if _changed(read)]
        if not changed:
            return None
        now = {read.path: _digest(read.path) for read in changed}
        # A list refused as it is now is read again at each look all the same: what it lacked may
        # be elsewhere (a new member's secret file that the Secret mount has not updated yet).
        said = all(self.refused.get(path) == digest for path, digest in now.items())
        if settings.files_read and _digest(settings.files_read[0].path) != settings.files_read[0].digest:
            self.refused.update(now)  # not read at all: the settings watch asks for a restart
            if not said:
                log.warning("fleets.not_reloaded", lists=sorted(now),
                            detail="settings.yaml changed too: restart to apply both")
            return None
        try:
            fresh = load_settings(Path(settings.source), defer_secrets=True)
        except ConfigError as exc:
            self.refused.update(now)
            if not said:
                log.warning("fleets.list_refused", lists=sorted(now), problems=exc.problems,
                            detail="the members as read before are still polled; fix the list (`clinicsync "
                                   "config validate` names the row and column)")
            return None
        if not _same_file(fresh, settings):  # changed while it was read
            return None
        self.refused.clear()
        return fresh


def _changed(read: FileRead) -> bool:
    try:
        stat = os.stat(read.path)
    except OSError:
        return True  # removed: the reload says so, naming the list
    return not read.same_stat(stat) and _digest(read.path) != read.digest


def _digest(path: str) -> str:
    try:
        return read_file(Path(path))[1].digest
    except OSError:
        return "-"


def _same_file(new: Settings, old: Settings) -> bool:
    """settings.yaml is as this process read it (its secrets may differ: a new member's)."""
    return bool(new.files_read and old.files_read and new.files_read[0].digest == old.files_read[0].digest)
