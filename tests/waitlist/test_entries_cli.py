"""A waitlist source through the CLI as an admin meets it: `config validate` and `check`
accept its waitlist mapping (and name a broken one's key), `sync --once --json` reports the
waitlist_sources stage, and `quarantine retry` leaves a waitlist record to the next run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model import Quarantine


def connectors(drop_dir: Path, mapping: str = "csv_waitlist") -> str:
    return f"""
        - name: wl
          kind: csv
          mapping: {mapping}
          drop_dir: {drop_dir}
          mode: snapshot
          settle_seconds: 0
        """


def test_cli_validate_check_sync_and_retry(drop_dir: Path, tmp_path: Path, write_settings: Any, cli: Any,
                                           store_url: str) -> None:
    run = cli(write_settings(connectors(drop_dir)))
    run("db", "upgrade")
    run("config", "validate")
    _, out, _ = run("check", "--json", expect=None)
    assert "waitlist source" in out and "mapping does not load" not in out
    (drop_dir / "wl.csv").write_text(textwrap.dedent("""\
        id,patient_id,phone,windows
        a,p1,+12125550101,mon-fri 09:00-12:00
        b,p2,+12125550102,whenever
        """), encoding="utf-8")
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)
    assert report["waitlist_sources"]["sources"]["wl"]["created"] == 1
    assert "wl" not in report["connectors"]
    engine = make_engine(store_url)
    with engine.connect() as connection:
        [item] = connection.execute(select(Quarantine.__table__)).all()  # type: ignore[attr-defined]
    engine.dispose()
    _, out, _ = run("quarantine", "retry", str(item.id), expect=None)
    assert "waitlist record" in out

    (tmp_path / "bad.yaml").write_text("name: bad\nrecord: waitlist\nfields:\n  external_id: {from: id}\n",
                                       encoding="utf-8")
    bad = cli(write_settings(connectors(drop_dir, "bad.yaml")))
    _, out, err = bad("config", "validate", expect=2)
    assert "connectors[0].mapping (wl)" in out + err and "patient.external_id" in out + err
