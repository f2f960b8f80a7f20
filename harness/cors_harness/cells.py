"""One browser's cells of a scenario: its contexts, cookie set-up, steps and probes, and from
what the page saw and the servers recorded, one result per request."""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cors_harness._exceptions import HarnessError
from cors_harness.classify import classify, navigation, reached_backends, step_failure
from cors_harness.engines import EngineBroken
from cors_harness.engines.base import ProbeSpec, SessionNotStarted, harness_failure, one_line
from cors_harness.expect import mismatches
from cors_harness.frontend import PAGE
from cors_harness.groups import cookie_groups, cookie_stored, expected_cookies
from cors_harness.recorder import PROBE_PARAM
from cors_harness.repeats import Repeats
from cors_harness.results import Attempt, CookieJar, PageResult, Result
from cors_harness.spec_verdicts import spec_verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    from cors_harness.engines.base import LaunchedBrowser, Session
    from cors_harness.fleet import Fleet
    from cors_harness.origins import Origins
    from cors_harness.recorder import Evidence
    from cors_harness.scenario import Browser, Cookie, Request, Scenario


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


def _what_was_asked(
    scenario: Scenario, request: Request, name: Browser, browser: LaunchedBrowser | None
) -> dict[str, Any]:
    """A cell's fields that say what was asked of which browser, whatever came of it."""
    return {
        "scenario": scenario.name,
        "request": request.name,
        "browser": name,
        "browser_version": browser.info.version if browser else "unavailable",
        "engine": browser.info.engine if browser else "unavailable",
        "visit": request.visit,
        "kind": request.kind,
        "method": request.method,
        "credentials": request.credentials,
        "mode": request.mode,
        "redirect": request.redirect,
    }


class Cells:
    """Observes one browser's cells of a scenario, from that browser's thread."""

    def __init__(self, browsers: Fleet, timeout_ms: int) -> None:
        self.browsers = browsers
        self.timeout_ms = timeout_ms

    def run(
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
            group_specs = {r.name: self.spec(scenario, r, name, origins) for r in group}
            specs.update(group_specs)
            if browser is not None and broken is None:
                try:
                    try:
                        found = self.run_group(
                            browser, group, group_specs, origins, recorder, attempts, jars
                        )
                    except SessionNotStarted:
                        # Nothing was sent yet (WebKitWebDriver stalls on a new session now
                        # and then): a new browser gets the group once more.
                        self.browsers.discard(name)
                        browser = self.browsers.get(name)
                        if browser is None:
                            raise
                        found = self.run_group(
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
            result = self.result(
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

    def unserved(self, scenario: Scenario, why: str) -> list[Result]:
        """Every cell of a scenario whose servers could not start: error, with the reason."""
        results = []
        for name in scenario.browsers:
            browser = self.browsers.launched.get(name)
            for request in scenario.requests:
                probe = f"{name[:2]}-{request.name[:24]}-unserved"
                page = PageResult(probe=probe, received=False, harness_error=why, error=None)
                found = classify(page, [], [])
                result = Result(
                    **_what_was_asked(scenario, request, name, browser),
                    frontend_origin="",
                    url=request.path,
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
                self.expect(request, name, result)
                results.append(result)
        return results

    def expect(self, request: Request, browser: Browser, result: Result) -> None:
        if request.expect is not None:
            facts = request.expect.for_browser(browser)
            expected = facts.model_dump(exclude_none=True)
            if expected:
                result.expected = expected
                result.mismatches = mismatches(facts, result, request.read_headers)
                result.expectation_met = not result.mismatches

    def spec(
        self, scenario: Scenario, request: Request, browser: Browser, origins: Origins
    ) -> ProbeSpec:
        probe = f"{browser[:2]}-{request.name[:24]}-{secrets.token_hex(4)}"
        url = _url(
            origins.backend_origin(scenario.backend_of(request)),
            origins.substitute(request.path),
            probe,
        )
        if request.kind == "websocket":
            # The backend's origin with the WebSocket scheme: http becomes ws, https wss.
            url = "ws" + url.removeprefix("http")
        return ProbeSpec(
            probe=probe,
            url=url,
            method=request.method,
            headers=request.fetch_headers(),
            body=request.fetch_body(),
            credentials=request.credentials,
            mode=request.mode,
            redirect=request.redirect,
            timeout_ms=int(request.timeout * 1000) if request.timeout else self.timeout_ms,
            kind=request.kind,
        )

    def run_group(
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
            self.browsers.opened_context(browser.info.name)
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
                            kind="fetch",
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
                            name: self.read_jar(session, origins.backend_origin(name), reason)
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
                        repeated = Repeats(session, page_url, specs, recorder, batch)
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

    def read_jar(
        self, session: Session, backend: str, reason: Callable[[Exception], str]
    ) -> CookieJar:
        try:
            return session.cookie_jar(backend)
        except EngineBroken:
            raise
        except Exception as exc:  # the cells still stand; only what the jar held is unknown
            return CookieJar(read_by="", sees_partitions=False, cookies=[], unreadable=reason(exc))

    def result(
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
            **_what_was_asked(scenario, request, browser_name, browser),
            frontend_origin="" if request.frontend is None else origins.frontends[request.frontend],
            messages=page.messages,
            url=spec["url"],
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
        result.spec = spec_verdict(request, result)
        if result.spec is not None:
            result.deviates_from_spec = bool(result.spec.departures)
        self.expect(request, browser_name, result)
        return result


__all__ = ["UPGRADED", "Cells", "moved_page"]
