"""Every process a run starts, known by a mark in its environment, and stopped on every path.

Browsers start helpers of their own (renderers, WebKit's web and network processes), and a
helper whose parent dies is re-parented out of reach of any process tree. Every one of them
inherits its environment, though: the run puts a token in it, and at the end stops whatever still
carries the token, wherever it ended up. Linux only (it reads /proc); elsewhere it does nothing.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

OWNER_VARIABLE = "CORS_HARNESS_OWNER"
PROC = Path("/proc")


def marked(token: str) -> list[int]:
    """The processes, other than this one, whose environment carries `token`."""
    entry = f"{OWNER_VARIABLE}={token}".encode()
    found = []
    for path in PROC.glob("[0-9]*"):
        pid = int(path.name)
        if pid == os.getpid():
            continue
        try:
            environ = (path / "environ").read_bytes()
        except OSError:  # gone already, or not ours to read
            continue
        if entry in environ.split(b"\0"):
            found.append(pid)
    return found


def stop_marked(token: str, grace_s: float = 2.0) -> list[int]:
    """SIGTERM every marked process, SIGKILL what is left after `grace_s`; return the pids."""
    pids = marked(token)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            _reap(pids)
            if not marked(token):
                return pids
            time.sleep(0.05)
        pids = marked(token)
    _reap(pids)
    return pids


def _reap(pids: list[int]) -> None:
    # Our own children stay zombies until waited for; the others' parents (or init) wait.
    for pid in pids:
        with suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@contextmanager
def owned_processes() -> Iterator[str]:
    """Mark every process started inside; on exit, stop every process still carrying the mark.

    Nested uses in one process share the outermost mark, and only the outermost stops
    processes; a mark inherited from another process (a harness that started this one) is
    replaced, so that each process cleans up after itself.
    """
    outer = os.environ.get(OWNER_VARIABLE)
    if outer is not None and outer.startswith(f"{os.getpid()}-"):
        yield outer
        return
    token = f"{os.getpid()}-{secrets.token_hex(6)}"
    os.environ[OWNER_VARIABLE] = token
    try:
        yield token
    finally:
        if outer is None:
            del os.environ[OWNER_VARIABLE]
        else:
            os.environ[OWNER_VARIABLE] = outer
        if PROC.is_dir():
            stop_marked(token)


__all__ = ["OWNER_VARIABLE", "marked", "owned_processes", "stop_marked"]
