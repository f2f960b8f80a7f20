"""Bounding calls that have no timeout of their own: past a deadline, kill the process behind them.

Killing a browser makes the call blocked on it fail at once (Playwright rejects every pending call
to a browser whose process is gone), so a deadline needs no cooperation from the call it bounds.
The processes are found through /proc: Playwright does not expose the processes it starts.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from cors_harness.engines.base import EngineBroken

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence


@contextmanager
def deadline(
    what: str, seconds: float, kills: Sequence[Callable[[], None]], grace_s: float
) -> Iterator[None]:
    """Run the block; if it is still running after `seconds`, call the first of `kills`, then
    each next one `grace_s` later while it still runs. A block that outlived its deadline raises
    EngineBroken, since what it called into has been killed."""
    done = threading.Event()
    fired = threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        fired.set()
        for kill in kills:
            kill()
            if done.wait(grace_s):
                return

    watcher = threading.Thread(target=watch, name=f"deadline: {what}", daemon=True)
    watcher.start()
    try:
        try:
            yield
        finally:
            done.set()
            watcher.join()
    except Exception as exc:
        if fired.is_set():
            raise EngineBroken(f"{what}: no answer within {seconds:g} s") from exc
        raise
    if fired.is_set():
        raise EngineBroken(f"{what}: no answer within {seconds:g} s")


def _parent_and_group(pid: int) -> tuple[int, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # Field 2, the command name in parentheses, may itself hold spaces and parentheses.
    state, parent, group = text[text.rindex(")") + 2 :].split()[:3]
    return None if state == "Z" else (int(parent), int(group))


def children(parents: Iterable[int]) -> set[int]:
    """Live processes whose parent is one of `parents`."""
    wanted = set(parents)
    found = set()
    with suppress(FileNotFoundError), os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                stat = _parent_and_group(int(entry.name))
                if stat is not None and stat[0] in wanted:
                    found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    return _parent_and_group(pid) is not None


def playwright_drivers() -> set[int]:
    """This process's Playwright drivers (`node cli.js run-driver`)."""
    found = set()
    for pid in children([os.getpid()]):
        with suppress(OSError):
            if b"run-driver" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                found.add(pid)
    return found


def kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_group(leader: int) -> None:
    """Kill a process group: a browser with every helper process it started."""
    with suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
