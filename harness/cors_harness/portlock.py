"""A machine-wide lock per fixed port, so that runs needing the same port take turns.

An app under test often allows one hard-coded origin (`http://localhost:3000`), so its frontend
must listen on that port, and only one process at a time can. Under pytest-xdist two workers
would otherwise fight for it and one would fail to bind. Each fixed port has a lock file in the
system temp dir, `cors-harness-port-PORT.lock`, held with `flock` while the servers that bind the
port run. The kernel drops the lock with the process, so a run that dies leaves no stale lock;
the file itself stays (removing it would let two processes lock two different files).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from cors_harness._exceptions import FixtureError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

DEFAULT_TIMEOUT_S = 120.0
POLL_S = 0.05

# Ports this process holds. A nested request for one (the pytest plugin around the servers) is
# already satisfied: flock on a second descriptor would wait for this very process.
_held: set[int] = set()
_held_guard = threading.Lock()


def lock_path(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"cors-harness-port-{port}.lock"


@contextmanager
def fixed_ports(
    ports: Iterable[int | None], timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[None]:
    """Hold the lock of every fixed port in `ports` (None and 0, chosen by the OS, need none).

    Waits at most `timeout_s` in all, then raises FixtureError naming the port and its holder.
    """
    deadline = time.monotonic() + timeout_s
    with ExitStack() as stack:
        # Always in ascending order, so that two runs wanting 3000 and 3001 cannot deadlock.
        for port in sorted({p for p in ports if p}):
            stack.enter_context(_locked(port, deadline, timeout_s))
        yield


@contextmanager
def _locked(port: int, deadline: float, timeout_s: float) -> Iterator[None]:
    with _held_guard:
        nested = port in _held
    if nested:
        yield
        return
    path = lock_path(port)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise FixtureError(
            f"port {port}: cannot open its lock file {path}: {exc.strerror}"
        ) from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown"
                    raise FixtureError(
                        f"port {port}: still held by another run after {timeout_s:g} s "
                        f"({holder}); lock file {path}"
                    ) from None
                time.sleep(POLL_S)
        # Who holds it, for the message of whoever waits in vain.
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder().encode(), 0)
        with _held_guard:
            _held.add(port)
        try:
            yield
        finally:
            with _held_guard:
                _held.discard(port)
    finally:
        os.close(fd)  # releases the lock


def _holder() -> str:
    # pytest sets PYTEST_CURRENT_TEST to the running test's id: the most telling name there is.
    test = os.environ.get("PYTEST_CURRENT_TEST")
    return f"pid {os.getpid()}" + (f", {test}" if test else "")


__all__ = ["DEFAULT_TIMEOUT_S", "fixed_ports", "lock_path"]
