"""`clinicsync serve` takes requests with the start's heap frozen (sync/server/serving.py
``settle_heap``): the collector's full passes, several times as frequent per request with eight
requests in flight as with one, walk only what the requests left, not the app (issue 32, W8)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cli_start.conftest import settings_text

# A real `clinicsync serve` (the CLI's entry, its own start freeze included) whose uvicorn
# server, instead of serving, says what the collector walks at the moment it would start.
PROBE = textwrap.dedent("""\
    import gc, json, sys
    import uvicorn
    from clinicsync.sync.cli import app

    def report(server, *args, **kwargs):
        walked = gc.get_objects()
        app_walked = any(item is server.config.app for item in walked)
        sys.stderr.write("SEEN " + json.dumps([app_walked, len(walked), gc.get_freeze_count()]))
        sys.stderr.flush()
        raise SystemExit(0)

    uvicorn.Server.run = report
    app(["serve", "--port", "1"], prog_name="clinicsync")
    """)


def test_serve_freezes_the_app_it_built_before_it_takes_requests(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=90,
                          check=False)
    assert "SEEN " in done.stderr, done.stderr[-3000:]
    app_walked, walked, frozen = json.loads(done.stderr.rsplit("SEEN ", 1)[-1])
    # Before: the CLI's start was frozen (~100,000 objects), the app and the webhook handlers it
    # imported after it were not — every full pass walked ~200,000 objects.
    assert not app_walked
    assert frozen > 150_000 and walked < 50_000, (walked, frozen)


def test_settle_heap_leaves_garbage_to_the_collector_first() -> None:
    """Garbage in cycles when the server starts is collected, not frozen for the process's life."""
    from clinicsync.sync.server.serving import settle_heap

    class Node:
        def __init__(self) -> None:
            self.me = self

    import weakref

    node = Node()
    gone = weakref.ref(node)
    del node  # a cycle: only a collection frees it
    assert gone() is not None
    try:
        settle_heap()
        assert gone() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process's heap goes back to the collector
