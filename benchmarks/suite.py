"""The built-in suite's speed, measured against two baselines in the same run.

    .venv/bin/python benchmarks/suite.py [--runs N] [--sample N] [--json] [--scenarios DIR]

1. The harness: every scenario of the suite in all three browsers, as `cors-harness run` runs
   them (the browsers at work together, servers from a pool, probes batched per page), `--runs`
   times; cells/s overall, and per browser from the seconds each spent on its own cells.
2. Serial: the same cells one browser at a time, one scenario at a time; every cell must be the
   same as in the fast runs (outcome and facts; attempts of repeated requests are counted apart,
   since a preflight cache that expires on the same second as an attempt may go either way).
3. Page per probe: a sample of the same cells (at least `--sample` requests, each in every
   browser), each in a fresh context with a fresh page and navigation, as a pytest-playwright
   test per request would do.
4. The floor: the sample's probes batched from a page already open, servers already up.
5. The isolation bound: each scenario and each cookie group gets a fresh browser context, so
   the suite cannot run faster than the contexts it opens allow. A context as the harness opens
   one (context, tab, the frontend page loaded, closed) is timed alone in each browser, in wall
   time and in CPU time of the whole machine; the bound is the larger of the slowest browser's
   contexts one after another and all browsers' contexts' CPU time spread over every core.

Peak memory is the largest sum of proportional set sizes (PSS: each page shared by N processes
counted 1/N in each, so that the libraries browsers' processes share count once) of this process
and every process the run started (browsers, drivers, servers), sampled every half second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cors_harness.engines import EngineBroken
from cors_harness.frontend import PAGE
from cors_harness.loading import load_scenario, scenario_files
from cors_harness.processes import marked, owned_processes
from cors_harness.runner import Harness
from cors_harness.scenario import BROWSERS, Browser, Scenario
from cors_harness.servers import scenario_servers

if TYPE_CHECKING:
    from collections.abc import Callable

    from cors_harness.engines.base import LaunchedBrowser, ProbeSpec
    from cors_harness.origins import Origins
    from cors_harness.results import Result

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
Cells = dict[tuple[str, str, Browser], tuple[object, ...]]


def facts(result: Result) -> tuple[object, ...]:
    return (
        result.outcome,
        result.preflight_sent,
        result.reached_server,
        tuple(result.reached_backends or ()),
        result.cookie_sent,
        result.cookie_stored,
        result.status,
        tuple(sorted(result.readable_headers)),
    )


def keyed(results: list[Result]) -> tuple[Cells, Cells]:
    """Each cell's facts, and its attempts' preflight pattern, by (scenario, request, browser)."""
    cells = {(r.scenario, r.request, r.browser): facts(r) for r in results}
    attempts: Cells = {
        (r.scenario, r.request, r.browser): tuple(a.preflight_sent for a in r.attempts)
        for r in results
    }
    return cells, attempts


class PeakMemory:
    """The largest memory (PSS) of this process and those carrying the run's mark."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peak-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            total = sum(_pss_kb(pid) for pid in [os.getpid(), *marked(self.token)])
            self.peak_kb = max(self.peak_kb, total)


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # gone, or not ours to read
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def machine_cpu_s() -> float:
    """CPU seconds the machine has been busy, all cores together (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    # user nice system idle iowait irq softirq steal: idle and iowait are not work.
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


CYCLES = 12


def context_cycles(
    harness: Harness, scenario: Scenario, name: str, browser: Browser
) -> tuple[float, float, int]:
    """(wall s, machine CPU s) of one fresh context as the harness opens one, the mean of
    CYCLES, with nothing else at work; and the stalls met."""
    stalls = Stalls(harness, browser)
    with scenario_servers(scenario, None, harness.network, harness._pool) as (origins, _):
        request = scenario.request(name)
        assert request.frontend is not None
        page = f"{origins.frontends[request.frontend]}{PAGE}"
        spec = _same_origin(_spec(harness, scenario, name, browser, origins), page)
        stalls.timed(partial(_alone, page=page, spec=spec))  # the page's code paths warmed up
        wall = cpu = 0.0
        for _ in range(CYCLES):
            started_cpu = machine_cpu_s()
            wall += stalls.timed(partial(_alone, page=page, spec=spec))
            cpu += machine_cpu_s() - started_cpu
    return wall / CYCLES, cpu / CYCLES, stalls.count


def _same_origin(spec: ProbeSpec, page: str) -> ProbeSpec:
    """`spec` turned into a GET of the page itself: no CORS, no preflight, nothing cached."""
    spec.update(
        {
            "url": page,
            "method": "GET",
            "headers": {},
            "body": None,
            "mode": "cors",
            "redirect": "follow",
        }
    )
    return spec


def run_fast(harness: Harness, scenarios: list[Scenario]) -> tuple[list[Result], float]:
    started = time.perf_counter()
    results = [r for s in scenarios for r in harness.run_scenario(s)]
    return results, time.perf_counter() - started


def run_serial(harness: Harness, scenarios: list[Scenario]) -> list[Result]:
    return [
        r
        for s in scenarios
        for b in s.browsers
        for r in harness.run_scenario(s.model_copy(update={"browsers": [b]}))
    ]


def simple(scenario: Scenario) -> list[str]:
    """Requests a page-per-probe test can make alone: no cookie set-up, login step or repeat."""
    return [
        r.name
        for r in scenario.requests
        if not (r.cookies or r.after or r.visit or r.repeat or r.sets_cookies)
        and r.name not in {q.after for q in scenario.requests}
    ]


def sample(scenarios: list[Scenario], at_least: int) -> list[tuple[Scenario, list[str]]]:
    """Whole scenarios' simple requests, spread over the suite, until there are enough."""
    chosen: list[tuple[Scenario, list[str]]] = []
    candidates = [(s, simple(s)) for s in scenarios]
    candidates = [(s, names) for s, names in candidates if names]
    step = max(1, len(candidates) // 8)
    order = candidates[::step] + [c for c in candidates if c not in candidates[::step]]
    for scenario, names in order:
        if sum(len(n) for _, n in chosen) >= at_least:
            break
        chosen.append((scenario, names))
    return chosen


def _spec(
    harness: Harness, scenario: Scenario, name: str, browser: Browser, origins: Origins
) -> ProbeSpec:
    return harness.cells.spec(scenario, scenario.request(name), browser, origins)


class Stalls:
    """Browsers that stopped answering during a measurement (WebKitWebDriver's new session
    stalls now and then): the attempt is not timed, the browser is launched again, and the
    measurement runs once more."""

    def __init__(self, harness: Harness, browser: Browser) -> None:
        self.harness = harness
        self.browser = browser
        self.count = 0

    def timed(self, measure: Callable[[LaunchedBrowser], float]) -> float:
        for _ in range(3):
            launched = self.harness.browsers.get(self.browser)
            assert launched is not None, f"{self.browser} is not running"
            try:
                return measure(launched)
            except EngineBroken:
                self.count += 1
                self.harness.browsers.discard(self.browser)
        raise RuntimeError(f"{self.browser} stopped answering three times in a row")


def page_per_probe_and_floor(
    harness: Harness, chosen: list[tuple[Scenario, list[str]]], browser: Browser
) -> tuple[int, float, float, int]:
    """(probes, seconds page per probe, seconds batched on an open page, stalls), in `browser`."""
    stalls = Stalls(harness, browser)
    probes, naive_s, floor_s = 0, 0.0, 0.0
    for scenario, names in chosen:
        with scenario_servers(scenario, None, harness.network, harness._pool) as (origins, _):
            by_page: dict[str, list[str]] = {}
            for name in names:
                request = scenario.request(name)
                assert request.frontend is not None
                page = f"{origins.frontends[request.frontend]}{PAGE}"
                by_page.setdefault(page, []).append(name)
                spec = _spec(harness, scenario, name, browser, origins)
                naive_s += stalls.timed(partial(_alone, page=page, spec=spec))
                probes += 1
            for page, batch in by_page.items():
                floor_s += stalls.timed(
                    partial(
                        _floor,
                        harness=harness,
                        scenario=scenario,
                        page=page,
                        batch=batch,
                        browser=browser,
                        origins=origins,
                    )
                )
    return probes, naive_s, floor_s, stalls.count


def _alone(launched: LaunchedBrowser, *, page: str, spec: ProbeSpec) -> float:
    """One probe as a test per request makes it: a fresh context, page and navigation."""
    started = time.perf_counter()
    with launched.session() as session:
        session.run_probes(page, [spec])
    return time.perf_counter() - started


def _floor(
    launched: LaunchedBrowser,
    *,
    harness: Harness,
    scenario: Scenario,
    page: str,
    batch: list[str],
    browser: Browser,
    origins: Origins,
) -> float:
    with launched.session() as session:
        # The page is loaded by a same-origin probe, which leaves no preflight in the cache.
        warm = _same_origin(_spec(harness, scenario, batch[0], browser, origins), page)
        session.run_probes(page, [warm])
        specs = [_spec(harness, scenario, name, browser, origins) for name in batch]
        started = time.perf_counter()
        session.run_probes(page, specs)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="fast runs (default 1)")
    parser.add_argument("--sample", type=int, default=60, help="page-per-probe requests")
    parser.add_argument("--scenarios", default=str(SCENARIOS))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    # As `cors-harness run` without --slow: a slow scenario's minutes of waiting would be the run.
    scenarios = [
        s for s in (load_scenario(p) for p in scenario_files([args.scenarios])) if not s.slow
    ]
    browsers: list[Browser] = list(BROWSERS)
    say = (lambda *a: None) if args.json else print
    with owned_processes() as token, PeakMemory(token) as memory, Harness(browsers) as harness:
        runs: list[tuple[Cells, Cells, float, int]] = []
        busy: dict[str, float] = {}
        done: dict[str, int] = {}
        fast_cpu_s = 0.0
        for number in range(args.runs):
            before_busy, before_cells = dict(harness.busy_s), dict(harness.cells_done)
            started_cpu = machine_cpu_s()
            results, wall = run_fast(harness, scenarios)
            fast_cpu_s += machine_cpu_s() - started_cpu
            cells, attempts = keyed(results)
            runs.append((cells, attempts, wall, len(results)))
            for b in browsers:
                busy[b] = busy.get(b, 0.0) + harness.busy_s.get(b, 0.0) - before_busy.get(b, 0.0)
                done[b] = done.get(b, 0) + harness.cells_done.get(b, 0) - before_cells.get(b, 0)
            say(f"fast run {number + 1}: {len(results)} cells in {wall:.1f} s")
        opened = {b: harness.browsers.contexts_opened.get(b, 0) / args.runs for b in browsers}
        serial_cells, serial_attempts = keyed(run_serial(harness, scenarios))
        say("serial run done")
        chosen = sample(scenarios, args.sample)
        per_browser: dict[str, dict[str, float]] = {}
        naive_total_s, naive_total, stalled = 0.0, 0, 0
        for b in browsers:
            probes, naive_s, floor_s, stalls = harness.browsers.submit(
                b, page_per_probe_and_floor, harness, chosen, b
            ).result()
            stalled += stalls
            naive_total_s += naive_s
            naive_total += probes
            per_browser[b] = {
                "harness_cells_per_s": round(done[b] / busy[b], 2),
                "page_per_probe_cells_per_s": round(probes / naive_s, 2),
                "floor_cells_per_s": round(probes / floor_s, 2),
                "overhead_vs_floor": round((busy[b] / done[b]) / (floor_s / probes), 1),
            }
        say(f"page per probe and floor: {naive_total // len(browsers)} requests per browser")
        (first, names), *_ = chosen
        cycles: dict[str, tuple[float, float]] = {}
        for b in browsers:
            cycle_wall, cycle_cpu, stalls = harness.browsers.submit(
                b, context_cycles, harness, first, names[0], b
            ).result()
            stalled += stalls
            cycles[b] = (cycle_wall, cycle_cpu)
            per_browser[b].update(
                {
                    "contexts_per_run": round(opened[b]),
                    "cells_per_context": round(done[b] / args.runs / opened[b], 1),
                    "context_wall_ms": round(cycle_wall * 1000),
                    "context_cpu_ms": round(cycle_cpu * 1000),
                }
            )
        say("isolation bound measured")
    cells, attempts, wall, count = runs[0]
    # A cell that is `error` in one run is the harness's failure (a stalled driver), not a
    # flip of what the browser did: counted apart.
    errors = sorted(
        {" / ".join(k) for run, _, _, _ in runs for k, f in run.items() if f[0] == "error"}
    )
    flips = [
        key
        for other, _, _, _ in runs[1:]
        for key in cells
        if other.get(key) != cells[key] and "error" not in (cells[key][0], other.get(key, ("",))[0])
    ]
    unlike_serial = [key for key in cells if serial_cells.get(key) != cells[key]]
    attempt_flips = [
        key
        for key in attempts
        if any(a.get(key) != attempts[key] for _, a, _, _ in runs[1:])
        or serial_attempts.get(key) != attempts[key]
    ]
    walls = [w for _, _, w, _ in runs]
    best = min(walls)
    cells_per_s = count / best
    naive_rate = naive_total / naive_total_s
    cores = os.cpu_count() or 1
    # The slowest browser's contexts one after another, or all contexts' CPU on every core.
    bound_s = max(
        max(opened[b] * cycles[b][0] for b in browsers),
        sum(opened[b] * cycles[b][1] for b in browsers) / cores,
    )
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}",
        "cells": count,
        "runs": args.runs,
        "wall_s": round(best, 1),
        "wall_s_each": [round(w, 1) for w in walls],
        "cells_per_s": round(cells_per_s, 2),
        # PSS, as the module's docstring says: resident memory with shared pages counted once.
        "peak_rss_mb": round(memory.peak_kb / 1024),
        "page_per_probe_sample": naive_total // len(browsers),
        "ratio_vs_page_per_probe": round(cells_per_s / naive_rate, 1),
        "overhead_vs_floor": max(v["overhead_vs_floor"] for v in per_browser.values()),
        "identical_to_serial": not unlike_serial,
        "cells_unlike_serial": [" / ".join(k) for k in unlike_serial],
        "flipped_cells": len(set(flips)),
        "flipped": sorted(" / ".join(k) for k in set(flips)),
        "error_cells": errors,
        "attempt_patterns_that_moved": [" / ".join(k) for k in attempt_flips],
        "browsers": per_browser,
        "stalls_in_baselines": stalled,
        # Share of all cores busy during the fast runs (the whole machine, as /proc/stat has it).
        "cpu_busy_fraction": round(fast_cpu_s / (sum(walls) * cores), 2),
        "isolation_bound_s": round(bound_s, 1),
        "isolation_bound_cells_per_s": round(count / bound_s, 1),
        "isolation_bound_ratio_vs_page_per_probe": round(count / bound_s / naive_rate, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print()
    print(f"{report['date']} on {report['machine']}")
    print(f"{'':<10}{'harness':>10}{'page/probe':>12}{'floor':>10}{'ratio':>8}{'overhead':>10}")
    for engine, v in per_browser.items():
        ratio = v["harness_cells_per_s"] / v["page_per_probe_cells_per_s"]
        print(
            f"{engine:<10}{v['harness_cells_per_s']:>10.1f}{v['page_per_probe_cells_per_s']:>12.1f}"
            f"{v['floor_cells_per_s']:>10.1f}{ratio:>7.1f}x{v['overhead_vs_floor']:>9.1f}x"
        )
    print(
        f"{'suite':<10}{cells_per_s:>10.1f}{naive_rate:>12.1f}{'':>10}"
        f"{report['ratio_vs_page_per_probe']:>7.1f}x"
    )
    print(
        f"suite: {count} cells in {best:.1f} s (best of {args.runs}); peak memory "
        f"{report['peak_rss_mb']} MiB; cells as in the serial run: "
        f"{'all' if not unlike_serial else f'not {len(unlike_serial)}'}; flipped between fast "
        f"runs: {report['flipped_cells']}; error cells in any run: {len(errors)}; repeated "
        f"requests whose attempt pattern moved: {len(attempt_flips)}"
    )
    print(
        "cells/s per browser: its cells over the seconds it spent on them (the browsers work "
        "at the same time); overhead: harness seconds per cell over the floor's."
    )
    print(f"machine CPU busy during the fast runs: {report['cpu_busy_fraction']:.0%} of {cores}")
    print("fresh contexts per run (one per scenario and cookie group), each timed alone:")
    for engine, v in per_browser.items():
        print(
            f"  {engine:<10}{v['contexts_per_run']:>4} contexts, {v['cells_per_context']} cells "
            f"each; {v['context_wall_ms']} ms wall, {v['context_cpu_ms']} ms CPU per context"
        )
    print(
        f"isolation bound: the suite cannot take less than {bound_s:.1f} s "
        f"({report['isolation_bound_cells_per_s']} cells/s) on {cores} cores while each scenario "
        f"and cookie group gets a fresh context, nor beat the page-per-probe harness by more than "
        f"{report['isolation_bound_ratio_vs_page_per_probe']}x"
    )


if __name__ == "__main__":
    main()
