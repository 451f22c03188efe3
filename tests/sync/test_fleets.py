"""`fleets:`: a group of practices as one source template and a list (CSV or YAML), expanded into
ordinary connectors and sites; a bad member is named by its row and column, and a list of any
size validates. Before fleets existed, `fleets:` was an unknown key (exit 2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from tests.conftest import Cli

SETTINGS = """\
clinic: {name: Lakeside Group, timezone: America/Chicago}
notifiers: []
fleets:
  - name: dental
    members: MEMBERS
    env_prefix: DENTAL_
    connector:
      kind: sql
      url: postgresql://reader@{host}/{database}
      query: SELECT * FROM appointments
      mapping: clinic_tables
      cursor_column: updated_at
      schedule: {interval: 5m}
    site: {language: en-US}
"""
HEADER = "name,label,host,database,zone,phone\n"


def _fleet(tmp_path: Path, rows: str, members: str = "practices.csv", header: str = HEADER) -> Path:
    (tmp_path / members).write_text(header + rows if members.endswith(".csv") else rows, encoding="utf-8")
    path = tmp_path / "settings.yaml"
    path.write_text(SETTINGS.replace("MEMBERS", members), encoding="utf-8")
    return path


def _rows(count: int) -> str:
    return "".join(f"p{i:04d},Practice {i},db{i % 7}.example,d{i},America/Denver,+1312555{i:04d}\n"
                   for i in range(count))


def test_a_fleet_of_1000_members_from_a_template_and_a_csv_expands(tmp_path: Path) -> None:
    started = time.process_time()
    settings = load_settings(_fleet(tmp_path, _rows(1000)))
    print(f"\n1,000 members validated and expanded in {time.process_time() - started:.2f} s of CPU")
    assert len(settings.connectors) == 1000 and len(settings.sites) == 1000
    member = settings.connector("p0042")
    assert member.url == "postgresql://reader@db0.example/d42"  # type: ignore[attr-defined]
    assert member.timezone == "America/Denver" and member.site == "p0042"  # type: ignore[attr-defined]
    assert member.schedule.interval == "5m"
    clinic = settings.clinic_for("p0042")
    assert (clinic.name, clinic.phone, clinic.timezone) == ("Practice 42", "+13125550042", "America/Denver")
    assert clinic.locale_tag() == "en-US"  # the site template's key
    assert [read.path for read in settings.fleet_files] == [str(tmp_path / "practices.csv")]


def test_a_yaml_list_and_secrets_by_convention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member's password from DENTAL_<NAME>_PASSWORD; one without it has none (its URL may
    carry it); a list column that looks like a secret is refused."""
    monkeypatch.setenv("DENTAL_NORTH_SIDE_PASSWORD", "s3cret-north")
    rows = ("- {name: north-side, label: North, host: db1, database: n, zone: America/Chicago}\n"
            "- {name: south, host: db2, database: s}\n")
    settings = load_settings(_fleet(tmp_path, rows, "practices.yaml"))
    north, south = settings.connector("north-side"), settings.connector("south")
    assert north.password.get_secret_value() == "s3cret-north"  # type: ignore[attr-defined]
    assert south.password is None  # type: ignore[attr-defined]
    assert settings.sites["south"].name == "south"  # no label: the member's name

    with pytest.raises(ConfigError) as refused:
        load_settings(_fleet(tmp_path, "north,db1,n,hunter2\n", header="name,host,database,password\n"))
    assert refused.value.problems == [
        "practices.csv row 2, column password: secrets never go in the list; set DENTAL_<NAME>_PASSWORD in the "
        "environment or name a file in the template (password_file: …/{name})"]
    assert "hunter2" not in str(refused.value)

    bomb = ['- &a0 {name: x, host: "lol", database: "lol"}']
    bomb += [f"- &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(ConfigError, match=r"practices.yaml\): aliases \(\*name\) add more than"):
        load_settings(_fleet(tmp_path, "\n".join(bomb) + "\n", "practices.yaml"))


def test_a_bad_member_is_named_by_row_and_column(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    """A `url` column overrides the template's; `config validate` and `check` name each bad row."""
    header = "name,label,url,zone\n"
    rows = ("north,North,postgresql://reader@db1/n,America/Chicago\n"
            "west,West,not a url,America/Chicago\n"
            "east,East,postgresql://reader@db3/e,Mars/Base\n"
            "Bad Name,Bad,postgresql://reader@db4/b,UTC\n")
    path = _fleet(tmp_path, rows, header=header)
    code, out, err = cli(path)("config", "validate", expect=None)
    assert code == 2, out + err
    assert "practices.csv row 5, column name: 'Bad Name'" in out + err
    # one pass: the rows that did expand are checked beside the one that did not
    assert "practices.csv row 4 (east), column zone: unknown IANA time zone 'Mars/Base'" in out + err
    assert "practices.csv row 3 (west), column url: not a database URL" in out + err
    _fleet(tmp_path, rows.replace("Bad Name", "north"), header=header)
    code, out, err = cli(path)("config", "validate", expect=None)
    assert "practices.csv row 5, column name: 'north' is also the name of practices.csv row 2" in out + err
    _fleet(tmp_path, "".join(rows.splitlines(keepends=True)[:3]), header=header)
    for command in ("config", "validate"), ("check",):
        code, out, err = cli(path)(*command, expect=None)
        text = out + err
        assert code == 2, text
        assert "practices.csv row 3 (west), column url: not a database URL" in text
        assert "practices.csv row 4 (east), column zone: unknown IANA time zone 'Mars/Base'" in text
        assert "Traceback" not in text
