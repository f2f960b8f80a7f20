"""Ordered steps: a login (a fetch or a top-level visit) before the requests that need its cookie,
in one browser context, with the browser's own cookie rules; a login that sets no cookie makes
its dependents `error`, never a quiet `cookie_sent: false`."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from cors_harness._exceptions import HarnessError
from cors_harness.cells import Cells as CellRunner
from cors_harness.frontend import PAGE
from cors_harness.groups import cookie_groups
from cors_harness.loading import parse_scenario
from cors_harness.origins import Endpoint, Origins
from cors_harness.recorder import PROBE_PARAM
from cors_harness.results import BrowserInfo, CookieJar, Exchange, PageResult, Result, StoredCookie
from cors_harness.runner import Harness
from cors_harness.scenario import BROWSERS
from cors_harness.userapp import observe_app
from tests.userapp.login import create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cors_harness.engines.base import ProbeSpec
    from cors_harness.results import Attempt
    from cors_harness.scenario import Browser

STEPS = """\
backend: {cors: {allow_origins: ["{frontend:app}"], allow_credentials: true}}
frontends: {app: {host: localhost}, other: {host: 127.0.0.1}}
requests:
  - {name: me, frontend: app, path: /me, credentials: include, after: login}
  - {name: plain, frontend: app, path: /items/}
  - {name: login, frontend: app, method: POST, path: /login, sets_cookies: [session]}
  - {name: profile, frontend: app, path: /profile, after: login}
  - {name: orders, frontend: other, path: /orders, after: login}
  - {name: order, frontend: app, path: /orders/1, after: orders}
  - {name: sign-in, visit: true, path: /sign-in, sets_cookies: [session]}
  - {name: settings, frontend: app, path: /settings, after: sign-in}
