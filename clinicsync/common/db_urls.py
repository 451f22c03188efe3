"""Database URLs as IT staff write them, made usable: shared by the store and the SQL connector."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def driver_url(url: str | URL) -> URL:
    """Pick the pure-Python drivers we ship when a URL names none: psycopg 3 for
    PostgreSQL, PyMySQL for MySQL/MariaDB. Other URLs pass through unchanged."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("mysql", "mariadb"):
        return parsed.set(drivername="mysql+pymysql")
    return parsed
