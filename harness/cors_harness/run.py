"""A whole run: every scenario under some paths, in one set of browsers, and what it observed
so far, which an interrupted run still reports."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cors_harness._exceptions import ScenarioError
from cors_harness.claims import claim_verdicts
from cors_harness.interrupt import Interrupted
from cors_harness.loading import load_scenario, scenario_files
from cors_harness.processes import owned_processes, stop_marked
from cors_harness.results import ClaimVerdict, Result, RunResults, ScenarioFailure, ScenarioInfo
from cors_harness.runner import DEFAULT_TIMEOUT_S, Harness, package_environment
from cors_harness.scenario import BROWSERS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from cors_harness.engines import Overrides
    from cors_harness.interrupt import SignalState
    from cors_harness.progress import RunProgress
    from cors_harness.results import Environment
    from cors_harness.scenario import Browser, Scenario


class RunCollector:
    """The cells of a run as they come in; `results()` gives a RunResults at any moment, also
    from another thread while the run unwinds after a signal."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._lock = threading.Lock()
        self.environment: Environment | None = None
        self.failures: list[ScenarioFailure] = []
        self.scenarios: list[ScenarioInfo] = []
        self.cells: list[Result] = []
        self.claims: list[ClaimVerdict] = []
        self.slow_not_run: list[str] = []

    def add(self, scenario: Scenario, source: str, found: list[Result]) -> None:
        verdicts = claim_verdicts(scenario, found)
        with self._lock:
            self.cells.extend(found)
            self.claims.extend(verdicts)
            self.scenarios.append(
                ScenarioInfo(name=scenario.name, path=source, description=scenario.description)
            )

    def results(self, interrupted: str | None = None) -> RunResults:
        with self._lock:
            return RunResults(
                started_at=self._started_at,
                wall_seconds=round(time.monotonic() - self._started, 3),
                environment=self.environment or package_environment([]),
                scenario_errors=list(self.failures),
                scenarios=list(self.scenarios),
                results=list(self.cells),
                claims=list(self.claims),
                slow_not_run=list(self.slow_not_run),
                interrupted=interrupted,
            )


def run_paths(
    paths: Iterable[str | Path],
    browsers: Iterable[Browser] | None = None,
    overrides: Overrides | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    on_scenario: Callable[[Scenario, list[Result]], None] | None = None,
    *,
    collector: RunCollector | None = None,
    signals: SignalState | None = None,
    profile: str | None = None,
    progress: RunProgress | None = None,
    slow: bool = False,
) -> RunResults:
    """Load every scenario under `paths` and run it; a bad file is listed, the rest still run.

    Give `collector` to keep what was observed when the run does not finish (a signal), and
    `signals` so that a signal whose first raise was lost still stops it after the scenario.
    Scenarios marked `slow` run only with `slow`; the others are listed as not run.
    Every process the run starts is stopped when it ends, on every path.
    """
    collector = collector or RunCollector()
    scenarios: list[tuple[Scenario, str]] = []
    for path in scenario_files(paths):
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            collector.failures.append(ScenarioFailure(path=str(path), message=str(exc)))
            continue
        if scenario.slow and not slow:
            collector.slow_not_run.append(str(path))
            continue
        scenarios.append((scenario, str(path)))
    wanted = list(browsers) if browsers is not None else list(BROWSERS)
    needed = [b for b in wanted if any(b in s.browsers for s, _ in scenarios)]
    with owned_processes() as token, Harness(
        needed, overrides, timeout_s, profile=profile
    ) as harness:
        collector.environment = harness.environment()
        planned = [
            (scenario.model_copy(update={"browsers": selected}), source)
            for scenario, source in scenarios
            if (selected := [b for b in scenario.browsers if b in wanted])
        ]
        if progress is not None:
            totals: dict[Browser, int] = {}
            for scenario, _ in planned:
                for browser in scenario.browsers:
                    totals[browser] = totals.get(browser, 0) + len(scenario.requests)
            progress.start(totals)
        try:
            if signals is not None:
                signals.check()
            ran = harness.run_scenarios(
                [scenario for scenario, _ in planned],
                on_cells=progress.cells if progress is not None else None,
            )
            for (scenario, found), (_, source) in zip(ran, planned, strict=True):
                if signals is not None:
                    # A signal during the scenario may have been swallowed by a browser call,
                    # and what it broke is no observation: the scenario is dropped, not reported.
                    signals.check()
                collector.add(scenario, source, found)
                if progress is not None:
                    progress.scenario(scenario, found)
                if on_scenario is not None:
                    on_scenario(scenario, found)
        except Interrupted:
            # The browsers' thread may be in the middle of a scenario: stopping what it waits on
            # makes it return at once, so the browsers close now rather than after the scenario.
            stop_marked(token, grace_s=1.0)
            raise
    return collector.results()


__all__ = ["RunCollector", "run_paths"]
