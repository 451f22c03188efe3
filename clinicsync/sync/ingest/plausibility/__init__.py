"""The plausibility profile: does a valid mapping give plausible visits?

One module per finding — ``hours`` (shifted times, visits in UTC), ``identity`` (the wrong
person), ``reach`` (nobody to remind, no doctor), ``soft_deleted`` (deleted rows as live
visits), ``shape`` (one status for all, odd lengths) — and ``profile``, which feeds them
and collects their findings. Core layer: `check` (sync/checks/source_check.py), the dry run
(sync/ingest/engine.py) and `discover --write` (through `check`) use it; it reads no store.
"""

from clinicsync.sync.ingest.plausibility.finding import Finding
from clinicsync.sync.ingest.plausibility.profile import Profile, ProfileReport
from clinicsync.sync.ingest.plausibility.reach import Needs

__all__ = ["Finding", "Needs", "Profile", "ProfileReport"]
