"""Where each command sits in `clinicsync --help` and the examples its own help ends with.

`--help` groups the commands the way an IT admin meets them (gh: CORE COMMANDS, kubectl:
Basic, Deploy, Troubleshooting): what you run once to set a practice up, what runs every
day, what you read when something looks wrong, and the tools for operating one system.
Every command's help ends with one or two examples to copy. Kept in one table so the root
help (which does not import the command modules) and each command's help agree; a test
checks that every command has a panel and examples.
"""

from __future__ import annotations

SET_UP, DAILY, INSPECT, OPERATE = "Set up", "Daily", "Inspect", "Operate"
PANELS = (SET_UP, DAILY, INSPECT, OPERATE)

PANEL = {
    "discover": SET_UP, "check": SET_UP, "config": SET_UP, "db": SET_UP, "demo": SET_UP,
    "sync": DAILY, "run": DAILY, "serve": DAILY, "remind": DAILY, "waitlist": DAILY,
    "status": INSPECT, "appointments": INSPECT, "reminders": INSPECT, "quarantine": INSPECT,
    "set-aside": INSPECT,
    "source": OPERATE, "fhir": OPERATE, "hl7": OPERATE, "calendar": OPERATE,
    "templates": OPERATE, "replies": OPERATE, "ui": OPERATE, "api": OPERATE,
}

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("clinicsync demo reset && clinicsync check", "clinicsync sync", "clinicsync appointments list --from today"),
    "discover": ("clinicsync discover postgresql://clinic@db/practice --timezone America/Chicago",
                 "clinicsync discover exports/appointments.csv --write"),
    "check": ("clinicsync check", "clinicsync -c /etc/clinicsync/settings.yaml check"),
    "config": ("clinicsync config validate", "clinicsync config schema > settings.schema.json"),
    "db": ("clinicsync db upgrade",),
    "demo": ("clinicsync demo reset",),
    "sync": ("clinicsync sync", "clinicsync sync --connector demo-csv --dry-run"),
    "run": ("clinicsync run", "clinicsync run --serve"),
    "serve": ("clinicsync serve --port 8080",),
    "remind": ("clinicsync remind --dry-run", "clinicsync remind --at 'tomorrow 08:00' --dry-run"),
    "waitlist": ("clinicsync waitlist", "clinicsync waitlist --at 'tomorrow 13:00'"),
    "status": ("clinicsync status", "clinicsync status --format json"),
    "appointments": ("clinicsync appointments list --from today --site north -o wide",
                     "clinicsync appointments show demo-csv:A1001"),
    "reminders": ("clinicsync reminders list --status failed", "clinicsync reminders list --from today -o wide"),
    "quarantine": ("clinicsync quarantine list --site north", "clinicsync quarantine retry --all --connector demo-csv"),
    "set-aside": ("clinicsync set-aside list", "clinicsync set-aside retry --stage calendar"),
    "source": ("clinicsync source list", "clinicsync source rename old-csv front-desk-csv"),
    "fhir": ("clinicsync fhir jwks", "clinicsync fhir subscribe epic"),
    "hl7": ("clinicsync hl7 listen",),
    "calendar": ("clinicsync calendar status", "clinicsync calendar reconcile"),
    "templates": ("clinicsync templates check",),
    "replies": ("clinicsync replies feed --from +13125550199 --text C",),
    "ui": ("clinicsync ui hash-password",),
    "api": ("clinicsync api key",),
}


def epilog(name: str) -> str | None:
    """The examples block of command ``name`` ("" for the root), or None when it has none.

    One paragraph per example: typer's rich help joins the lines of a paragraph, click's plain
    help keeps the indent of each."""
    lines = EXAMPLES.get(name)
    if not lines:
        return None
    return "Examples:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)
