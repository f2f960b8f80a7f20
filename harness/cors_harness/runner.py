"""Running scenarios: servers per scenario, browsers once per run, probes batched per page."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import itertools
import platform
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from cors_harness._exceptions import HarnessError
from cors_harness.classify import classify, navigation, reached_backends, step_failure
from cors_harness.engines import EngineBroken, EngineTimeouts, Overrides
from cors_harness.engines.base import LaunchedBrowser, ProbeSpec, Session, harness_failure, one_line
from cors_harness.engines.profiles import chosen_profile
from cors_harness.expect import mismatches
from cors_harness.fleet import Fleet
from cors_harness.frontend import PAGE
from cors_harness.network import RunNetwork
from cors_harness.recorder import PROBE_PARAM
from cors_harness.results import (
    Attempt,
    BrowserInfo,
    CookieJar,
    Environment,
    PageResult,
    Result,
)
from cors_harness.scenario import (
    BROWSERS,
    Browser,
    Cookie,
    Request,
    Scenario,
)
from cors_harness.schedule import Schedule
from cors_harness.server_process import ServerPool
from cors_harness.servers import AppFactory, scenario_servers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

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


def cookie_groups(scenario: Scenario) -> list[list[Request]]:
    """Requests that can share one browser context, in order of first appearance.

    Requests with the same cookie set-up cannot disturb each other's cookies, so they share a
    context and run concurrently; one that calls a cookie-setting route gets a context of its own.
    So do the requests linked by `after` (a login and what needs its cookie), all in one, each
    listed after the request it runs after.
    """
    linked = {r.after for r in scenario.requests} | {r.name for r in scenario.requests if r.after}
    groups: dict[object, list[Request]] = {}
    for request in scenario.requests:
        # Cookies are set up on the backend the request calls.
        key: object = ()
        if request.cookies:
            key = (scenario.backend_of(request), tuple(request.cookies))
        if request.name in linked:
            steps = scenario.steps_before(request.name)
            key = ("after", steps[-1].name if steps else request.name)
        elif request.path.startswith("/cookies/set"):
            key = ("own", request.name)
        groups.setdefault(key, []).append(request)
    return [
        sorted(group, key=lambda r: len(scenario.steps_before(r.name))) for group in groups.values()
    ]


def expected_cookies(scenario: Scenario, request: Request) -> list[str]:
    """The cookies `request` is meant to send: its set-up's, and those its login steps set."""
    return [c.name for c in request.cookies] + [
        name for step in scenario.steps_before(request.name) for name in step.sets_cookies
    ]


def cookie_stored(scenario: Scenario, request: Request, jar: CookieJar | None) -> bool | None:
    """Whether the jar held every cookie `request` is meant to send; None when it has none to
    send or the reading cannot tell (a cookie missing from a reading that does not show other
    sites' partitions may be in one, unless a top-level visit set it, which is first-party)."""
    names = expected_cookies(scenario, request)
    if not names or jar is None or jar.unreadable is not None:
        return None
    if set(names) <= jar.names():
        return True
    first_party = all(c.set_by == "navigation" for c in request.cookies) and not any(
        step.sets_cookies for step in scenario.steps_before(request.name)
    )
    return False if jar.sees_partitions or first_party else None


UPGRADED = "the browser upgraded the page"


def moved_page(declared: str, seen: str | None) -> str | None:
    """Why a page that is not on its declared origin made no request from there; None if it is.

    A browser that upgrades http navigations (Chromium's HTTPS-Upgrades, Firefox's HTTPS-First)
    shows an http page as https when the same host serves https: in that browser the http page
    cannot be reached at all, and a request from it cannot be observed.
    """
    if seen is None or seen == declared:
        return None
    if declared.startswith("http://") and seen == "https://" + declared.removeprefix("http://"):
        return (
            f"{UPGRADED} {declared} to {seen} (HTTPS upgrades), since that host serves https "
            "too; in this browser no page on the http origin can be reached"
        )
    return f"the browser showed the page as {seen}, not {declared}"


def _url(base: str, path: str, probe: str, extra: dict[str, str] | None = None) -> str:
    query = urlencode({**(extra or {}), PROBE_PARAM: probe})
    return f"{base}{path}{'&' if '?' in path else '?'}{query}"


