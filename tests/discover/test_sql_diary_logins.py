"""Classes first met on MedinTux, each on a small schema of its own (MariaDB), none named as any
product names it:

- the diary's owner named by a login text (no key) of a users table whose name says nothing
  (``comptes``: a login and a password), beside the column of who took the booking: the owner
  is the one the same start never repeats for (logins.py);
- the patient named by a text GUID two tables hold once each, the index that names the person
  and the sheet that keeps the phones (twinrows.py), the sheet's phones in several columns,
  the landline first, the mobile second or in the same cell (phonecolumns.py), typed with dots
  as French desks do (values.py)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from clinicsync.common.vocabulary import STATUS_SYNONYMS, status_key
from clinicsync.sync.discover.values import profile
from tests.discover import sql_support as data

DDL = """
CREATE TABLE comptes (num INT PRIMARY KEY, identifiant VARCHAR(20) NOT NULL, mot_de_passe VARCHAR(40),
  nom VARCHAR(40), prenom VARCHAR(40), courriel VARCHAR(80));
CREATE TABLE repertoire (num BIGINT PRIMARY KEY, dossier VARCHAR(36), nom VARCHAR(40), prenom VARCHAR(40));
CREATE TABLE fiche (num BIGINT PRIMARY KEY, dossier VARCHAR(36), nom_jeune_fille VARCHAR(40),
  prenom_assure VARCHAR(40), naissance VARCHAR(19), tel_a VARCHAR(30), tel_b VARCHAR(30), tel_c VARCHAR(30));
CREATE TABLE carnet (num BIGINT PRIMARY KEY AUTO_INCREMENT, quand DATETIME NOT NULL, minutes INT,
  saisi VARCHAR(20), avec VARCHAR(20), guid VARCHAR(36), motif VARCHAR(60));
"""
DOCTORS = [(1, "cmartin", "Martin", "Claire"), (2, "pblanc", "Blanc", "Paul"), (3, "sroux", "Roux", "Sophie")]


def _national(rng: random.Random, head: str) -> str:
    """A valid French number beginning ``head`` (06 a mobile, 04 a landline), ten digits."""
    import phonenumbers
    while True:
        number = head + f"{rng.randrange(10**8):08d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "FR")):
            return number


def _diary(database: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The rows; per visit, its doctor's login and the patient's GUID and wanted phone (E.164)."""
    rng = random.Random(5)
    patients = []
    for p in range(1, 41):
        mobile, home = _national(rng, "06"), _national(rng, "04")
        dotted = ".".join(home[i:i + 2] for i in range(0, 10, 2))
        cells = ((f"{home} / {mobile}", "", "") if p % 5 == 0 else (dotted, "", "") if p % 7 == 0
                 else (dotted, " ".join(mobile[i:i + 2] for i in range(0, 10, 2)), ""))
        wanted = "+33" + (home if p % 7 == 0 and p % 5 else mobile)[1:]
        patients.append((p, str(uuid.UUID(int=rng.getrandbits(128))).upper(), cells, wanted))
    visits: dict[int, dict[str, Any]] = {}
    rows = []
    base = datetime.now().replace(hour=8, minute=0, second=0, microsecond=0)
    for n in range(90):
        slot = n // 3  # three doctors side by side: one start, three diaries, one desk booking them
        doctor = DOCTORS[n % 3]
        p, guid, _, wanted = patients[rng.randrange(40)]
        start = base + timedelta(days=1 + slot % 20, minutes=30 * (slot % 16))
        rows.append((n + 1, start, 20, "accueil" if n % 5 else doctor[1], doctor[1], guid, "Consultation"))
        visits[n + 1] = {"doctor": doctor[1], "doctor_name": f"{doctor[3]} {doctor[2]}", "guid": guid,
                         "phone": wanted}
    data.load_tables(database, DDL, [
        ("INSERT INTO comptes VALUES (%s, %s, 'x', %s, %s, NULL)",
         [(k, login, last, first) for k, login, last, first in DOCTORS] + [(4, "accueil", "Accueil", "Secrétariat")]),
        ("INSERT INTO repertoire VALUES (%s, %s, %s, %s)",
         [(p, guid, f"NOM{p}", f"Prénom{p}") for p, guid, _, _ in patients]),
        ("INSERT INTO fiche VALUES (%s, %s, '', NULL, '1970-01-01 00:00:00', %s, %s, %s)",
         [(p, guid, *cells) for p, guid, cells, _ in patients]),
        ("INSERT INTO carnet VALUES (%s, %s, %s, %s, %s, %s, %s)", rows),
    ])
    return visits


