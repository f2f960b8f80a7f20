"""Cells per second: the harness (browsers and pages reused, probes batched) against a naive
harness (a fresh browser context, page and navigation for every probe), in the same run.

    .venv/bin/python benchmarks/throughput.py [--rounds 3] [--browser chromium ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from cors_harness.frontend import PAGE
from cors_harness.runner import Harness
from cors_harness.scenario import BROWSERS, load_scenario
from cors_harness.servers import scenario_servers

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "seed_article.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--browser", action="append", choices=BROWSERS)
    args = parser.parse_args()
    browsers = args.browser or list(BROWSERS)
    scenario = load_scenario(SCENARIO)
    cells = len(scenario.requests)
    print(f"scenario {scenario.name}: {cells} requests; {args.rounds} rounds per browser")
    print(f"{'browser':<10}{'harness cells/s':>17}{'naive cells/s':>15}{'ratio':>8}")
    with Harness(browsers) as harness:
        for name in browsers:
            browser = harness.browsers.launched[name]
            one = scenario.model_copy(update={"browsers": [name]})
            batched, naive = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                harness.run_scenario(one)
                batched.append(cells / (time.perf_counter() - started))
                with scenario_servers(one) as (origins, _):
                    started = time.perf_counter()
                    for request in one.requests:
                        spec = harness._spec(one, request, name, origins)
                        page = f"{origins.frontends[request.frontend]}{PAGE}"
                        with browser.session() as session:
                            session.run_probes(page, [spec])
                    naive.append(cells / (time.perf_counter() - started))
            fast, slow = statistics.median(batched), statistics.median(naive)
            print(f"{name:<10}{fast:>17.1f}{slow:>15.1f}{fast / slow:>7.1f}x")
    print("cells/s are medians; both sides include the servers' start and stop per scenario run"
          " for the harness, and exclude them for the naive loop.")


if __name__ == "__main__":
    main()
