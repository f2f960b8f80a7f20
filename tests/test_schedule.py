"""The schedule without browsers: each browser at its own pace, results in order, servers up
while needed, and never two scenarios in flight on one fixed origin."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from cors_harness._exceptions import FixtureError
from cors_harness.loading import parse_scenario
from cors_harness.schedule import Schedule, fixed_origins

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from cors_harness.scenario import Browser, Scenario


def scenario(name: str, port: int | None = None, browsers: str = "[chromium, firefox]") -> Scenario:
    fixed = f", port: {port}" if port else ""
    return parse_scenario(
        f"""
browsers: {browsers}
backend: {{host: api.example.com{fixed}, cors: null}}
frontends: {{app: {{host: localhost}}}}
requests: [{{name: get, frontend: app}}]
""",
        f"{name}.yaml",
    )


class FakeFleet:
    """Threads per browser, as the real fleet has, without browsers."""

    def __init__(self, names: list[Browser]) -> None:
        self.names = names
        self.failures: dict[Browser, str] = {}
        self._threads = {n: ThreadPoolExecutor(1) for n in names}

    def submit(self, name: Browser, call: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._threads[name].submit(call, *args)

    def close(self) -> None:
        for thread in self._threads.values():
            thread.shutdown()


class Servers:
    """Records which scenarios have servers up, and the most at once on one fixed origin."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.up_scenarios: list[Scenario] = []
        self.clash = False
        self.most = 0
        self.failing = failing
        self.lock = threading.Lock()

    @contextmanager
    def start(self, scenario: Scenario) -> Iterator[Any]:
        if scenario.name in self.failing:
            raise FixtureError(f"{scenario.name}: 'server' exited with status 1")
        with self.lock:
            claimed = fixed_origins(scenario)
            self.clash |= any(claimed & fixed_origins(s) for s in self.up_scenarios)
            self.up_scenarios.append(scenario)
            self.most = max(self.most, len(self.up_scenarios))
        try:
            yield (None, None)
        finally:
            with self.lock:
                self.up_scenarios.remove(scenario)


def run(scenarios: list[Scenario], servers: Servers, delays: dict[str, float]) -> list[str]:
    fleet = FakeFleet(["chromium", "firefox"])

    def run_browser(s: Scenario, name: Browser, origins: Any, evidence: Any) -> list[Any]:
        time.sleep(delays.get(name, 0.0))
        return [f"{s.name}:{name}"]

    def unserved(s: Scenario, why: str) -> list[Any]:
        return [f"{s.name}:{b}:error:{why}" for b in s.browsers]

    schedule = Schedule(fleet, scenarios, servers.start, run_browser, unserved)  # type: ignore[arg-type]
    found: list[str] = []

    def consume() -> None:
        found.extend(cell for _, cells in schedule.results() for cell in cells)

    # A schedule whose browsers wait for each other would never end: bounded, and then told to
    # stop, so that a failing test ends too.
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    consumer.join(timeout=20)
    try:
        assert not consumer.is_alive(), "the schedule did not finish within 20 s"
    finally:
        if consumer.is_alive():
            with schedule._changed:
                schedule._stopping = True
                schedule._changed.notify_all()
        fleet.close()
    return found


def test_results_come_in_order_while_a_fast_browser_runs_ahead() -> None:
    servers = Servers()
    scenarios = [scenario(f"s{i}") for i in range(6)]
    cells = run(scenarios, servers, {"firefox": 0.05})
    assert cells == [f"s{i}:{b}" for i in range(6) for b in ("chromium", "firefox")]
    # Chromium ran ahead of Firefox: more than one scenario's servers were up at once, but
    # never more than the oldest unfinished one and two more.
    assert 1 < servers.most <= 3
    assert servers.up_scenarios == []


def test_two_scenarios_on_one_fixed_origin_are_never_in_flight_together() -> None:
    servers = Servers()
    scenarios = [scenario(f"s{i}", port=443) for i in range(4)]
    cells = run(scenarios, servers, {"firefox": 0.05})
    assert len(cells) == 8
    assert not servers.clash
    assert servers.most == 1


def test_a_browser_ahead_does_not_take_an_origin_an_earlier_scenario_still_needs() -> None:
    # s1 is Firefox's alone; s2 is both browsers' and has the same fixed origin. Chromium, done
    # with s0 early, must not start s2 before Firefox has run s1, or each would wait for the
    # other.
    servers = Servers()
    scenarios = [
        scenario("s0"),
        scenario("s1", port=443, browsers="[firefox]"),
        scenario("s2", port=443),
    ]
    cells = run(scenarios, servers, {"firefox": 0.05})
    assert cells == ["s0:chromium", "s0:firefox", "s1:firefox", "s2:chromium", "s2:firefox"]
    assert not servers.clash


def test_servers_that_cannot_start_make_that_scenario_error_and_the_next_runs() -> None:
    servers = Servers(failing=frozenset({"s1"}))
    cells = run([scenario("s0"), scenario("s1"), scenario("s2")], servers, {})
    assert cells == [
        "s0:chromium",
        "s0:firefox",
        "s1:chromium:error:s1: 'server' exited with status 1",
        "s1:firefox:error:s1: 'server' exited with status 1",
        "s2:chromium",
        "s2:firefox",
    ]


def test_a_browser_not_in_the_run_gets_error_cells() -> None:
    servers = Servers()
    cells = run([scenario("s0", browsers="[webkit, chromium]")], servers, {})
    assert cells == ["s0:webkit:error:webkit was not launched in this run", "s0:chromium"]


def test_fixed_origins_are_the_written_ports_only() -> None:
    assert fixed_origins(scenario("a", port=443)) == {("api.example.com", 443)}
    assert fixed_origins(scenario("b")) == set()


@pytest.mark.parametrize("failure", [RuntimeError("bug in a browser's thread")])
def test_an_unexpected_failure_reaches_the_caller_and_servers_stop(failure: Exception) -> None:
    fleet = FakeFleet(["chromium", "firefox"])
    servers = Servers()

    def run_browser(s: Scenario, name: Browser, origins: Any, evidence: Any) -> list[Any]:
        if name == "firefox":
            raise failure
        return []

    try:
        schedule = Schedule(
            fleet,  # type: ignore[arg-type]
            [scenario("s0")],
            servers.start,
            run_browser,
            lambda s, why: [],
        )
        with pytest.raises(RuntimeError, match="bug in a browser's thread"):
            list(schedule.results())
        schedule.finish()
    finally:
        fleet.close()
    assert servers.up_scenarios == []
