"""The pytest plugin: scenario files as test items, expectations, baselines, merged reports.

It only wires pytest to the library: `Harness` runs scenarios, `baseline` keeps observed
matrices, `explain` writes failure text, `report` writes results. Registered through the
`pytest11` entry point `cors_harness`.

Installed in a project that has no scenarios, it changes nothing: it collects only files named
`*.cors.yaml`/`*.cors.yml`, and other YAML only under the directories the project names in the
ini option `cors_scenarios`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import sys
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from cors_harness import baseline as baselines
from cors_harness._exceptions import HarnessError, ScenarioError
from cors_harness.claims import claim_verdicts
from cors_harness.engines import EngineTimeouts, Overrides
from cors_harness.expect import mismatches
from cors_harness.explain import explain
from cors_harness.loading import load_scenario
from cors_harness.processes import owned_processes
from cors_harness.report import claims_disagree, write_reports
from cors_harness.results import ClaimVerdict, Environment, Result, RunResults
from cors_harness.runner import Harness
from cors_harness.scenario import BROWSERS, Browser, Request, Scenario
from cors_harness.userapp import observe_app
from cors_harness.xvfb import virtual_display

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator

    from _pytest._code.code import ExceptionInfo, TerminalRepr

RESULTS_KEY = "cors_harness_results"
ENVIRONMENT_KEY = "cors_harness_environment"
SCENARIOS_KEY = "cors_harness_scenarios"
# Names no other tool gives its YAML: collected wherever pytest looks.
OWN_SUFFIXES = (".cors.yaml", ".cors.yml")
# pytest-playwright's options for its own `page` fixtures, with their defaults. CORS cells are not
# driven through those fixtures, so these change nothing in them.
PAGE_ONLY_OPTIONS: dict[str, object] = {
    "tracing": "off",
    "video": "off",
    "screenshot": "off",
    "full_page_screenshot": False,
    "output": "test-results",
    "slowmo": 0,
    "device": None,
}
# The cells each `cors_observe` test observed, for its failure report.
OBSERVED = pytest.StashKey[list[Result]]()


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
    group.addoption(
        "--cors-slow",
        action="store_true",
        help="also run the cells of scenarios marked slow: true (they wait minutes); without "
        "it they are deselected",
    )
    group.addoption(
        "--cors-profile",
        choices=["shipped", "automation"],
        default=None,
        help="shipped: browsers as close to their defaults as the engines allow (default); "
        "automation: as Playwright and MiniBrowser set them up (env: CORS_HARNESS_PROFILE)",
    )
    parser.addini(
        "cors_scenarios",
        type="paths",
        default=[],
        help="directories whose *.yaml files are all CORS scenarios (default: none; files named "
        "*.cors.yaml are collected anywhere)",
    )


def _playwright_plugin_in_use(pluginmanager: pytest.PytestPluginManager) -> bool:
    # Registered as "playwright" by its entry point, or under its module name with -p: the
    # module covers both.
    module = sys.modules.get("pytest_playwright.pytest_playwright")
    return module is not None and pluginmanager.is_registered(module)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser
) -> Generator[None, None, None]:
    yield
    # Every plugin is registered by now (-p, the entry points, the initial conftests) and the
    # command line is parsed after this: the first point where it is known, whatever the load
    # order, whether pytest-playwright brings --browser, and the last where ours can be added.
    if _playwright_plugin_in_use(early_config.pluginmanager):
        return
    # A --browser of the project's own conftest stays theirs (and picks our browsers too).
    with suppress(ValueError, argparse.ArgumentError):
        parser.getgroup("cors-harness").addoption(
            "--browser",
            action="append",
            default=[],
            choices=BROWSERS,
            help="a browser to observe CORS cells in (repeatable; default: all three)",
        )


def pytest_configure(config: pytest.Config) -> None:
    for browser in BROWSERS:
        config.addinivalue_line("markers", f"{browser}: CORS cell observed in {browser}")
    config.addinivalue_line("markers", "cors: a CORS scenario cell")
    config.addinivalue_line(
        "markers", "cors_slow: a cell of a scenario marked slow: true (runs with --cors-slow)"
    )
    config.pluginmanager.register(CorsSession(config), "cors-harness-session")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    name = file_path.name
    if file_path.suffix not in {".yaml", ".yml"} or name.endswith(".baseline.yaml"):
        return None
    # Any YAML under the directories the project named: it said they hold scenarios, so one that
    # is not a scenario is an error there, not a file to pass over.
    roots: list[Path] = parent.config.getini("cors_scenarios")
    if name.endswith(OWN_SUFFIXES) or any(file_path.is_relative_to(root) for root in roots):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _selected_browsers(config: pytest.Config) -> list[Browser]:
    # --browser, ours or pytest-playwright's, when given; else all three.
    chosen = config.getoption("browser", default=None) or []
    return [b for b in BROWSERS if b in chosen] or list(BROWSERS)


def _parametrizes(metafunc: pytest.Metafunc, argname: str) -> bool:
    """Whether the test's own @pytest.mark.parametrize sets `argname`."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if argname in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One item per browser, as scenario cells are: test_x[webkit], selected by -m webkit or -k.
    # Not when the test chooses its browsers itself, or pytest-playwright's browser_name already
    # makes one item per browser (then cors_browser follows it). cors_observe asks for it.
    if "cors_browser" not in metafunc.fixturenames:
        return
    if "browser_name" in metafunc.fixturenames or _parametrizes(metafunc, "cors_browser"):
        return
    metafunc.parametrize("cors_browser", _selected_browsers(metafunc.config))


