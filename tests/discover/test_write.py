"""The writer: a proposal becomes a connector block under the admin's `connectors:` and a
mapping file beside settings.yaml, both loading with the project's real settings loader and
mapping engine; every line says where it came from; secrets only as ${VAR}; nothing
overwritten."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord
from clinicsync.sync.discover.write import WriteRefused, mapping_text, write_proposal


def proposal(name: str = "desk") -> Proposal:
    return Proposal(
        kind="sql", name=name, product=None, product_confidence=0.0,
        connector={"name": name, "kind": "sql", "url": "postgresql://reader@db/pm", "password": "${DESK_DB_PASSWORD}",
                   "query": "SELECT id, starts, estado, paciente\nFROM citas\nWHERE starts BETWEEN :window_start "
                            "AND :window_end",
                   "mode": "snapshot", "timezone": "Europe/Madrid"},
        connector_notes={"password": "read from the environment variable DESK_DB_PASSWORD",
                         "mode": "no updated-at column"},
        mapping={"status_map": {"programada": "booked", "anulada": "cancelled"},
                 "fields": {"external_id": {"from": "id", "required": True}, "start": {"from": "starts"},
                            "status": {"from": "estado"}, "patient.external_id": {"from": "paciente"}}},
        guesses=[Guess("external_id", "id", 0.9, "primary key", {"from": "id", "required": True}),
                 Guess("start", "starts", 0.8, "DATETIME column named 'starts'", {"from": "starts"}),
                 Guess("status", "estado", 0.7, "name ~ 'estado'", {"from": "estado"}),
                 Guess("patient.external_id", "paciente", 0.6, "refers to pacientes", {"from": "paciente"})],
        status_words=[StatusWord("programada", "booked", 40, 0.9), StatusWord("anulada", "cancelled", 5, 0.8),
                      StatusWord("en espera", None, 2, 0.0)],
        unplaced=["observaciones", "sala"],
        secret_env={"DESK_DB_PASSWORD": "the password of database user 'reader'"},
        notes=["unknown schema: read by its shape"])


ADMIN = """\
# our clinic
clinic:
  timezone: Europe/Madrid   # where we are
  default_region: ES
store:
  url: "sqlite:///{folder}/store.db"
connectors: []
reminders:
  enabled: false
"""


def settings_file(folder: Path, text: str = ADMIN) -> Path:
    path = folder / "settings.yaml"
    path.write_text(text.format(folder=folder), encoding="utf-8")
    return path


def test_block_goes_under_connectors_and_loads_with_the_real_loader(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_file(tmp_path)
    written = write_proposal(proposal(), settings)
    text = settings.read_text()
    assert text.startswith("# our clinic\n") and "timezone: Europe/Madrid   # where we are" in text  # kept
    assert text.index("- name: desk") < text.index("reminders:")  # inside connectors, before the next key
    assert written.settings == settings and written.mapping == tmp_path / "mappings" / "desk.yaml"
    # Every line of the block is commented with what it came from (or is the query's own text).
    block = [line for line in written.block.splitlines() if line.strip()]
    keyed = [line for line in block if line.lstrip("- ").split(":")[0] in proposal().connector]
    assert all("  # " in line for line in keyed), keyed
    assert "# set ${DESK_DB_PASSWORD} in the environment" in written.block
    monkeypatch.setenv("DESK_DB_PASSWORD", "not-written-anywhere")
    config = load_settings(settings)
    desk = config.connectors[0]
    assert (desk.name, desk.kind, desk.mapping) == ("desk", "sql", "mappings/desk.yaml")
    assert desk.password.get_secret_value() == "not-written-anywhere"  # type: ignore[attr-defined]
    assert "not-written-anywhere" not in text + written.mapping.read_text()
    compiled = load_mapping(desk.mapping, "Europe/Madrid", "ES", tmp_path)
    assert compiled is not None


def test_mapping_file_says_where_each_line_came_from(tmp_path: Path) -> None:
    text = mapping_text(proposal())
    assert text is not None
    data = yaml.safe_load(text)
    assert data["status_map"] == {"programada": "booked", "anulada": "cancelled"}
    assert data["fields"]["start"] == {"from": "starts"}
    lines = text.splitlines()
    assert "  start: {from: starts}  # DATETIME column named 'starts' (confidence 0.80)" in lines
    assert "  programada: booked  # 40 row(s), confidence 0.90" in lines
    unknown = next(line for line in lines if "en espera" in line)
    assert unknown.startswith("  # en espera: ?") and "unknown word" in unknown and "2 row(s)" in unknown
    assert lines[-1] == "# Not placed (no field took these columns): observaciones, sala"


def test_a_preset_is_extended_and_its_own_words_stay_comments(tmp_path: Path) -> None:
    known = proposal()
    known.product, known.product_confidence = "openemr", 1.0
    known.mapping = {"extends": "openemr", "status_map": {"Confirmado": "booked"}}
    known.status_words = [StatusWord("-", "booked", 9, 1.0), StatusWord("Confirmado", "booked", 3, 0.6)]
    known.unplaced = []
    text = mapping_text(known)
    assert text is not None and yaml.safe_load(text)["extends"] == "openemr"
    assert "  # '-': booked  # 9 row(s), confidence 1.00, from the preset" in text
    assert "  Confirmado: booked  # 3 row(s), confidence 0.60, not in the preset: a known status word" in text
    path = tmp_path / "m.yaml"
    path.write_text(text)
    load_mapping("m.yaml", "America/New_York", "US", tmp_path)  # extends the shipped preset


def test_without_a_connectors_key_the_key_is_added_at_the_end(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimal file names no source (none is known before discover): the key and the block
    go at its end, and the file loads with the connector; one whose `connectors` is a flow list
    with items is left alone, the block printed; --print prints even when the key is there."""
    minimal = "# ours\nclinic:\n  name: Clínica Sol\n  timezone: Europe/Madrid  # here\n\n"
    settings = settings_file(tmp_path, minimal)
    written = write_proposal(proposal(), settings)
    assert written.settings == settings
    text = settings.read_text()
    assert text.startswith(minimal.rstrip("\n") + "\nconnectors:\n  # proposed by `clinicsync discover`")
    monkeypatch.setenv("DESK_DB_PASSWORD", "x")
    assert [c.name for c in load_settings(settings).connectors] == ["desk"]
    flow = tmp_path / "flow"
    flow.mkdir()
    listed = "clinic:\n  timezone: Europe/Madrid\nconnectors: [{{name: old, kind: csv, drop_dir: d, mapping: m}}]\n"
    assert write_proposal(proposal(), settings_file(flow, listed)).settings is None
    assert (flow / "settings.yaml").read_text() == listed.format()
    other = tmp_path / "other"
    other.mkdir()
    assert write_proposal(proposal(), settings_file(other), print_only=True).settings is None
    assert "desk" not in (other / "settings.yaml").read_text()


