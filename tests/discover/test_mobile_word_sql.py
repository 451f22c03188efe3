"""The SQL that finds a mobile word in a purpose code matches the word, not a part of a word:
``CEL`` (Spanish and Portuguese codes for a mobile) stands inside ``CANCELLED`` and ``EXCEL``."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from clinicsync.sync.discover.contacts.mobilepurpose import word_in

SAYS_MOBILE = ["CEL", "PHONE_CEL", "cel-phone", "tel.cel", "TELEFONO/CEL/PRINCIPAL", "Tel cel"]
DOES_NOT = ["CANCELLED", "EXCEL_PHONE", "PHONE_CELL", "PARCEL", "CELULAR_X", "", "PHONE_HOME"]


def _matches(engine: sa.Engine) -> set[str]:
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS mobile_word_codes"))
        connection.execute(sa.text("CREATE TABLE mobile_word_codes (code VARCHAR(40))"))
        connection.execute(sa.text("INSERT INTO mobile_word_codes (code) VALUES (:code)"),
                           [{"code": c} for c in SAYS_MOBILE + DOES_NOT])
        rows = connection.execute(sa.text(
            f"SELECT code FROM mobile_word_codes WHERE {word_in('UPPER(code)', 'cel')}")).scalars().all()
        connection.execute(sa.text("DROP TABLE mobile_word_codes"))
    return set(rows)


def test_sqlite(tmp_path: Any) -> None:
    assert _matches(sa.create_engine(f"sqlite:///{tmp_path / 'codes.db'}")) == set(SAYS_MOBILE)


@pytest.mark.postgres
def test_postgresql(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        assert _matches(engine) == set(SAYS_MOBILE)
    finally:
        engine.dispose()


def test_mariadb(mariadb_database: dict[str, Any]) -> None:
    engine = sa.create_engine(str(mariadb_database["url"]))
    try:
        assert _matches(engine) == set(SAYS_MOBILE)
    finally:
        engine.dispose()
