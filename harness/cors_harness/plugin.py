"""The pytest plugin: scenario files as test items, expectations, baselines, merged reports.

It only wires pytest to the library: `Harness` runs scenarios, `baseline` keeps observed
matrices, `explain` writes failure text, `report` writes results. Registered through the
`pytest11` entry point `cors_harness`.
"""

from __future__ import annotations

import json
import platform
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cors_harness import baseline as baselines
from cors_harness._exceptions import HarnessError, ScenarioError
from cors_harness.claims import claim_verdicts
from cors_harness.engines import Overrides
from cors_harness.expect import mismatches
from cors_harness.explain import explain
from cors_harness.processes import owned_processes
from cors_harness.report import claims_disagree, write_reports
from cors_harness.results import ClaimVerdict, Environment, Result, RunResults
from cors_harness.runner import Harness
from cors_harness.scenario import BROWSERS, Browser, Request, Scenario, load_scenario
from cors_harness.userapp import Observations, observe_app

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from _pytest._code.code import ExceptionInfo, TerminalRepr

RESULTS_KEY = "cors_harness_results"
ENVIRONMENT_KEY = "cors_harness_environment"
SCENARIOS_KEY = "cors_harness_scenarios"


class CellFailure(Exception):
    """A cell did not match its expectation or its baseline."""


