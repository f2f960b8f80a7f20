"""Repeated requests: the same fetch() again on its schedule, from the page it ran on."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cors_harness.results import Attempt

if TYPE_CHECKING:
    from cors_harness.engines.base import ProbeSpec, Session
    from cors_harness.recorder import Evidence
    from cors_harness.results import PageResult
    from cors_harness.scenario import Request


class Repeats:
    """One page's batch: every request once, concurrently; then the repeated ones again, to the
    same URL on their schedule, noting which attempts the browser preflighted."""

    def __init__(
        self,
        session: Session,
        page_url: str,
        specs: dict[str, ProbeSpec],
        recorder: Evidence,
        batch: list[Request],
    ) -> None:
        self.session = session
        self.page_url = page_url
        self.specs = specs
        self.recorder = recorder
        self.batch = batch

    def _counts(self, name: str) -> tuple[int, int]:
        evidence = self.recorder.for_probe(self.specs[name]["probe"])
        preflights = sum(1 for e in evidence if e.preflight)
        return preflights, len(evidence) - preflights

    def _attempt(self, due: list[Request], started: float) -> dict[str, tuple[PageResult, Attempt]]:
        at = round(time.monotonic() - started, 3)
        before = {r.name: self._counts(r.name) for r in due}
        answers = self.session.run_probes(self.page_url, [self.specs[r.name] for r in due])
        out = {}
        for request, page in zip(due, answers, strict=True):
            preflights, actual = self._counts(request.name)
            out[request.name] = (
                page,
                Attempt(
                    at_s=at,
                    preflight_sent=preflights > before[request.name][0],
                    reached_server=actual > before[request.name][1],
                    received=page.received,
                ),
            )
        return out

    def run(self, attempts: dict[str, list[Attempt]]) -> dict[str, PageResult]:
        started = time.monotonic()
        pages: dict[str, PageResult] = {}
        first = self._attempt(self.batch, started)
        schedule: dict[float, list[Request]] = {}
        for request in self.batch:
            pages[request.name], attempt = first[request.name]
            if request.repeat is not None:
                attempts[request.name] = [attempt]
                for k in range(1, request.repeat.times):
                    schedule.setdefault(round(k * request.repeat.interval, 3), []).append(request)
        for at in sorted(schedule):
            time.sleep(max(0.0, started + at - time.monotonic()))
            for name, (page, attempt) in self._attempt(schedule[at], started).items():
                attempts[name].append(attempt)
                # A harness failure in any attempt makes the whole cell an error.
                if pages[name].harness_error is None:
                    pages[name] = page
        return pages


__all__ = ["Repeats"]
