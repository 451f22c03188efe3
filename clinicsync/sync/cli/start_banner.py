"""What `serve` and `run` say when they start: where they listen, where the status page and
the answer pages are, who may open the status page, and what this process will not do.

An admin who starts `serve` and sees nothing cannot tell the address, whether anyone can log
in, or that no reminder will ever leave this process. One block on stderr,
before the first log line; user names and roles only, never a hash or a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings

# The answer pages' paths (sync/responses/link_page.py): /r/<token>, /a/<token> in an SMS.
ANSWER_PATH = "/r/"
STATUS_PATH = "/ui"


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a listen address, shown
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def _listening(host: str, port: int) -> str:
    every = " (every interface)" if host in ("0.0.0.0", "::", "") else ""  # noqa: S104
    return f"{host}:{port}{every}"


def http_lines(settings: Settings, host: str, port: int) -> list[str]:
    """The lines about the HTTP server: address, status page, answer pages, who may log in."""
    local = _url(host, port)
    public = str(settings.server.public_url).rstrip("/") if settings.server and settings.server.public_url else None
    lines = [f"  address        {_listening(host, port)}",
             f"  status page    {local}{STATUS_PATH}" + (f"  (public: {public}{STATUS_PATH})" if public else "")]
    if public:
        lines.append(f"  answer pages   {public}{ANSWER_PATH}…  (SMS short links {public}/a/…)")
    else:
        lines.append(f"  answer pages   {local}{ANSWER_PATH}…  (server.public_url is not set: links in messages "
                     "point nowhere a patient can reach)")
    ui = settings.ui
    users = ui.users if ui else []
    if users:
        lines.append("  status-page users  " + ", ".join(f"{user.name} ({user.role})" for user in users)
                     + ("; and a bearer token" if ui and ui.token else ""))
    elif ui and ui.token:
        lines.append("  status-page users  none (a bearer token only: scripts, not people)")
    else:
        lines.append("  WARNING: no status-page user: nobody can open /ui. Add one under `ui: users:` "
                     "(`clinicsync ui hash-password` makes the hash)")
    return lines


def start_banner(settings: Settings, mode: Literal["serve", "run"], *, host: str | None = None,
                 port: int | None = None, connectors: tuple[str, ...] = ()) -> str:
    """The block `serve` or `run` prints at start; ``host`` and ``port`` when it serves HTTP."""
    lines: list[str] = []
    serving = host is not None and port is not None
    if mode == "serve":
        lines.append("clinicsync serve: webhooks, answer pages, the status page, /healthz, /readyz, /metrics")
    else:
        from clinicsync.connectors.registry import is_polled  # only `run` needs the connector kinds

        chosen = [c for c in settings.connectors if c.enabled and (not connectors or c.name in connectors)]
        polled = [c.name for c in chosen if is_polled(c)]
        pushed = [c.name for c in chosen if not is_polled(c)]
        lines.append("clinicsync run: polls " + (", ".join(polled) or "no connector")
                     + (f"; follows what {', '.join(pushed)} push(es) every minute" if pushed else "")
                     + "; sends due reminders; pushes doctors' calendars; writes answers back"
                     + ("; and serves HTTP" if serving else ""))
    if serving:
        lines += http_lines(settings, host, port)  # type: ignore[arg-type]
    if mode == "serve":
        lines.append("  not done here: reminders are sent by `clinicsync run` (or `remind --once`), not `serve`; "
                     "calendar pushes and polling the sources likewise (`run`, or `sync --once`)")
    elif not serving:
        lines.append("  not done here: no HTTP server (webhooks, answer pages, /ui): use `run --serve` or "
                     "a separate `clinicsync serve`")
    return "\n".join(lines)
