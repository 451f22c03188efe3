"""`ui hash-password` reads a piped password once (issue 31, obs 7): no prompt loop on a stream
that has ended, no spin at full CPU; nothing to read is one line and exit 2."""

from __future__ import annotations

from clinicsync.common.passwords import verify_password
from tests.cli_start.conftest import Run


def test_a_piped_password_is_hashed_once(run: Run) -> None:
    done = run("ui", "hash-password", stdin="correct horse battery\nignored second line\n", timeout=30)
    assert done.returncode == 0, done.stderr
    digest = done.stdout.strip()
    assert digest.startswith("$argon2id$")
    assert verify_password("correct horse battery", digest)
    assert "correct horse" not in done.stderr


def test_an_empty_stdin_is_one_line_and_exit_2(run: Run) -> None:
    done = run("ui", "hash-password", stdin="", timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "no password on standard input" in done.stderr
