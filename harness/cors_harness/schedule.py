"""Scenarios in flight: each browser works through the list at its own pace.

A browser that is done with a scenario goes on to the next instead of waiting for the slowest
(Firefox, or a scenario that sleeps between repeats): the waits of one browser are filled by the
work of the others. A scenario's servers start when the first browser reaches it and stop when
the last one is done with it. What may not overlap:

- two scenarios that give the same fixed origin (`https://api.example.com`, `localhost:3000`):
  the run's proxy routes each (host, port) to one server at a time;
- more than `AHEAD` scenarios past the oldest unfinished one, so that a fast browser does not
  keep many scenarios' servers up.

Every browser still gets a fresh browser context per scenario and cookie group; the schedule
only decides when, never what is shared.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cors_harness._exceptions import FixtureError
from cors_harness.engines.base import one_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from concurrent.futures import Future
    from contextlib import AbstractContextManager

    from cors_harness.fleet import Fleet
    from cors_harness.origins import Origins
    from cors_harness.recorder import Evidence
    from cors_harness.results import Result
    from cors_harness.scenario import Browser, Scenario

# How many scenarios past the oldest unfinished one may be in flight.
AHEAD = 2

Servers = tuple["Origins", "Evidence"]


def fixed_origins(scenario: Scenario) -> set[tuple[str, int]]:
    """The (host, port) pairs the scenario's servers claim at the run's proxy."""
    servers = [
        *(b for b in scenario.backend_specs().values() if not b.internal),
        *scenario.frontends.values(),
    ]
    return {(s.host, s.port) for s in servers if s.port is not None}


@dataclass
class _Slot:
    """One scenario: its servers while any browser needs them, and each browser's cells."""

    index: int
    scenario: Scenario
    waiting: set[Browser]
    stack: ExitStack = field(default_factory=ExitStack)
    servers: Servers | None = None
    unserved: str | None = None
    started: bool = False
    results: dict[Browser, list[Result]] = field(default_factory=dict)
    failure: BaseException | None = None

    @property
    def done(self) -> bool:
        return not self.waiting


class Schedule:
    """Runs scenarios with every browser of `fleet` at once; `results()` yields each scenario's
    cells, in the scenarios' order, as soon as every browser is done with it."""

    def __init__(
        self,
        fleet: Fleet,
        scenarios: list[Scenario],
        start_servers: Callable[[Scenario], AbstractContextManager[Servers]],
        run_browser: Callable[[Scenario, Browser, Origins, Evidence], list[Result]],
        unserved: Callable[[Scenario, str], list[Result]],
        *,
        ahead: int = AHEAD,
        servers_may_fail: bool = True,
        on_cells: Callable[[Browser, Scenario, int], None] | None = None,
    ) -> None:
        self.fleet = fleet
        self.start_servers = start_servers
        self.run_browser = run_browser
        self.unserved = unserved
        self.ahead = ahead
        # False for a user's own app: its start-up failure is the caller's to see, raised.
        self.servers_may_fail = servers_may_fail
        # Told, from the browser's thread, each time a browser is done with a scenario.
        self.on_cells = on_cells
        self.slots = [
            _Slot(i, s, {b for b in s.browsers if b in fleet.names})
            for i, s in enumerate(scenarios)
        ]
        self._changed = threading.Condition()
        self._stopping = False
        self._workers: list[Future[None]] = []

    def results(self) -> Iterator[tuple[Scenario, list[Result]]]:
        self._workers = [self.fleet.submit(name, self._work, name) for name in self.fleet.names]
        completed = False
        try:
            for slot in self.slots:
                with self._changed:
                    self._changed.wait_for(lambda slot=slot: slot.done)  # type: ignore[misc]
                if slot.failure is not None:
                    raise slot.failure
                yield slot.scenario, self._cells(slot)
            completed = True
        finally:
            # Stopped early (a signal, a failure): no browser starts another scenario.
            with self._changed:
                self._stopping = True
                self._changed.notify_all()
            if completed:
                self.finish()
            # Otherwise the browsers may be in the middle of a scenario, which only stopping
            # their processes ends: the owner calls finish() once it has (Harness.__exit__).

    def finish(self) -> None:
        """Wait for every browser to leave the schedule, then stop the servers still up."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        try:
            for worker in self._workers:
                worker.result()
        finally:
            for slot in self.slots:
                slot.stack.close()

    def _cells(self, slot: _Slot) -> list[Result]:
        cells: list[Result] = []
        for name in slot.scenario.browsers:
            if name in slot.results:
                cells.extend(slot.results[name])
            else:
                # Servers that could not start, or not a browser of this run: its cells say why.
                why = slot.unserved or self.fleet.failures.get(
                    name, f"{name} was not launched in this run"
                )
                alone = slot.scenario.model_copy(update={"browsers": [name]})
                cells.extend(self.unserved(alone, why))
        return cells

    def _work(self, name: Browser) -> None:
        """One browser's way through the scenarios, on its own thread."""
        for slot in self.slots:
            if name not in slot.waiting:
                continue
            if not self._enter(slot):
                return
            try:
                if slot.unserved is None and slot.servers is not None:
                    origins, evidence = slot.servers
                    slot.results[name] = self.run_browser(slot.scenario, name, origins, evidence)
            except BaseException as exc:  # the caller sees it when it reaches this scenario
                slot.failure = slot.failure or exc
            finally:
                self._leave(slot, name)
            if self.on_cells is not None:
                self.on_cells(name, slot.scenario, len(slot.scenario.requests))

    def _may_start(self, slot: _Slot) -> bool:
        oldest = next((s.index for s in self.slots if not s.done), len(self.slots))
        if slot.index > oldest + self.ahead:
            return False
        claimed = fixed_origins(slot.scenario)
        # An earlier scenario on the same origin goes first even before it has started: a
        # browser that skips it (not one of its browsers) must not take the origin from the
        # browsers that still owe it, or each would wait for the other.
        return not any(
            s is not slot
            and not s.done
            and (s.started or s.index < slot.index)
            and claimed & fixed_origins(s.scenario)
            for s in self.slots
        )

    def _enter(self, slot: _Slot) -> bool:
        """Wait until the scenario may run; start its servers if this browser is first.
        False when the schedule is stopping."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopping or slot.started or self._may_start(slot))
            if self._stopping:
                return False
            if slot.started:
                # Another browser is starting them: wait until they are up (or could not be).
                self._changed.wait_for(
                    lambda: self._stopping or slot.servers is not None or slot.unserved is not None
                    or slot.failure is not None
                )
                return not self._stopping
            slot.started = True
        try:
            servers = slot.stack.enter_context(self.start_servers(slot.scenario))
        except FixtureError as exc:
            # A scenario file's server that cannot start (a command that exits) makes its cells
            # error, and the run goes on with the next scenario.
            with self._changed:
                if self.servers_may_fail:
                    slot.unserved = one_line(exc)
                else:
                    slot.failure = exc
                self._changed.notify_all()
        except BaseException as exc:
            with self._changed:
                slot.failure = exc
                self._changed.notify_all()
        else:
            with self._changed:
                slot.servers = servers
                self._changed.notify_all()
        return True

    def _leave(self, slot: _Slot, name: Browser) -> None:
        with self._changed:
            last = slot.waiting == {name}
        if last:
            # Stopped before the scenario counts as done, so that its fixed origins are free.
            try:
                slot.stack.close()
            except BaseException as exc:
                slot.failure = slot.failure or exc
        with self._changed:
            slot.waiting.discard(name)
            self._changed.notify_all()


__all__ = ["AHEAD", "Schedule", "fixed_origins"]
