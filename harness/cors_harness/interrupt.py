"""Stopping a run on SIGINT or SIGTERM: promptly, and whatever the browsers were doing.

The first signal raises `Interrupted` in the main thread, so the run unwinds through its context
managers and keeps what it observed. The signal may land inside a browser driver's event loop,
where it is not always honoured (a Playwright call can swallow it) and the drivers may be stuck:
a watchdog therefore gives the unwinding `grace_s` seconds, then calls `overdue`, which stops the
run's processes (so every blocked call fails at once) and may end the process. A second signal
calls `overdue` at once.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal asked the run to stop; `exit_status` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_status = 128 + signum
        super().__init__(f"interrupted by {self.name}")


class SignalState:
    """Which signal arrived first, if any; a run checks it where a raise may have been lost."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._overdue = threading.Event()
        self._finished = threading.Event()

    @property
    def interrupted(self) -> Interrupted | None:
        return None if self.signum is None else Interrupted(self.signum)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def check(self) -> None:
        """Raise `Interrupted` if a signal came (its first raise may have been swallowed)."""
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def stop_on_signals(
    grace_s: float, overdue: Callable[[Interrupted], None]
) -> Iterator[SignalState]:
    """Inside, SIGINT and SIGTERM raise `Interrupted`; the previous handlers come back on exit.

    Only the main thread can install handlers; elsewhere this changes nothing.
    """
    state = SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def watchdog() -> None:
        state._overdue.wait(grace_s)
        if not state._finished.is_set():
            assert state.signum is not None
            overdue(Interrupted(state.signum))

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.signum is not None:
            state._overdue.set()
            return
        state.signum = signum
        threading.Thread(target=watchdog, name="cors-harness-watchdog", daemon=True).start()
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield state
    finally:
        state._finished.set()
        for sig, old in previous.items():
            signal.signal(sig, old)


__all__ = ["Interrupted", "SignalState", "stop_on_signals"]