"""
ORIGINS = Origins(
    backend_endpoints={"backend": Endpoint("http", "localhost", 1, 1)},
    default_backend="backend",
    frontend_endpoints={
        "app": Endpoint("http", "localhost", 2, 2),
        "other": Endpoint("http", "127.0.0.1", 3, 3),
    },
)
LOGGED_IN = [("set-cookie", "session=1; Path=/; SameSite=lax")]


def test_requests_linked_by_after_share_a_context_each_step_first() -> None:
    groups = cookie_groups(parse_scenario(STEPS, "steps.yaml"))
    assert [[r.name for r in group] for group in groups] == [
        ["login", "me", "profile", "orders", "order"],
        ["plain"],
        ["sign-in", "settings"],
    ]


class FakeBackend:
    """Answers every request by its path, and records it as the recorder would."""

    failure: str | None = None

    def __init__(self, answers: dict[str, tuple[int, list[tuple[str, str]]]]) -> None:
        self.answers = answers
        self.exchanges: list[Exchange] = []
        # What the browser did, in order: ("visit" | "page URL", [paths]).
        self.calls: list[tuple[str, list[str]]] = []

    def answer(self, url: str) -> int:
        parts = urlsplit(url)
        status, headers = self.answers.get(parts.path, (200, []))
        self.exchanges.append(
            Exchange.from_wire(
                probe=parse_qs(parts.query)[PROBE_PARAM][0],
                method="GET",
                path=parts.path,
                query=parts.query,
                request_headers=[("cookie", "tracking=1")],
                status=status,
                response_headers=headers,
                server_exception=None,
                elapsed_ms=1.0,
            )
        )
        return status

    def for_probe(self, probe: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.probe == probe]

    def all(self) -> list[Exchange]:
        return list(self.exchanges)


class FakeSession:
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend

    def visit(self, url: str) -> None:
        self.backend.calls.append(("visit", [urlsplit(url).path]))
        self.backend.answer(url)

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        self.backend.calls.append((page_url, [urlsplit(s["url"]).path for s in specs]))
        return [
            PageResult(
                probe=s["probe"],
                received=True,
                status=self.backend.answer(s["url"]),
                harness_error=None,
                error=None,
            )
            for s in specs
        ]

    def cookie_jar(self, origin: str) -> CookieJar:
        self.backend.calls.append(("jar", []))
        names = [n for e in self.backend.exchanges for n in e.cookies_set()]
        return CookieJar(
            read_by="fake",
            sees_partitions=True,
            cookies=[
                StoredCookie(
                    name=n,
                    domain="localhost",
                    path="/",
                    secure=False,
                    httponly=True,
                    samesite="lax",
                )
                for n in names
            ],
        )


class FakeBrowser:
    info = BrowserInfo(name="chromium", version="1", engine="fake")

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend

    @contextmanager
    def session(self) -> Iterator[FakeSession]:
        yield FakeSession(self.backend)

    def close(self) -> None:
        pass


def run(answers: dict[str, tuple[int, list[tuple[str, str]]]]) -> tuple[FakeBackend, list[Result]]:
    """Every group of STEPS through the runner, against a fake browser and backend."""
    scenario = parse_scenario(STEPS, "steps.yaml")
    cells = CellRunner(Harness(["chromium"]).browsers, timeout_ms=10_000)
    backend = FakeBackend(answers)
    browser = FakeBrowser(backend)
    attempts: dict[str, list[Attempt]] = {}
    jars: dict[str, CookieJar] = {}
    results = []
    for group in cookie_groups(scenario):
        specs = {r.name: cells.spec(scenario, r, "chromium", ORIGINS) for r in group}
        pages = cells.run_group(browser, group, specs, ORIGINS, backend, attempts, jars)
        for request, page in zip(group, pages, strict=True):
            results.append(
                cells.result(
                    scenario,
                    request,
                    "chromium",
                    browser,
                    ORIGINS,
                    specs[request.name],
                    page,
                    backend,
                    jars.get(request.name),
                )
            )
    return backend, results


def test_each_step_runs_alone_then_its_dependents_together() -> None:
    backend, results = run({"/login": (200, LOGGED_IN), "/sign-in": (200, LOGGED_IN)})
    app, other = f"http://localhost:2{PAGE}", f"http://127.0.0.1:3{PAGE}"
    # The jar is read after each step, before the requests that need its cookies.
    assert backend.calls == [
        (app, ["/login"]),
        ("jar", []),
        (app, ["/me", "/profile"]),
        (other, ["/orders"]),
        ("jar", []),
        (app, ["/orders/1"]),
        (app, ["/items/"]),
        ("visit", ["/sign-in"]),
        ("jar", []),
        (app, ["/settings"]),
    ]
    cells = {r.request: r for r in results}
    assert all(r.outcome == "allowed" for r in results)
    # A dependent counts the login's cookies only; a request with none set up counts any cookie.
    assert (cells["me"].cookie_sent, cells["plain"].cookie_sent) == (False, True)
    assert (cells["me"].cookie_stored, cells["plain"].cookie_stored) == (True, None)
    visit = cells["sign-in"]
    assert (visit.visit, visit.frontend_origin, visit.status) == (True, "", 200)
    assert visit.evidence[0].cookies_set() == ["session"]


def test_a_login_that_sets_no_cookie_makes_its_dependents_errors() -> None:
    backend, results = run({"/login": (404, []), "/sign-in": (200, [("set-cookie", "csrf=1")])})
    assert [paths for _, paths in backend.calls] == [["/login"], ["/items/"], ["/sign-in"]]
    cells = {r.request: r for r in results}
    assert (cells["login"].outcome, cells["login"].status) == ("allowed", 404)
    for name in ("me", "profile", "orders", "order"):
        assert (cells[name].outcome, cells[name].error) == (
            "error",
            "login step 'login' (POST /login) answered 404 and set no cookie 'session'",
        ), name
    assert cells["settings"].error == (
        "login step 'sign-in' (GET /sign-in) answered 200 and set no cookie 'session'"
    )


def test_cookie_set_up_is_refused_for_a_users_app() -> None:
    with pytest.raises(HarnessError) as caught:
        observe_app(
            Harness(["chromium"]),
            app_factory=lambda origins: create_app([origins["spa"]]),
            frontends={"spa": {"host": "localhost"}},
            requests=[{"name": "me", "frontend": "spa", "path": "/me", "cookies": [{"name": "s"}]}],
        )
    assert str(caught.value) == (
        "observe_app: requests[0].cookies: set up through the fixture backend's /cookies/set, "
        "which your app does not have; log in with a request to your app instead "
        "(sets_cookies: [NAME]) and give the requests that need the cookie after: its name"
    )


def test_observe_app_checks_after_as_a_scenario_file_would() -> None:
    with pytest.raises(HarnessError) as caught:
        observe_app(
            Harness(["chromium"]),
            app_factory=lambda origins: create_app([origins["spa"]]),
            frontends={"spa": {"host": "localhost"}},
            requests=[{"name": "me", "frontend": "spa", "path": "/me", "after": "logon"}],
        )
    assert str(caught.value) == (
        "observe_app: requests[0].after: unknown request 'logon'; declared: me"
    )


# --- in real browsers ----------------------------------------------------------------------

LOGIN = [
    {
        "name": "login",
        "frontend": "spa",
        "method": "POST",
        "path": "/login",
        "json": {"user": "ada"},
        "credentials": "include",
        "sets_cookies": ["session"],
    },
    {"name": "me", "frontend": "spa", "path": "/me", "credentials": "include", "after": "login"},
    {"name": "sign-in", "visit": True, "path": "/sign-in", "sets_cookies": ["session"]},
    {
        "name": "me-after-sign-in",
        "frontend": "spa",
        "path": "/me",
        "credentials": "include",
        "after": "sign-in",
    },
    {"name": "me-never-logged-in", "frontend": "spa", "path": "/me", "credentials": "include"},
    {
        "name": "wrong-login",
        "frontend": "spa",
        "method": "POST",
        "path": "/signin",
        "json": {"user": "ada"},
        "credentials": "include",
        "sets_cookies": ["session"],
    },
    {
        "name": "me-after-wrong-login",
        "frontend": "spa",
        "path": "/me",
        "credentials": "include",
        "after": "wrong-login",
    },
]

Cells = dict[tuple[str, str], Result]


@pytest.fixture(scope="module")
def login(harness: Harness) -> Cells:
    return observe_app(
        harness,
        app_factory=lambda origins: create_app([origins["spa"]]),
        frontends={"spa": {"host": "localhost"}},
        requests=LOGIN,
    )


per_browser = pytest.mark.parametrize("browser", BROWSERS)


@pytest.mark.browser
@per_browser
def test_a_fetch_login_gives_the_next_request_its_cookie(login: Cells, browser: Browser) -> None:
    step, me = login["login", browser], login["me", browser]
    assert (step.outcome, step.status, step.evidence[-1].cookies_set()) == (
        "allowed",
        200,
        ["session"],
    )
    assert (me.outcome, me.status, me.cookie_sent) == ("allowed", 200, True), me.error
    assert me.evidence[0].cookies_sent == ["session"]


@pytest.mark.browser
@per_browser
def test_a_visit_login_gives_the_next_request_its_cookie(login: Cells, browser: Browser) -> None:
    visit, me = login["sign-in", browser], login["me-after-sign-in", browser]
    assert (visit.outcome, visit.visit, visit.status, visit.preflight_sent) == (
        "allowed",
        True,
        200,
        False,
    )
    assert visit.evidence[0].origin is None  # typed into a new tab: no page sent it
    assert (me.outcome, me.status, me.cookie_sent) == ("allowed", 200, True), me.error


@pytest.mark.browser
@per_browser
def test_a_request_without_the_login_has_no_cookie(login: Cells, browser: Browser) -> None:
    # Its own browser context: the other requests' logins left nothing in it.
    alone = login["me-never-logged-in", browser]
    assert (alone.outcome, alone.status, alone.cookie_sent) == ("allowed", 401, False)


@pytest.mark.browser
@per_browser
def test_a_login_on_the_wrong_path_is_an_error_with_the_evidence(
    login: Cells, browser: Browser
) -> None:
    step, me = login["wrong-login", browser], login["me-after-wrong-login", browser]
    assert (step.outcome, step.status) == ("allowed", 404)
    assert (me.outcome, me.reached_server, me.evidence) == ("error", False, [])
    assert me.error == (
        "login step 'wrong-login' (POST /signin) answered 404 and set no cookie 'session'"
    )


FIXTURE_LOGIN = """\
backend: {cors: {allow_origins: ["{frontend:app}"], allow_credentials: true}}
frontends: {app: {host: localhost}}
requests:
  - name: login
    frontend: app
    path: "/cookies/set?name=session&samesite=lax"
    credentials: include
    sets_cookies: [session]
  - {name: me, frontend: app, path: /cookies/, credentials: include, after: login}
"""


@pytest.mark.browser
def test_steps_work_the_same_in_a_scenario_file(harness: Harness) -> None:
    results = harness.run_scenario(parse_scenario(FIXTURE_LOGIN, "fixture_login.yaml"))
    me = {r.browser: r for r in results if r.request == "me"}
    assert {b: (r.outcome, r.cookie_sent) for b, r in me.items()} == {
        b: ("allowed", True) for b in BROWSERS
    }