def _observed_browser(item: pytest.Item) -> str | None:
    """The browser a `cors_observe` item observes in, known from its parameters."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "cors_browser" not in getattr(item, "fixturenames", ()):
        return None
    browser = callspec.params.get("cors_browser", callspec.params.get("browser_name"))
    return browser if isinstance(browser, str) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before -m deselects: cors_observe items carry the markers scenario cells carry. One that
    # chose a browser --browser did not select goes, as a scenario's cells in it are not made.
    selected = _selected_browsers(config)
    slow = bool(config.getoption("cors_slow"))
    unselected = []
    for item in items:
        browser = _observed_browser(item)
        if browser in BROWSERS:
            item.add_marker(browser)
            item.add_marker("cors")
            if browser not in selected:
                unselected.append(item)
        # Deselected, not skipped: a slow scenario is left out on purpose, and says so.
        leave_out = not slow and item.get_closest_marker("cors_slow") is not None
        if leave_out and item not in unselected:
            unselected.append(item)
    if unselected:
        config.hook.pytest_deselected(items=unselected)
        dropped = set(unselected)
        items[:] = [item for item in items if item not in dropped]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    observed = item.stash.get(OBSERVED, [])
    if report.when == "call" and report.failed and observed:
        # What a failed scenario cell shows: the browser's view and the server's evidence.
        text = "\n\n".join(explain(result, [], "CORS cell") for result in observed)
        report.sections.append(("CORS cells", text))
    return report


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
        self.ran_cells = False

    def harness(self) -> Harness:
        if self._harness is None and self._launch_error is None:
            channel = self.config.getoption("browser_channel", default=None)
            overrides = Overrides(channels={"chromium": channel} if channel else {})
            headed = bool(self.config.getoption("headed", default=False))
            try:
                # Whatever the browsers start is stopped with them, on every path.
                self._stack.enter_context(owned_processes())
                if headed and not os.environ.get("DISPLAY"):
                    # Windows need a display: an Xvfb of the session's own, stopped with it.
                    timeouts = EngineTimeouts.from_env()
                    display = self._stack.enter_context(
                        virtual_display(timeouts.launch_s, timeouts.close_s)
                    )
                    self._stack.enter_context(pytest.MonkeyPatch.context()).setenv(
                        "DISPLAY", display
                    )
                self._harness = self._stack.enter_context(
                    Harness(
                        _selected_browsers(self.config),
                        overrides,
                        self.config.getoption("cors_timeout"),
                        headless=not headed,
                        profile=self.config.getoption("cors_profile"),
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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # From the reports, not the items: under xdist the controller collects no items.
        if "cors" in report.keywords:
            self.ran_cells = True

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        given = [
            f"--{dest.replace('_', '-')}"
            for dest, default in PAGE_ONLY_OPTIONS.items()
            if self.config.getoption(dest, default) != default
        ]
        if given and self.ran_cells:
            # A warning, not an error: the options are meant for the page tests of the same run.
            verb = "does" if len(given) == 1 else "do"
            terminalreporter.write_line(
                f"cors-harness: {', '.join(given)} {verb} not apply to CORS cells, only to "
                "pytest-playwright's page tests"
            )
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
def cors_browser(request: pytest.FixtureRequest) -> str:
    """The browser a `cors_observe` test observes in.

    Each such test is parametrized by it, one item per selected browser; a test can parametrize
    it itself. In a test parametrized by pytest-playwright's `browser_name`, it is that browser.
    """
    browser: str = request.getfixturevalue("browser_name")
    return browser


class MissingCell(KeyError):
    """A key of `Cells` that was not observed; the message says which were."""

    def __str__(self) -> str:
        return str(self.args[0])


class Cells(Mapping[tuple[str, str], Result]):
    """What one `cors_observe` call observed, keyed (request, browser).

    `cells["me"]` is the cell of request `me` in the item's own browser.
    """

    def __init__(self, found: Iterable[Result], browser: str) -> None:
        self._cells: dict[tuple[str, str], Result] = {(r.request, r.browser): r for r in found}
        self.browser = browser

    def __getitem__(self, key: tuple[str, str] | str) -> Result:
        __tracebackhide__ = True
        wanted = (key, self.browser) if isinstance(key, str) else key
        try:
            return self._cells[wanted]
        except (KeyError, TypeError):
            raise MissingCell(self._missing(wanted)) from None

    def _missing(self, wanted: object) -> str:
        requests = list(dict.fromkeys(request for request, _ in self._cells))
        if not (isinstance(wanted, tuple) and len(wanted) == 2):
            return f"no cell {wanted!r}: cells are keyed (request, browser): {list(self._cells)}"
        request, browser = wanted
        if request not in requests:
            close = difflib.get_close_matches(str(request), requests, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"no request {request!r}; requests: {', '.join(requests)}{hint}"
        return (
            f"no {browser} cell of {request!r}: this item observes {self.browser} only (one item "
            f"per browser); cells[{request!r}] is its cell"
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        outcomes = {key: cell.outcome for key, cell in self._cells.items()}
        return f"Cells({outcomes!r})"


@pytest.fixture
def cors_observe(
    request: pytest.FixtureRequest, cors_harness: Harness, cors_browser: str
) -> Callable[..., Cells]:
    """Observe your own ASGI app in this item's browser; see `cors_harness.userapp.observe_app`.

    def test_spa_can_list_items(cors_observe):
        cells = cors_observe("myproject.main:app",
                             frontends={"spa": "http://localhost:3000"},
                             requests=[{"name": "list", "frontend": "spa", "path": "/items"}])
        assert cells["list"].outcome == "allowed"

    A misuse fails the test with one line. A frontend's fixed port is held for the whole
    observation, so that xdist workers take turns on it instead of failing to bind it.
    """
    item = request.node
    observed = item.stash.setdefault(OBSERVED, [])
    session = _session(request.config)
    # Scenario names keep the test's cells apart in --cors-report.
    test_name = f"{item.parent.nodeid}::{getattr(item, 'originalname', item.name)}"
    calls = 0

    def cors_observe(app: Any = None, **options: Any) -> Cells:
        __tracebackhide__ = True
        nonlocal calls
        calls += 1
        if "browsers" in options:
            _misuse(
                f"browsers= is not taken: each item observes one browser ({cors_browser} here); "
                "choose them with --browser, -m or @pytest.mark.parametrize('cors_browser', ...)"
            )
        if cors_browser not in BROWSERS:
            _misuse(f"unknown browser {cors_browser!r}; choose {', '.join(BROWSERS)}")
        options.setdefault("name", test_name if calls == 1 else f"{test_name} ({calls})")
        try:
            # A fixed port is routed by the run's proxy, never bound: xdist workers cannot collide.
            cells = observe_app(cors_harness, app, browsers=[cors_browser], **options)
        except HarnessError as exc:
            _misuse(str(exc).removeprefix("observe_app: "))
        found = list(cells.values())
        session.results.extend(found)
        observed.extend(found)
        unavailable = [r for r in found if r.engine == "unavailable"]
        if unavailable:
            _misuse(f"{cors_browser} could not be launched: {unavailable[0].error}")
        return Cells(found, cors_browser)

    return cors_observe


def _misuse(problem: str) -> NoReturn:
    __tracebackhide__ = True
    # The one line, without the chain of the HarnessError it may stand for.
    raise pytest.fail.Exception(f"cors_observe: {problem}", pytrace=False) from None


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
                name = f"{request.name}[{browser}]"
                # The id written in full, as pytest parses the ids it stored (--lf, --ff): the
                # request as the name, the browser as its parameter.
                item = CellItem.from_parent(
                    self,
                    name=name,
                    nodeid=f"{self.nodeid}::{name}",
                    request=request,
                    browser=browser,
                )
                item.add_marker(browser)
                item.add_marker("cors")
                if self.scenario.slow:
                    item.add_marker("cors_slow")
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