class CellError(Exception):
    """The harness could not observe a cell (browser or server failure)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cors-harness", "CORS scenarios in real browsers")
    group.addoption(
        "--cors-update-baseline",
        action="store_true",
        help="record the observed matrix of each scenario into its .baseline.yaml",
    )
    group.addoption(
        "--cors-report",
        metavar="DIR",
        type=Path,
        help="write results.json and results.md for all cells of the run to DIR",
    )
    group.addoption(
        "--cors-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds a single fetch() may take (default: %(default)s)",
    )
    parser.addini(
        "cors_scenarios",
        type="paths",
        default=["scenarios"],
        help="directories whose *.yaml files are CORS scenarios (default: scenarios)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for browser in BROWSERS:
        config.addinivalue_line("markers", f"{browser}: CORS cell observed in {browser}")
    config.addinivalue_line("markers", "cors: a CORS scenario cell")
    config.pluginmanager.register(CorsSession(config), "cors-harness-session")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix not in {".yaml", ".yml"} or file_path.name.endswith(".baseline.yaml"):
        return None
    # Without an ini file the default comes back as plain strings, relative to the rootdir.
    roots = [parent.config.rootpath / root for root in parent.config.getini("cors_scenarios")]
    if any(file_path.is_relative_to(root) for root in roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _selected_browsers(config: pytest.Config) -> list[Browser]:
    # pytest-playwright's --browser, when it is installed and given; else all three.
    chosen = config.getoption("browser", default=None) or []
    return [b for b in BROWSERS if b in chosen] or list(BROWSERS)


class CorsSession:
    """Per process: launches browsers once, runs each scenario file once for its selected items."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._stack = ExitStack()
        self._harness: Harness | None = None
        self._launch_error: str | None = None
        self.ran: dict[Path, dict[tuple[str, str], Result]] = {}
        self.results: list[Result] = []
        self.environments: list[dict[str, Any]] = []
        self.scenario_paths: dict[str, str] = {}
        self.claims: list[ClaimVerdict] = []

    def harness(self) -> Harness:
        if self._harness is None and self._launch_error is None:
            channel = self.config.getoption("browser_channel", default=None)
            overrides = Overrides(channels={"chromium": channel} if channel else {})
            headed = bool(self.config.getoption("headed", default=False))
            try:
                # Whatever the browsers start is stopped with them, on every path.
                self._stack.enter_context(owned_processes())
                self._harness = self._stack.enter_context(
                    Harness(
                        _selected_browsers(self.config),
                        overrides,
                        self.config.getoption("cors_timeout"),
                        headless=not headed,
                    )
                )
            except HarnessError as exc:
                self._launch_error = str(exc)
        if self._harness is None:
            raise CellError(f"browsers could not be launched: {self._launch_error}")
        return self._harness

    def observe(self, file: ScenarioFile) -> dict[tuple[str, str], Result]:
        if file.path not in self.ran:
            items = [i for i in file.session.items if isinstance(i, CellItem) and i.parent is file]
            wanted = {i.request.name for i in items}
            browsers = [b for b in BROWSERS if any(i.browser == b for i in items)]
            scenario = file.scenario.model_copy(
                update={
                    "requests": [r for r in file.scenario.requests if r.name in wanted],
                    "browsers": browsers,
                }
            )
            harness = self.harness()
            found = harness.run_scenario(scenario)
            self.results.extend(found)
            self.scenario_paths[file.scenario.name] = str(file.path)
            self.ran[file.path] = {(r.request, r.browser): r for r in found}
            if file.updating:
                file.write_baseline(found)
        return self.ran[file.path]

    def environment(self) -> dict[str, Any]:
        if self._harness is None:
            return {}
        return self._harness.environment().model_dump(mode="json")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        environment = self.environment()
        self._stack.close()
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            # An xdist worker: hand the cells to the controller, which writes the report.
            workeroutput[RESULTS_KEY] = json.dumps(
                [r.model_dump(mode="json") for r in self.results]
            )
            workeroutput[ENVIRONMENT_KEY] = json.dumps(environment)
            workeroutput[SCENARIOS_KEY] = json.dumps(self.scenario_paths)
            return
        if environment:
            self.environments.append(environment)
        self.claims = self._claims()
        self._write_report()

    def _claims(self) -> list[ClaimVerdict]:
        """Verdicts from all cells of the run, merged across workers."""
        verdicts: list[ClaimVerdict] = []
        for _, path in sorted(self.scenario_paths.items()):
            verdicts += claim_verdicts(load_scenario(path), self.results)
        return [v for v in verdicts if v.verdicts]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.claims:
            return
        terminalreporter.section("CORS claims")
        for claim in self.claims:
            verdicts = ", ".join(f"{v.browser} {v.verdict}" for v in claim.verdicts)
            mark = "  <- browsers disagree" if claims_disagree(claim) else ""
            terminalreporter.write_line(f"{claim.scenario}::{claim.id}: {verdicts}{mark}")
            terminalreporter.write_line(f"    {claim.claim}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        if RESULTS_KEY in output:
            self.results.extend(Result.model_validate(r) for r in json.loads(output[RESULTS_KEY]))
            self.scenario_paths.update(json.loads(output[SCENARIOS_KEY]))
            environment = json.loads(output[ENVIRONMENT_KEY])
            if environment:
                self.environments.append(environment)

    def _write_report(self) -> None:
        out = self.config.getoption("cors_report")
        if out is None:
            return
        browsers = {b["name"]: b for env in self.environments for b in env["browsers"]}
        first = self.environments[0] if self.environments else {}
        environment = Environment(
            python=first.get("python", platform.python_version()),
            platform=first.get("platform", platform.platform()),
            packages=first.get("packages", {}),
            browsers=[browsers[b] for b in BROWSERS if b in browsers],
        )
        order = {(r.scenario, r.request, r.browser): r for r in self.results}
        run = RunResults(
            started_at="",
            wall_seconds=0.0,
            environment=environment,
            claims=self.claims,
            results=sorted(order.values(), key=lambda r: (r.scenario, BROWSERS.index(r.browser))),
        )
        write_reports(run, out)


def _session(config: pytest.Config) -> CorsSession:
    plugin = config.pluginmanager.get_plugin("cors-harness-session")
    assert isinstance(plugin, CorsSession)
    return plugin


@pytest.fixture(scope="session")
def cors_harness(pytestconfig: pytest.Config) -> Harness:
    """The process's browsers, launched once and shared with scenario items and `cors_observe`.

    Playwright's sync API allows one instance per thread, so there is exactly one Harness.
    """
    try:
        return _session(pytestconfig).harness()
    except CellError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def cors_observe(pytestconfig: pytest.Config, cors_harness: Harness) -> Callable[..., Observations]:
    """Observe your own ASGI app in the selected browsers; see `cors_harness.userapp.observe_app`.

    def test_spa_can_list_items(cors_observe):
        cells = cors_observe("myproject.main:app",
                             frontends={"spa": {"host": "localhost", "port": 3000}},
                             requests=[{"name": "list", "frontend": "spa", "path": "/items"}])
        assert cells["list", "chromium"].outcome == "allowed"
    """

    def observe(app: Any = None, **kwargs: Any) -> Observations:
        kwargs.setdefault("browsers", _selected_browsers(pytestconfig))
        return observe_app(cors_harness, app, **kwargs)

    return observe


class ScenarioFile(pytest.File):
    scenario: Scenario

    def collect(self) -> Iterator[CellItem]:
        try:
            self.scenario = load_scenario(self.path)
            self.baseline = baselines.load_baseline(baselines.baseline_path(self.path))
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        self.updating = bool(self.config.getoption("cors_update_baseline"))
        browsers = [b for b in self.scenario.browsers if b in _selected_browsers(self.config)]
        for request in self.scenario.requests:
            for browser in browsers:
                item = CellItem.from_parent(
                    self, name=f"{request.name}[{browser}]", request=request, browser=browser
                )
                item.add_marker(browser)
                item.add_marker("cors")
                yield item

    def write_baseline(self, results: list[Result]) -> None:
        path = baselines.baseline_path(self.path)
        fresh = baselines.updated(baselines.load_baseline(path), self.scenario, results)
        path.write_text(baselines.dump(fresh), encoding="utf-8")

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, self.CollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CellItem(pytest.Item):
    parent: ScenarioFile

    def __init__(self, *, request: Request, browser: Browser, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request = request
        self.browser = browser
        self.result: Result | None = None

    @property
    def session_plugin(self) -> CorsSession:
        return _session(self.config)

    def setup(self) -> None:
        # Failing in setup makes pytest report an ERROR: the harness failed, not the cell.
        try:
            cells = self.session_plugin.observe(self.parent)
        except (HarnessError, CellError) as exc:
            pytest.fail(f"harness could not observe the cell: {exc}", pytrace=False)
        self.result = cells[self.request.name, self.browser]
        expected = self.request.expect.for_browser(self.browser) if self.request.expect else None
        if self.result.outcome == "error" and (expected is None or expected.outcome != "error"):
            pytest.fail(
                explain(self.result, [], "harness could not observe the cell"), pytrace=False
            )

    def runtest(self) -> None:
        assert self.result is not None
        result = self.result
        problems: list[str] = []
        expectation = self.request.expect
        has_expectation = False
        if expectation is not None:
            facts = expectation.for_browser(self.browser)
            if facts.model_dump(exclude_none=True):
                has_expectation = True
                problems += [
                    f"expected {m}" for m in mismatches(facts, result, self.request.read_headers)
                ]
        has_baseline = False
        if self.parent.baseline is not None and not self.parent.updating:
            changes = baselines.drift(self.parent.baseline, result, self.request.read_headers)
            if changes is not None:
                has_baseline = True
                if changes:
                    problems.append(
                        f"changed since the baseline {baselines.baseline_path(self.path).name}:"
                    )
                    problems += [f"  {c}" for c in changes]
        if not (has_expectation or has_baseline or self.parent.updating):
            problems.append(
                "no expectation and no baseline for this cell; record one with: "
                f"pytest {self._shown_path()} --cors-update-baseline"
            )
        if problems:
            raise CellFailure(explain(result, problems, "CORS cell differs"))

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CellFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _shown_path(self) -> str:
        try:
            return str(self.path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(self.path)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.parent.scenario.name}::{self.name}"
