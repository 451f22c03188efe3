"""What a drop-folder connector remembers of the files it read (connectors/dropfolder.py
``FilesRead``): a bounded memory that never lets a forgotten file be read again when files stay
in the folder, and that knows a remembered file by its name, time and size without reading it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clinicsync.connectors import dropfolder
from clinicsync.connectors.dropfolder import FilesRead


def _file(folder: Path, name: str, mtime_ns: int, text: str = "x") -> Path:
    path = folder / name
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def _seen(files: FilesRead, path: Path, kept_in_place: bool = True) -> bool:
    return files.passed(path, path.stat(), kept_in_place)


def test_a_forgotten_file_stays_read_when_files_are_kept_in_place(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dropfolder, "DONE_LIMIT", 2)
    paths = [_file(tmp_path, f"{n}.csv", 1_000 + n, text=str(n)) for n in range(4)]
    files = FilesRead({})
    for number, path in enumerate(paths):
        files = files.with_file(f"key{number}", path)
    assert list(files.done) == ["key2", "key3"] and files.floor == (1_001, "1.csv")
    assert all(_seen(files, p) for p in paths)  # the two forgotten below the floor, the two by their stat
    reloaded, current = FilesRead.load(files.cursor())
    assert reloaded == files and current == {}
    newer = _file(tmp_path, "4.csv", 2_000)
    assert not _seen(reloaded, newer)


def test_with_an_archive_folder_a_late_file_with_an_old_time_is_still_read(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Only unread files wait in a drop folder whose files are moved away: no floor applies
    (a backfill copied with ``cp -p`` keeps its old modification time)."""
    monkeypatch.setattr(dropfolder, "DONE_LIMIT", 1)
    files = FilesRead({}).with_file("a", _file(tmp_path, "a.csv", 5_000))
    files = files.with_file("b", _file(tmp_path, "b.csv", 6_000))
    late = _file(tmp_path, "backfill.csv", 1_000)
    assert _seen(files, late, kept_in_place=True) and not _seen(files, late, kept_in_place=False)


def test_a_file_changed_in_place_is_not_known_by_its_stat(tmp_path: Path) -> None:
    path = _file(tmp_path, "a.csv", 1_000, "one")
    files = FilesRead({}).with_file("k", path)
    assert _seen(files, path, kept_in_place=False)
    _file(tmp_path, "a.csv", 1_000, "longer")  # same time, another size
    assert not _seen(files, path, kept_in_place=False)
    _file(tmp_path, "a.csv", 2_000, "one")  # same size, another time
    assert not _seen(files, path, kept_in_place=False)


def test_a_cursor_of_before_the_floor_loads_and_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cursors stored before this change map a key to the file's name alone: such a file is
    known by its key (read to hash it) until its entry gets the file's time, so that once
    forgotten it raises the floor too."""
    monkeypatch.setattr(dropfolder, "DONE_LIMIT", 1)
    old = _file(tmp_path, "old.csv", 3_000)
    files, current = FilesRead.load({"done": {"k-old": "old.csv"}, "current": None})
    assert "k-old" in files and not _seen(files, old) and current == {}
    files = files.completed("k-old", old)
    assert _seen(files, old)
    files = files.with_file("k-new", _file(tmp_path, "new.csv", 4_000))
    assert files.floor == (3_000, "old.csv") and _seen(files, old)


def test_a_file_read_again_is_remembered_as_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dropfolder, "DONE_LIMIT", 2)
    a, b, c = (_file(tmp_path, f"{n}.csv", t) for n, t in (("a", 1), ("b", 2), ("c", 3)))
    files = FilesRead({}).with_file("a", a).with_file("b", b).with_file("a", a).with_file("c", c)
    assert list(files.done) == ["a", "c"] and files.floor == (2, "b.csv")