def test_existing_items_keep_their_indentation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_file(tmp_path, textwrap.dedent("""\
        clinic:
          timezone: Europe/Madrid
        store:
          url: "sqlite:///{folder}/store.db"
        connectors:
        - name: old
          kind: csv
          mapping: csv_default
          drop_dir: {folder}

        """))
    write_proposal(proposal(), settings)
    monkeypatch.setenv("DESK_DB_PASSWORD", "x")
    assert [c.name for c in load_settings(settings).connectors] == ["old", "desk"]
    assert "\n- name: desk" in settings.read_text()


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    settings = settings_file(tmp_path)
    write_proposal(proposal(), settings)
    before = settings.read_text()
    with pytest.raises(WriteRefused, match="already has a connector named 'desk'"):
        write_proposal(proposal(), settings)
    assert settings.read_text() == before
    (tmp_path / "mappings" / "front.yaml").write_text("name: mine\n")
    with pytest.raises(WriteRefused, match=r"front\.yaml exists already"):
        write_proposal(proposal("front"), settings)
    assert (tmp_path / "mappings" / "front.yaml").read_text() == "name: mine\n"
    assert "front" not in settings.read_text()


def test_a_mapping_dir_outside_the_settings_folder_is_named_in_full(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    settings = settings_file(site)
    elsewhere = tmp_path / "shared-mappings"
    written = write_proposal(proposal(), settings, mapping_dir=elsewhere)
    assert written.mapping == elsewhere.resolve() / "desk.yaml"
    assert yaml.safe_load(settings.read_text())["connectors"][0]["mapping"] == str(elsewhere.resolve() / "desk.yaml")


def test_a_commented_line_can_be_taken_as_the_comment_says(tmp_path: Path) -> None:
    known = proposal()
    known.product, known.product_confidence = "openemr", 1.0
    known.mapping = {"extends": "openemr", "status_map": {}}
    known.status_words = [StatusWord("-", "booked", 9, 1.0), StatusWord("zz", None, 2, 0.0)]
    text = mapping_text(known)
    assert text is not None and yaml.safe_load(text)["status_map"] == {}
    unknown = next(line for line in text.splitlines() if line.startswith("#  zz: ?"))
    edited = text.replace("status_map: {}", "status_map:\n" + unknown[1:].replace("?", "noshow", 1))
    assert yaml.safe_load(edited)["status_map"] == {"zz": "noshow"}
    (tmp_path / "m.yaml").write_text(edited)
    load_mapping("m.yaml", "America/New_York", "US", tmp_path)


def test_date_formats_the_scorer_found_are_written(tmp_path: Path) -> None:
    spanish = proposal()
    assert spanish.mapping is not None
    spanish.mapping["datetime_formats"] = ["%d/%m/%Y %H:%M"]
    text = mapping_text(spanish)
    assert text is not None and yaml.safe_load(text)["datetime_formats"] == ["%d/%m/%Y %H:%M"]
    assert "datetime_formats: ['%d/%m/%Y %H:%M']  # how the source writes its local date-times" in text
    (tmp_path / "m.yaml").write_text(text)
    load_mapping("m.yaml", "Europe/Madrid", "ES", tmp_path)
