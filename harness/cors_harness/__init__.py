"""cors-harness: what real Chromium, Firefox and WebKit do with a CORS configuration.

    from cors_harness import Harness, load_scenario

    with Harness(["chromium", "firefox", "webkit"]) as harness:
        for result in harness.run_scenario(load_scenario("scenarios/seed_article.yaml")):
            print(result.request, result.browser, result.outcome)
"""

from __future__ import annotations

from cors_harness._exceptions import (
    EngineUnavailable,
    FixtureError,
    HarnessError,
    ScenarioError,
)
from cors_harness.loading import load_scenario, parse_scenario
from cors_harness.results import Exchange, Result, RunResults
from cors_harness.run import RunCollector, run_paths
from cors_harness.runner import Harness
from cors_harness.scenario import Scenario
from cors_harness.userapp import observe_app

__all__ = [
    "EngineUnavailable",
    "Exchange",
    "FixtureError",
    "Harness",
    "HarnessError",
    "Result",
    "RunCollector",
    "RunResults",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "observe_app",
    "parse_scenario",
    "run_paths",
]
