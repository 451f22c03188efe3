"""`--site KEY`: the lists of patient data and state narrowed to one practice's
sources, as a site-scoped desk user sees them on the status page. A site's sources are
``Settings.connectors_of`` (the one way to tell); an unknown key is refused naming the known ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from clinicsync.sync.cli.context import fail_config

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings

SiteOption = Annotated[str | None, typer.Option(
    "--site", help="only this site's sources (a key of `sites:`)")]


def site_sources(settings: Settings, site: str | None) -> frozenset[str] | None:
    """The sources of ``site``; None without ``--site`` (every source). Exit 2 for a key the
    settings do not name (a typo must not list every practice, nor none in silence)."""
    if site is None:
        return None
    if site not in settings.sites:
        known = f"one of: {', '.join(sorted(settings.sites))}" if settings.sites else "`sites:` is not set"
        fail_config(f"--site: unknown site {site!r} ({known})")
    return frozenset(settings.connectors_of(site))


def of_site(sources: frozenset[str] | None, ref: str | None) -> bool:
    """Whether a ``connector:id`` reference (or a connector name) is one of ``sources``."""
    return sources is None or (ref or "").partition(":")[0] in sources
