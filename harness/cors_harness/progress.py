"""Live progress of a run: cells done of the total, per browser, with the time spent and left.

On a terminal it is a `rich` display that redraws in place; anywhere else (a CI log, a pipe) it
is one plain line per scenario done, so that a log reads as a list, not as control codes.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from types import TracebackType

    from cors_harness.results import Result
    from cors_harness.scenario import Browser, Scenario


class RunProgress:
    """Told the totals, then each browser's cells as they are done, then each scenario."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._total: TaskID | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._done = 0
        self._cells = 0

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, totals: dict[Browser, int]) -> None:
        self._cells = sum(totals.values())
        if not self.live:
            return
        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        for name, total in totals.items():
            self._tasks[name] = self._progress.add_task(name, total=total)
        self._total = self._progress.add_task("all", total=self._cells)
        self._progress.start()

    def cells(self, browser: Browser, scenario: Scenario, count: int) -> None:
        """A browser is done with a scenario (called from that browser's thread)."""
        with self._lock:
            self._done += count
            if self._progress is not None and self._total is not None:
                self._progress.advance(self._tasks[browser], count)
                self._progress.advance(self._total, count)

    def scenario(self, scenario: Scenario, results: list[Result]) -> None:
        """Every browser is done with a scenario."""
        if self.live:
            return
        elapsed = time.monotonic() - self._started
        with self._lock:
            done = self._done
        print(
            f"  ran {scenario.name}: {len(results)} cells ({done}/{self._cells} done, "
            f"{elapsed:.0f} s)",
            file=self.stream,
            flush=True,
        )


__all__ = ["RunProgress"]
