"""Baselines: the observed matrix of a scenario, kept beside it to notice any change later.

`seed_article.yaml` has its baseline in `seed_article.baseline.yaml`: one entry per request and
browser, in the scenario's request order and browser order, with the browser versions and engines
it was recorded with, so that a change reads as a small diff in review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cors_harness._exceptions import ScenarioError
from cors_harness.scenario import BROWSERS, Browser, Outcome

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from cors_harness.results import Result
    from cors_harness.scenario import Scenario

HEADER = (
    "# Observed CORS behaviour, recorded by `pytest --cors-update-baseline`.\n"
    "# A change here is a change in what browsers allow: review it like code.\n"
)


class Cell(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    preflight_sent: bool
    reached_server: bool
    # Only in scenarios with several backends.
    reached_backends: list[str] | None = None
    cookie_sent: bool
    # Absent from cells with no cookie to send, and from baselines older than the fact.
    cookie_stored: bool | None = None
    status: int | None
    readable_headers: list[str]


class Recorded(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    engine: str


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    browsers: dict[Browser, Recorded] = {}
    cells: dict[str, dict[Browser, Cell]] = {}


def baseline_path(scenario_path: Path) -> Path:
    return scenario_path.with_name(f"{scenario_path.stem}.baseline.yaml")


def cell_of(result: Result, read_headers: Iterable[str]) -> Cell:
    """The facts a baseline keeps: stable from run to run (no ports, dates or ids)."""
    readable = sorted(h.lower() for h in read_headers if h.lower() in result.readable_headers)
    return Cell(
        outcome=result.outcome,
        preflight_sent=result.preflight_sent,
        reached_server=result.reached_server,
        reached_backends=result.reached_backends,
        cookie_sent=result.cookie_sent,
        cookie_stored=result.cookie_stored,
        status=result.status,
        readable_headers=readable,
    )


def load_baseline(path: Path) -> Baseline | None:
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Baseline.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ScenarioError(
            str(path),
            None,
            "",
            f"unreadable baseline ({first}); re-record it with --cors-update-baseline",
        ) from None


def updated(old: Baseline | None, scenario: Scenario, results: Iterable[Result]) -> Baseline:
    """`old` with the observed cells replaced; cells not observed this time are kept."""
    baseline = Baseline(scenario=scenario.name) if old is None else old.model_copy(deep=True)
    for result in results:
        request = scenario.request(result.request)
        baseline.cells.setdefault(result.request, {})[result.browser] = cell_of(
            result, request.read_headers
        )
        baseline.browsers[result.browser] = Recorded(
            version=result.browser_version, engine=result.engine
        )
    known = {r.name for r in scenario.requests}
    order = [r.name for r in scenario.requests]
    baseline.cells = {
        name: {b: baseline.cells[name][b] for b in BROWSERS if b in baseline.cells[name]}
        for name in order
        if name in baseline.cells and name in known
    }
    baseline.browsers = {b: baseline.browsers[b] for b in BROWSERS if b in baseline.browsers}
    return baseline


def _flow(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, default_flow_style=True, sort_keys=False, width=10_000).strip()


def dump(baseline: Baseline) -> str:
    """One line per cell, so that a change in one browser is a one-line diff."""
    lines = [HEADER.rstrip("\n"), f"scenario: {baseline.scenario}", "browsers:"]
    for browser, recorded in baseline.browsers.items():
        lines.append(f"  {browser}: {_flow(recorded.model_dump(mode='json'))}")
    lines.append("cells:")
    for request, row in baseline.cells.items():
        lines.append(f"  {request}:")
        for browser, cell in row.items():
            lines.append(f"    {browser}: {_flow(_cell_data(cell))}")
    return "\n".join(lines) + "\n"


def _cell_data(cell: Cell) -> dict[str, Any]:
    data = cell.model_dump(mode="json")
    for optional in ("cookie_stored", "reached_backends"):
        if data[optional] is None:
            del data[optional]
    return data


def drift(baseline: Baseline, result: Result, read_headers: Iterable[str]) -> list[str] | None:
    """What changed since the baseline, one line per fact; None when the cell is not in it."""
    recorded = baseline.cells.get(result.request, {}).get(result.browser)
    if recorded is None:
        return None
    now = cell_of(result, read_headers)
    changes = []
    for name in Cell.model_fields:
        before, after = getattr(recorded, name), getattr(now, name)
        if before != after:
            changes.append(f"{name}: {_show(before)} -> {_show(after)}")
    if changes:
        was = baseline.browsers.get(result.browser)
        if was is not None and (was.version, was.engine) != (result.browser_version, result.engine):
            changes.append(
                f"since {result.browser} {was.version} ({was.engine}); "
                f"now {result.browser_version} ({result.engine})"
            )
        elif was is not None:
            changes.append(f"same browser as the baseline: {result.browser} {was.version}")
    return changes


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
