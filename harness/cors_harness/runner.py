"""The library's entry point: a Harness launches the browsers once and runs scenarios with them.

What it puts together lives in modules named for it: `fleet` (each browser on a thread of its
own), `schedule` (which scenario each browser works on, and when its servers are up), `servers`
and `backends` (a scenario's servers), `cells` (what one browser does with a scenario, and its
results), `groups` and `repeats` (which requests share a context, and repeated requests).
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from typing import TYPE_CHECKING

from cors_harness.cells import Cells
from cors_harness.engines.profiles import chosen_profile
from cors_harness.fleet import Fleet
from cors_harness.network import RunNetwork
from cors_harness.results import (
    BrowserInfo,
    Environment,
    Result,
)
from cors_harness.scenario import (
    BROWSERS,
    Browser,
    Scenario,
)
from cors_harness.schedule import Schedule
from cors_harness.server_process import ServerPool
from cors_harness.servers import AppFactory, scenario_servers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    from cors_harness.engines import EngineTimeouts, Overrides
    from cors_harness.origins import Origins
    from cors_harness.recorder import Evidence

DEFAULT_TIMEOUT_S = 10.0
PACKAGES = (
    "starlette",
    "fastapi",
    "uvicorn",
    "httptools",
    "playwright",
    "selenium",
    "pydantic",
)


def package_environment(browsers: list[BrowserInfo]) -> Environment:
    """Python, the platform and the versions of what decides outcomes, with `browsers`."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(),
        packages=packages,
        browsers=browsers,
    )


class Harness:
    """The library API: launch browsers once, then run scenarios against them.

    with Harness(["chromium", "firefox"]) as harness:
        results = harness.run_scenario(load_scenario("scenarios/seed_article.yaml"))
    """

    def __init__(
        self,
        browsers: Iterable[Browser] = BROWSERS,
        overrides: Overrides | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        headless: bool = True,
        engine_timeouts: EngineTimeouts | None = None,
        profile: str | None = None,
    ) -> None:
        # `shipped` unless told: see engines/profiles.py for what each profile changes.
        self.browsers = Fleet(
            browsers,
            overrides,
            headless=headless,
            timeouts=engine_timeouts,
            profile=chosen_profile(profile),
        )
        self.timeout_ms = int(timeout_s * 1000)
        # What each browser does with a scenario, and how its cells are told.
        self.cells = Cells(self.browsers, self.timeout_ms)
        # The run's proxy and certificate authority: production host names and https.
        self.network = RunNetwork()
        # Scenario servers' child processes, kept from one scenario to the next.
        self._pool: ServerPool | None = None
        # Seconds each browser spent on its cells, and how many: its own throughput, which the
        # run's wall time (the browsers at work together) does not show.
        self.busy_s: dict[Browser, float] = {}
        self.cells_done: dict[Browser, int] = {}
        # Schedules a signal or a failure left unfinished, finished once the browsers are closed.
        self._schedules: list[Schedule] = []

    def __enter__(self) -> Harness:
        try:
            # Started first: the spare child imports its servers while the browsers launch.
            self._pool = ServerPool()
            self.network.__enter__()
            self.browsers.network = self.network.for_browsers()
            self.browsers.__enter__()
        except BaseException:
            self.network.__exit__(None, None, None)
            if self._pool is not None:
                self._pool.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.browsers.__exit__(exc_type, exc, tb)
        finally:
            try:
                for schedule in self._schedules:
                    schedule.finish()
            finally:
                self.network.__exit__(exc_type, exc, tb)
            if self._pool is not None:
                self._pool.close()

    def environment(self) -> Environment:
        return package_environment(self.browsers.infos())

    def run_scenario(self, scenario: Scenario, app: AppFactory | None = None) -> list[Result]:
        """Every cell of `scenario`; `app` serves a user's own ASGI app instead of the fixture."""
        ((_, found),) = self.run_scenarios([scenario], app)
        return found

    def run_scenarios(
        self,
        scenarios: Iterable[Scenario],
        app: AppFactory | None = None,
        on_cells: Callable[[Browser, Scenario, int], None] | None = None,
    ) -> Iterator[tuple[Scenario, list[Result]]]:
        """Each scenario with its cells, in order, as soon as every browser is done with it;
        the browsers work on them at once, each at its own pace (`schedule`). `on_cells` is told
        (from the browser's thread) each time a browser is done with a scenario."""
        schedule = Schedule(
            self.browsers,
            list(scenarios),
            lambda scenario: scenario_servers(scenario, app, self.network, self._pool),
            self._run_browser,
            self.cells.unserved,
            servers_may_fail=app is None,
            on_cells=on_cells,
        )
        self._schedules.append(schedule)
        yield from schedule.results()
        self._schedules.remove(schedule)

    def _run_browser(
        self, scenario: Scenario, name: Browser, origins: Origins, recorder: Evidence
    ) -> list[Result]:
        """One browser's cells of a scenario, on that browser's thread."""
        started = time.monotonic()
        try:
            return self.cells.run(scenario, name, origins, recorder)
        finally:
            self.busy_s[name] = self.busy_s.get(name, 0.0) + time.monotonic() - started
            self.cells_done[name] = self.cells_done.get(name, 0) + len(scenario.requests)
