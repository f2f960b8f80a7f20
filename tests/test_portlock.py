"""`fixed_ports`: one process at a time per fixed port, across processes, with a bounded wait."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

import pytest

from cors_harness._exceptions import FixtureError
from cors_harness.portlock import fixed_ports, lock_path

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PORT = 3000
# Another process: takes the lock, says so, holds it until its stdin closes.
HOLDER = """\
import sys
from cors_harness.portlock import fixed_ports

with fixed_ports([int(sys.argv[1])], timeout_s=10):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The lock files of a run of its own: real runs on this machine may hold port 3000.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(PORT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTEST_CURRENT_TEST": "tests/test_app.py::test_me[webkit] (call)"},
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "held\n"
            yield process
        finally:
            process.kill()


def test_a_port_held_elsewhere_is_waited_for_then_refused_naming_the_holder(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(FixtureError) as refused, fixed_ports([PORT], timeout_s=0.5):
        pytest.fail("the lock was taken twice")
    assert time.monotonic() - started >= 0.5
    assert str(refused.value) == (
        f"port {PORT}: still held by another run after 0.5 s "
        f"(pid {holder.pid}, tests/test_app.py::test_me[webkit] (call)); "
        f"lock file {tmp_path / 'cors-harness-port-3000.lock'}"
    )


def test_the_waiter_gets_the_port_once_the_holder_is_done(
    holder: subprocess.Popen[str],
) -> None:
    assert holder.stdin is not None
    holder.stdin.close()  # the holder finishes now; the waiter, already waiting, goes next
    with fixed_ports([PORT], timeout_s=10):
        assert holder.wait(timeout=10) == 0


def test_a_holder_that_dies_leaves_no_lock(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait(timeout=10)
    with fixed_ports([PORT], timeout_s=1):
        pass


def test_ports_chosen_by_the_os_need_no_lock_and_nesting_in_one_process_is_free(
    tmp_path: Path,
) -> None:
    with fixed_ports([None, 0]):
        assert list(tmp_path.iterdir()) == []
    with fixed_ports([PORT, 3001, PORT], timeout_s=1), fixed_ports([PORT], timeout_s=1):
        assert lock_path(PORT).read_text().startswith("pid ")
        assert lock_path(3001).exists()
