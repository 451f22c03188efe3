"""A third-party notifier needs no change to clinicsync: a package that declares an entry
point in the ``clinicsync.notifiers`` group is found, its settings are validated like the
built-in kinds', and it sends."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicsync.notifiers.base import Message
from clinicsync.notifiers.registry import build_notifier, notifier_kinds
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings

PLUGIN = '''
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from clinicsync.notifiers.base import Message, Notifier, NotifierSettings, Receipt
from clinicsync.common.settings_base import resolve_path


class PagerSettings(NotifierSettings):
    kind: Literal["acme_pager"] = "acme_pager"
    spool: Path
    priority: int = Field(3, ge=1, le=5)

    @field_validator("spool")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)  # relative to the settings file, like the built-in kinds


class PagerNotifier(Notifier):
    kind = "acme_pager"
    channels = frozenset({"sms"})
    settings_model = PagerSettings

    def send(self, message: Message) -> Receipt:
        target = self.settings.spool / (message.idempotency_key + ".page")
        target.write_text(f"{self.settings.priority}|{message.body_text}")
        return Receipt(provider=self.kind, provider_id=target.name)
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install a tiny distribution (module + dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    module = f"acme_pager_{uuid.uuid4().hex[:8]}"
    (site / f"{module}.py").parent.mkdir(parents=True)
    (site / f"{module}.py").write_text(PLUGIN)
    info = site / "acme_pager-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pager\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[clinicsync.notifiers]\nacme_pager = {module}:PagerNotifier\n")
    monkeypatch.syspath_prepend(str(site))
    notifier_kinds.cache_clear()
    yield module
    sys.path.remove(str(site))
    sys.modules.pop(module, None)
    notifier_kinds.cache_clear()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_plugin_is_discovered_validated_and_sends(plugin: str, tmp_path: Path) -> None:
    assert "acme_pager" in notifier_kinds()
    (tmp_path / "spool").mkdir()
    settings = load_settings(write(tmp_path, """\
        notifiers:
          - name: outbox
            kind: outbox
          - name: pager
            kind: acme_pager
            spool: spool
            priority: 5
            rate_per_second: 2
        """))
    pager = settings.notifiers[1]
    assert type(pager).__module__ == plugin and pager.rate_per_second == 2
    notifier = build_notifier(pager)
    receipt = notifier.send(Message(channel="sms", recipient="+14155550123", body_text="hello",
                                    idempotency_key="r-1"))
    assert receipt.provider == "acme_pager"
    assert (tmp_path / "spool" / "r-1.page").read_text() == "5|hello"


def test_plugin_settings_errors_name_the_key(plugin: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, """\
            notifiers:
              - name: pager
                kind: acme_pager
                spool: spool
                priority: 9
                colour: red
            """))
    assert sorted(caught.value.problems) == [
        "notifiers[0].colour (line 6): unknown key (check the spelling; see `clinicsync config schema`)",
        "notifiers[0].priority (line 5): Input should be less than or equal to 5",
    ]


def test_without_the_plugin_its_kind_is_unknown(tmp_path: Path) -> None:
    notifier_kinds.cache_clear()
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, """\
            notifiers:
              - name: pager
                kind: acme_pager
                spool: spool
            """))
    [problem] = caught.value.problems
    assert problem.startswith("notifiers[0].kind (line 3): unknown notifier kind 'acme_pager'")