@pytest.mark.mariadb
def test_the_diary_owner_by_login_and_the_patient_by_guid_with_phones_in_turn(
        mariadb_database: dict[str, Any]) -> None:
    visits = _diary(mariadb_database)
    from clinicsync.sync.discover.sql import discover_sql

    proposal = discover_sql(str(mariadb_database["url"]), name="c", timezone="Europe/Paris", region="FR",
                            stored_times="local")
    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    rows = {int(r["num"]): r for r in data.proposed_rows(mariadb_database, proposal.connector["query"])}
    doctor = fields["practitioner.external_id"]["from"]
    # the doctor whose diary it is (`avec`), never the desk that booked (`saisi`): by login text
    assert {n: rows[n][doctor] for n in visits} == {n: v["doctor"] for n, v in visits.items()}
    assert fields["patient.external_id"] == {"from": "guid"}
    assert fields["patient.name"] == {"concat": ["repertoire_prenom", "repertoire_nom"]}  # the index's names
    phones = fields["patient.phone"]["from"]
    assert isinstance(phones, list) and len(phones) == 2  # tel_b (mobiles) then tel_a (landline, or both)


def test_french_desks_numbers_read_as_phones() -> None:
    """Dotted numbers ("04.78.12.34.56", which begin like a date "04.78.12") and a cell of a
    landline and a mobile are phones in France."""
    for cell in ("04.78.12.34.56", "06.70.80.77.16", "0478123456 / 0612345678", "04 78 12 34 56 / 06 12 34 56 78"):
        assert profile([cell] * 3, "FR").share("phone") == 1.0, cell
    assert profile(["12.03.2024"] * 3, "FR").share("date") == 1.0  # a date stays a date


def test_a_french_diarys_status_words() -> None:
    """A French diary's words for a status never set, a patient in the waiting room, a visit
    over (MedinTux's status icons are named so): known, so no visit is quarantined for them."""
    words = {"Statut non défini": "booked", "Présent en salle d'attente": "arrived", "Rendez-vous terminé": "fulfilled",
             "Terminé": "fulfilled"}
    assert {w: STATUS_SYNONYMS.get(status_key(w)) for w in words} == words


def test_phone_columns_in_turn_mobiles_first_copies_left_out() -> None:
    """The landline's column first in the table, the mobiles' second: the mobiles first, the
    landline after; a column copying the number in digits only adds nothing."""
    from clinicsync.sync.discover.contacts.phonecolumns import in_turn

    landline = ["04 78 12 34 56", "04.78.65.43.21", "0478000001 / 0612000001", "04 78 00 00 02"]
    mobiles = ["06 12 34 56 78", None, None, "06 98 76 54 32"]
    assert in_turn("tel_a", [("tel_a", landline), ("tel_b", mobiles)], "FR") == ["tel_b", "tel_a"]
    copy = ["33478123456", "33478654321", None, "33478000002"]
    assert in_turn("tel_a", [("tel_a", landline), ("tel_copy", copy)], "FR") == ["tel_a"]


def test_the_diary_owner_when_the_rows_do_not_tell() -> None:
    """A solo practice: nobody's visits clash at one start, so the rows do not tell the diary's
    owner from who booked; the column whose name ends in a word for "by" goes last."""
    from clinicsync.sync.discover.graph import Table
    from clinicsync.sync.discover.logins import owner_first

    table = Table("agenda", {"Date_Time": "DATETIME", "RDV_PrisPar": "VARCHAR(20)", "RDV_PrisAvec": "VARCHAR(20)"},
                  [], [])
    asked: list[str] = []

    def run(sql: str) -> list[tuple[int]]:
        asked.append(sql)
        return [(0,)]

    assert owner_first(run, str, table, ["RDV_PrisPar", "RDV_PrisAvec"]) == ["RDV_PrisAvec", "RDV_PrisPar"]
    assert all("Date_Time" in sql for sql in asked)  # the start each value is compared at