def _cookie_url(backend: str, cookie: Cookie, probe: str) -> str:
    params = {
        "name": cookie.name,
        "value": cookie.value,
        "secure": str(cookie.secure).lower(),
        "httponly": str(cookie.httponly).lower(),
    }
    if cookie.samesite is not None:
        params["samesite"] = cookie.samesite
    return _url(backend, "/cookies/set", probe, params)


class _Repeats:
    """One page's batch: every request once, concurrently; then the repeated ones again, to the
    same URL on their schedule, noting which attempts the browser preflighted."""

    def __init__(
        self,
        session: Session,
        page_url: str,
        specs: dict[str, ProbeSpec],
        recorder: Evidence,
        batch: list[Request],
    ) -> None:
        self.session = session
        self.page_url = page_url
        self.specs = specs
        self.recorder = recorder
        self.batch = batch

    def _counts(self, name: str) -> tuple[int, int]:
        evidence = self.recorder.for_probe(self.specs[name]["probe"])
        preflights = sum(1 for e in evidence if e.preflight)
        return preflights, len(evidence) - preflights

    def _attempt(self, due: list[Request], started: float) -> dict[str, tuple[PageResult, Attempt]]:
        at = round(time.monotonic() - started, 3)
        before = {r.name: self._counts(r.name) for r in due}
        answers = self.session.run_probes(self.page_url, [self.specs[r.name] for r in due])
        out = {}
        for request, page in zip(due, answers, strict=True):
            preflights, actual = self._counts(request.name)
            out[request.name] = (
                page,
                Attempt(
                    at_s=at,
                    preflight_sent=preflights > before[request.name][0],
                    reached_server=actual > before[request.name][1],
                    received=page.received,
                ),
            )
        return out

    def run(self, attempts: dict[str, list[Attempt]]) -> dict[str, PageResult]:
        started = time.monotonic()
        pages: dict[str, PageResult] = {}
        first = self._attempt(self.batch, started)
        schedule: dict[float, list[Request]] = {}
        for request in self.batch:
            pages[request.name], attempt = first[request.name]
            if request.repeat is not None:
                attempts[request.name] = [attempt]
                for k in range(1, request.repeat.times):
                    schedule.setdefault(round(k * request.repeat.interval, 3), []).append(request)
        for at in sorted(schedule):
            time.sleep(max(0.0, started + at - time.monotonic()))
            for name, (page, attempt) in self._attempt(schedule[at], started).items():
                attempts[name].append(attempt)
                # A harness failure in any attempt makes the whole cell an error.
                if pages[name].harness_error is None:
                    pages[name] = page
        return pages


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
        # The run's proxy and certificate authority: production host names and https.
        self.network = RunNetwork()
        # Scenario servers' child processes, kept from one scenario to the next.
        self._pool: ServerPool | None = None
        # Seconds each browser spent on its cells, and how many: its own throughput, which the
        # run's wall time (the browsers at work together) does not show.
        self.busy_s: dict[Browser, float] = {}
        self.cells: dict[Browser, int] = {}
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
            self._unserved,
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
            return self._browser_cells(scenario, name, origins, recorder)
        finally:
            self.busy_s[name] = self.busy_s.get(name, 0.0) + time.monotonic() - started
            self.cells[name] = self.cells.get(name, 0) + len(scenario.requests)

    def _browser_cells(
        self, scenario: Scenario, name: Browser, origins: Origins, recorder: Evidence
    ) -> list[Result]:
        results: list[Result] = []
        browser = self.browsers.get(name)
        # Why this browser's cells are errors, once they are.
        broken: str | None = None
        if browser is None:
            broken = self.browsers.failures.get(
                name, f"{name} was not launched in this run"
            )
        pages: dict[str, PageResult] = {}
        specs: dict[str, ProbeSpec] = {}
        attempts: dict[str, list[Attempt]] = {}
        jars: dict[str, CookieJar] = {}
        for group in cookie_groups(scenario):
            group_specs = {r.name: self._spec(scenario, r, name, origins) for r in group}
            specs.update(group_specs)
            if browser is not None and broken is None:
                try:
                    found = self._run_group(
                        browser, group, group_specs, origins, recorder, attempts, jars
                    )
                except EngineBroken as exc:
                    # It owed this scenario's other cells too; the next one relaunches it.
                    broken = str(exc)
                    self.browsers.discard(name)
            if broken is not None:
                found = harness_failure(list(group_specs.values()), broken)
            pages.update({r.name: p for r, p in zip(group, found, strict=True)})
        for request in scenario.requests:
            result = self._result(
                scenario,
                request,
                name,
                browser,
                origins,
                specs[request.name],
                pages[request.name],
                recorder,
                jars.get(request.name),
            )
            result.attempts = attempts.get(request.name, [])
            results.append(result)
        return results

    def _unserved(self, scenario: Scenario, why: str) -> list[Result]:
        """Every cell of a scenario whose servers could not start: error, with the reason."""
        results = []
        for name in scenario.browsers:
            browser = self.browsers.launched.get(name)
            for request in scenario.requests:
                probe = f"{name[:2]}-{request.name[:24]}-unserved"
                page = PageResult(probe=probe, received=False, harness_error=why, error=None)
                found = classify(page, [], [])
                result = Result(
                    scenario=scenario.name,
                    request=request.name,
                    browser=name,
                    browser_version=browser.info.version if browser else "unavailable",
                    engine=browser.info.engine if browser else "unavailable",
                    frontend_origin="",
                    visit=request.visit,
                    url=request.path,
                    method=request.method,
                    credentials=request.credentials,
                    mode=request.mode,
                    redirect=request.redirect,
                    outcome=found.outcome,
                    preflight_sent=False,
                    reached_server=False,
                    cookie_sent=False,
                    status=None,
                    readable_headers={},
                    error=found.error,
                    console=[],
                    evidence=[],
                )
                self._expect(request, name, result)
                results.append(result)
        return results

    def _expect(self, request: Request, browser: Browser, result: Result) -> None:
        if request.expect is not None:
            facts = request.expect.for_browser(browser)
            expected = facts.model_dump(exclude_none=True)
            if expected:
                result.expected = expected
                result.mismatches = mismatches(facts, result, request.read_headers)
                result.expectation_met = not result.mismatches

    def _spec(
        self, scenario: Scenario, request: Request, browser: Browser, origins: Origins
    ) -> ProbeSpec:
        probe = f"{browser[:2]}-{request.name[:24]}-{secrets.token_hex(4)}"
        return ProbeSpec(
            probe=probe,
            url=_url(
                origins.backend_origin(scenario.backend_of(request)),
                origins.substitute(request.path),
                probe,
            ),
            method=request.method,
            headers=request.fetch_headers(),
            body=request.fetch_body(),
            credentials=request.credentials,
            mode=request.mode,
            redirect=request.redirect,
            timeout_ms=int(request.timeout * 1000) if request.timeout else self.timeout_ms,
        )

    def _run_group(
        self,
        browser: LaunchedBrowser,
        group: list[Request],
        specs: dict[str, ProbeSpec],
        origins: Origins,
        recorder: Evidence,
        attempts: dict[str, list[Attempt]],
        jars: dict[str, CookieJar],
    ) -> list[PageResult]:
        # A visit has no page: it is a navigation in a tab of its own.
        page_of = {r.name: f"{origins.frontends[r.frontend]}{PAGE}" for r in group if r.frontend}
        by_name = {r.name: r for r in group}
        needed = {r.after for r in group}

        def depth(request: Request) -> int:
            return 0 if request.after is None else 1 + depth(by_name[request.after])

        def reason(exc: Exception) -> str:
            text = one_line(exc)
            if isinstance(exc, HarnessError):  # its messages are written to stand alone
                return text
            return f"{type(exc).__name__}: {text}"

        try:
            with browser.session() as session:
                home = origins.backend_origin(group[0].backend)
                for cookie in group[0].cookies:
                    setup = f"setup-{secrets.token_hex(4)}"
                    url = _cookie_url(home, cookie, setup)
                    if cookie.set_by == "navigation":
                        session.visit(url)
                    else:
                        spec = ProbeSpec(
                            probe=setup,
                            url=url,
                            method="GET",
                            headers={},
                            body=None,
                            credentials="include",
                            mode="cors",
                            redirect="follow",
                            timeout_ms=self.timeout_ms,
                        )
                        session.run_probes(page_of[group[0].name], [spec])
                found: dict[str, PageResult] = {}
                # Why the requests after a step cannot be observed, by the step's name.
                unmet: dict[str, str] = {}
                # Each step completes before the requests after it start; those run together.
                for level, staged in itertools.groupby(sorted(group, key=depth), key=depth):
                    ready: list[Request] = []
                    for request in staged:
                        why = unmet.get(request.after) if request.after is not None else None
                        if why is None:
                            ready.append(request)
                            continue
                        unmet[request.name] = why
                        (found[request.name],) = harness_failure([specs[request.name]], why)
                    # The jar as the stage's requests find it: after the set-up, after each step.
                    if ready and (level > 0 or group[0].cookies):
                        read = {
                            name: self._read_jar(session, origins.backend_origin(name), reason)
                            for name in dict.fromkeys(r.backend for r in ready)
                        }
                        jars.update({r.name: read[r.backend] for r in ready})
                    for request in ready:
                        if not request.visit:
                            continue
                        probe = specs[request.name]["probe"]
                        try:
                            session.visit(specs[request.name]["url"])
                        except EngineBroken:
                            raise
                        except Exception as exc:  # the navigation failed: no answer to show
                            (found[request.name],) = harness_failure(
                                [specs[request.name]], f"visit: {reason(exc)}"
                            )
                        else:
                            found[request.name] = navigation(probe, recorder.for_probe(probe))
                    fetches = [r for r in ready if not r.visit]
                    for page_url in dict.fromkeys(page_of[r.name] for r in fetches):
                        batch = [r for r in fetches if page_of[r.name] == page_url]
                        repeated = _Repeats(session, page_url, specs, recorder, batch)
                        found.update(repeated.run(attempts))
                    for request in ready:
                        if request.name in needed:
                            evidence = recorder.for_probe(specs[request.name]["probe"])
                            why = step_failure(request, found[request.name], evidence)
                            if why is not None:
                                unmet[request.name] = why
                return [found[r.name] for r in group]
        except EngineBroken:
            raise
        except Exception as exc:  # any failure of the browser is the harness's, not a block
            return harness_failure(list(specs.values()), reason(exc))

    def _read_jar(
        self, session: Session, backend: str, reason: Callable[[Exception], str]
    ) -> CookieJar:
        try:
            return session.cookie_jar(backend)
        except EngineBroken:
            raise
        except Exception as exc:  # the cells still stand; only what the jar held is unknown
            return CookieJar(read_by="", sees_partitions=False, cookies=[], unreadable=reason(exc))

    def _result(
        self,
        scenario: Scenario,
        request: Request,
        browser_name: Browser,
        browser: LaunchedBrowser | None,
        origins: Origins,
        spec: ProbeSpec,
        page: PageResult,
        recorder: Evidence,
        jar: CookieJar | None,
    ) -> Result:
        evidence = recorder.for_probe(spec["probe"])
        moved = None
        if request.frontend is not None and page.harness_error is None:
            moved = moved_page(origins.frontends[request.frontend], page.page_origin)
        if moved is not None and not moved.startswith(UPGRADED):
            (page,) = harness_failure([spec], moved)
        # A login step's cookies are the ones its dependents are meant to send.
        found = classify(page, evidence, expected_cookies(scenario, request), recorder.failure)
        if moved is not None and found.outcome != "error":
            # Measured, not a failure: this browser never shows the page on its http origin.
            found = dataclasses.replace(found, outcome="upgraded", error=moved)
        readable = {k.lower(): v for k, v in page.headers.items()}
        result = Result(
            scenario=scenario.name,
            request=request.name,
            browser=browser_name,
            browser_version=browser.info.version if browser else "unavailable",
            engine=browser.info.engine if browser else "unavailable",
            frontend_origin="" if request.frontend is None else origins.frontends[request.frontend],
            visit=request.visit,
            url=spec["url"],
            method=request.method,
            credentials=request.credentials,
            mode=request.mode,
            redirect=request.redirect,
            response_type=page.response_type,
            outcome=found.outcome,
            preflight_sent=found.preflight_sent,
            reached_server=found.reached_server,
            reached_backends=reached_backends(evidence)
            if len(scenario.backend_specs()) > 1
            else None,
            cookie_sent=found.cookie_sent,
            cookie_stored=cookie_stored(scenario, request, jar),
            cookie_jar=jar,
            status=found.status,
            readable_headers=readable,
            error=found.error,
            console=page.console,
            secure_context=page.secure_context,
            evidence=evidence,
        )
        self._expect(request, browser_name, result)
        return result
