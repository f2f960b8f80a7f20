"""SIGINT and SIGTERM mid-run: the run stops within seconds, keeps what it observed, and leaves
no process and no listening socket behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.processes import OWNER_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Callable

CLI = str(Path(sys.executable).with_name("cors-harness"))
# Every process the run starts inherits this, wherever it is re-parented.
MARK = "CORS_HARNESS_TEST_SIGNALS"

QUICK = """\
backend: {cors: {allow_origins: ["{frontend:app}"]}}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /items/}]
"""
# About 11 s of preflighted requests per browser: long enough to be interrupted in the middle.
SLOW = """\
backend: {cors: {allow_origins: ["{frontend:app}"], allow_methods: [PUT], max_age: 0}}
frontends: {app: {host: localhost}}
requests:
  - {name: get, frontend: app, path: /items/}
  - name: put
    frontend: app
    method: PUT
    path: /items/1
    json: {}
    repeat: {times: 12, interval: 1.0}
"""


def marked(mark: str) -> list[int]:
    found = []
    for path in Path("/proc").glob("[0-9]*"):
        try:
            environ = (path / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{MARK}={mark}".encode() in environ:
            found.append(int(path.name))
    return found


def listening_ports(pids: list[int]) -> set[int]:
    """The TCP ports these processes listen on, from their sockets' inodes."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return {port for inode, port in _listening() if inode in inodes}


def _listening() -> list[tuple[str, int]]:
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                found.append((fields[9], int(fields[1].rsplit(":", 1)[1], 16)))
    return found


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.browser
@pytest.mark.parametrize(
    ("browsers", "engine_process", "signum", "to_group", "status"),
    [
        pytest.param(["webkit"], "MiniBrowser", signal.SIGINT, True, 130, id="sigint-group-webkit"),
        pytest.param(["webkit"], "MiniBrowser", signal.SIGTERM, False, 143, id="sigterm-webkit"),
        pytest.param(
            ["chromium", "firefox"], "chromium", signal.SIGINT, False, 130, id="sigint-chromium"
        ),
        pytest.param(["firefox"], "firefox", signal.SIGTERM, True, 143, id="sigterm-group-firefox"),
    ],
)
def test_a_signal_mid_session_stops_everything_and_keeps_the_cells(
    tmp_path: Path,
    browsers: list[str],
    engine_process: str,
    signum: signal.Signals,
    to_group: bool,
    status: int,
) -> None:
    (tmp_path / "a_quick.yaml").write_text(QUICK)
    (tmp_path / "b_slow.yaml").write_text(SLOW)
    out = tmp_path / "out"
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark}
    env.pop(OWNER_VARIABLE, None)
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        run = subprocess.Popen(
            [CLI, "run", str(tmp_path), "--out", str(out)]
            + [f"--browser={b}" for b in browsers],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            # Its own process group, as a shell gives a job: a group signal reaches only it.
            start_new_session=True,
        )
        try:
            wait_for(lambda: b"ran a_quick" in stderr_path.read_bytes(), 60, "the first scenario")
            wait_for(
                lambda: any(comm(p).startswith(engine_process[:15]) for p in marked(mark)),
                30,
                f"{engine_process} in the second scenario",
            )
            time.sleep(1.5)  # inside the browser session, probes under way
            ports = listening_ports(marked(mark))
            assert ports, "the run's servers were not found listening"
            sent = time.monotonic()
            if to_group:
                os.killpg(run.pid, signum)
            else:
                run.send_signal(signum)
            run.wait(timeout=30)
            stopped_in = time.monotonic() - sent
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
    text = stderr_path.read_text()
    assert run.returncode == status, text
    assert stopped_in < 10, text
    assert "Traceback" not in text
    name = signal.Signals(signum).name
    last = text.strip().splitlines()[-1]
    assert last.startswith(f"cors-harness: interrupted by {name} after "), last
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] == name
    # The first scenario's cells were observed and are kept; none is made up for the rest.
    assert {r["scenario"] for r in results["results"]} == {"a_quick"}
    assert all(r["outcome"] == "allowed" for r in results["results"])
    assert f"Interrupted by {name}" in (out / "results.md").read_text()
    # Nothing the run started survives it, wherever it was re-parented, nor its sockets.
    wait_for(lambda: not marked(mark), 5, f"no process left (left: {marked(mark)})")
    assert not ports & {port for _, port in _listening()}
