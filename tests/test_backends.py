"""Several backends and every kind of backend, in real browsers: a server the harness starts
(`command:`), a redirect from one backend to another with the Origin of every hop, an internal
backend behind another, and what happens when a command cannot start."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.backends import ScenarioEvidence
from cors_harness.classify import classify
from cors_harness.loading import parse_scenario
from cors_harness.results import Exchange, PageResult
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.runner import Harness

SERVERS = Path(__file__).parent / "servers"


def _cells(results: list[Result]) -> dict[tuple[str, Browser], Result]:
    return {(r.request, r.browser): r for r in results}


@pytest.fixture(scope="module")
def handwritten(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> tuple[
    dict[tuple[str, Browser], Result], list[dict[str, object]]
]:
    log = tmp_path_factory.mktemp("handwritten") / "sent.jsonl"
    scenario = parse_scenario(
        f"""
description: A server in another language, for all the harness knows, on a production origin.
backend:
  scheme: https
  host: api.example.com
  port: 443
  command: ["{sys.executable}", handwritten.py]
  env: {{ALLOWED_ORIGIN: "{{frontend:app}}", SENT_LOG: "{log}"}}
  ready: {{path: /api/health}}
frontends:
  app: {{scheme: https, host: app.example.com, port: 443}}
  stranger: {{host: localhost}}
requests:
  - {{name: get, frontend: app, path: /api/items, read_headers: [X-Served-By]}}
  - {{name: delete-with-token, frontend: app, method: DELETE, path: /api/items/1,
      headers: {{X-Token: t}}}}
  - {{name: stranger, frontend: stranger, path: /api/items}}
""",
        str(SERVERS / "handwritten.yaml"),
    )
    results = harness.run_scenario(scenario)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return _cells(results), lines


@pytest.mark.browser
@pytest.mark.parametrize("kind", BROWSERS)
def test_a_command_backend_is_observed_like_the_fixture_app(
    handwritten: tuple[dict[tuple[str, Browser], Result], list[dict[str, object]]],
    kind: Browser,
) -> None:
    cells, _ = handwritten
    get, delete, stranger = (cells[name, kind] for name in ("get", "delete-with-token", "stranger"))
    assert (get.outcome, get.status) == ("allowed", 200)
    # Exposed by the server's own Access-Control-Expose-Headers.
    assert get.readable_headers["x-served-by"] == "handwritten"
    assert get.evidence[0].origin == "https://app.example.com"
    assert (delete.outcome, delete.preflight_sent) == ("allowed", True)
    assert delete.evidence[0].access_control_request_headers == "x-token"
    assert (stranger.outcome, stranger.reached_server) == ("blocked-response", True)
    assert {e.backend for c in (get, delete, stranger) for e in c.evidence} == {"backend"}


@pytest.mark.browser
def test_the_evidence_is_what_the_command_sent_and_it_is_stopped(
    handwritten: tuple[dict[tuple[str, Browser], Result], list[dict[str, object]]],
) -> None:
    cells, lines = handwritten
    pids = [line["pid"] for line in lines if "pid" in line]
    sent = [
        [(str(k).lower(), v) for k, v in line["headers"]]  # type: ignore[attr-defined]
        for line in lines
        if "headers" in line
    ]
    exchanges = [e for cell in cells.values() for e in cell.evidence]
    # Every probe's exchanges, and the readiness check's GET: nothing else reached it.
    assert len(sent) == len(exchanges) + 1
    for exchange in exchanges:
        recorded = [(k.lower(), v) for k, v in exchange.response_headers]
        assert recorded in sent
        assert ("vary", "Origin") in recorded
        assert ("vary", "Accept-Encoding") in recorded
    # One process for the scenario, stopped when it ended.
    (pid,) = pids
    assert isinstance(pid, int)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


REDIRECTS = """
description: An API that sends the page on to another origin.
backends:
  api:
    host: api.localhost
    cors: {allow_origins: ["{frontend:app}"], allow_methods: [GET, PUT],
           allow_headers: [Content-Type]}
  files:
    host: files.localhost
    cors: {allow_origins: ["{frontend:app}", "null"], allow_methods: [GET, PUT],
           allow_headers: [Content-Type]}
frontends:
  app: {host: app.localhost}
requests:
  - {name: get-302, frontend: app, path: "/redirect?to={backend:files}/items/&status=302"}
  - {name: put-307, frontend: app, method: PUT, json: {a: 1},
     path: "/redirect?to={backend:files}/items/1&status=307"}
  - {name: direct, frontend: app, backend: files, path: /items/}
"""


@pytest.fixture(scope="module")
def redirected(harness: Harness) -> dict[tuple[str, Browser], Result]:
    return _cells(harness.run_scenario(parse_scenario(REDIRECTS, "redirects.yaml")))


@pytest.mark.browser
@pytest.mark.parametrize("kind", BROWSERS)
def test_a_cross_origin_redirect_shows_every_hop_with_its_origin(
    redirected: dict[tuple[str, Browser], Result], kind: Browser
) -> None:
    get = redirected["get-302", kind]
    assert get.outcome == "allowed"
    first, second = get.evidence
    page = get.frontend_origin
    assert (first.backend, first.path, first.status) == ("api", "/redirect", 302)
    assert first.origin == page
    location = first.response_header("location")[0]
    assert location.startswith("http://files.localhost:")
    assert (second.backend, second.path, second.origin) == ("files", "/items/", "null")
    assert second.received_at is not None
    assert first.received_at is not None
    assert first.received_at <= second.received_at
    direct = redirected["direct", kind]
    assert [(e.backend, e.origin) for e in direct.evidence] == [("files", page)]


@pytest.mark.browser
@pytest.mark.parametrize("kind", BROWSERS)
def test_a_redirected_put_reaches_the_second_origin_as_null(
    redirected: dict[tuple[str, Browser], Result], kind: Browser
) -> None:
    put = redirected["put-307", kind]
    assert put.outcome == "allowed"
    assert put.reached_backends == ["api", "files"]
    hops = [(e.backend, e.method, e.preflight) for e in put.evidence]
    assert hops[:2] == [("api", "OPTIONS", True), ("api", "PUT", False)]
    assert hops[-1] == ("files", "PUT", False)
    assert put.evidence[-1].origin == "null"


@pytest.mark.browser
def test_a_command_that_cannot_start_makes_error_cells_and_the_next_scenario_runs(
    harness: Harness, tmp_path: Path
) -> None:
    exits = parse_scenario(
        f"""
backend:
  command: ["{sys.executable}", -c, "import sys; print('config: no such setting'); sys.exit(3)"]
frontends: {{app: {{host: localhost}}}}
requests: [{{name: get, frontend: app, path: /, expect: allowed}}]
""",
        str(tmp_path / "exits.yaml"),
    )
    silent = parse_scenario(
        f"""
backend:
  command: ["{sys.executable}", -c, "import time; print('starting'); time.sleep(60)"]
  ready: {{path: /health, timeout: 1}}
frontends: {{app: {{host: localhost}}}}
requests: [{{name: get, frontend: app, path: /}}]
browsers: [chromium]
""",
        str(tmp_path / "silent.yaml"),
    )
    missing = parse_scenario(
        """
backend: {command: [nginx-that-is-not-installed, -c, x.conf]}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /}]
browsers: [firefox]
""",
        str(tmp_path / "missing.yaml"),
    )
    fine = parse_scenario(
        """
backend: {cors: {allow_origins: ["*"]}}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /}]
browsers: [webkit]
""",
        str(tmp_path / "fine.yaml"),
    )
    cells = harness.run_scenario(exits)
    assert [(c.browser, c.outcome, c.expectation_met) for c in cells] == [
        (b, "error", False) for b in BROWSERS
    ]
    assert cells[0].error == (
        "exits: the backend: "
        f"{sys.executable!r} exited with status 3 before it was ready; "
        "last output: config: no such setting"
    )
    (cell,) = harness.run_scenario(silent)
    assert cell.outcome == "error"
    assert cell.error is not None
    assert "did not answer GET /health on 127.0.0.1:" in cell.error
    assert cell.error.endswith("(its $PORT) within 1 s; last output: starting")
    (cell,) = harness.run_scenario(missing)
    assert (cell.outcome, cell.error) == (
        "error",
        "missing: the backend: command 'nginx-that-is-not-installed' not found on PATH or in "
        "/usr/local/sbin, /usr/sbin, /sbin",
    )
    (cell,) = harness.run_scenario(fine)
    assert cell.outcome == "allowed"


def _exchange(path: str, at: float, *, preflight: bool = False) -> Exchange:
    headers = [("origin", "http://app.localhost:1")]
    if preflight:
        headers.append(("access-control-request-method", "PUT"))
    return Exchange.from_wire(
        probe="p",
        method="OPTIONS" if preflight else "GET",
        path=path,
        query="cors_probe=p",
        request_headers=headers,
        status=200,
        response_headers=[],
        server_exception=None,
        elapsed_ms=1.0,
        received_at=at,
    )


class _Recorded:
    """A backend's record as ScenarioEvidence reads it."""

    def __init__(self, internal: bool, exchanges: list[Exchange]) -> None:
        self.spec = type("Spec", (), {"internal": internal})()
        self.exchanges = exchanges
        self.failure = None

    def for_probe(self, probe: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.probe == probe]

    def all(self) -> list[Exchange]:
        return list(self.exchanges)


def test_evidence_from_several_backends_is_marked_and_in_order_of_arrival() -> None:
    evidence = ScenarioEvidence(
        {
            "edge": _Recorded(False, [_exchange("/a", 1.0), _exchange("/c", 3.0)]),  # type: ignore[dict-item]
            "app": _Recorded(True, [_exchange("/b", 2.0)]),  # type: ignore[dict-item]
        }
    )
    found = evidence.for_probe("p")
    assert [(e.path, e.backend, e.internal) for e in found] == [
        ("/a", "edge", False),
        ("/b", "app", True),
        ("/c", "edge", False),
    ]


def test_what_an_internal_backend_received_does_not_count_in_the_outcome() -> None:
    # nginx answered the preflight itself; only the app behind it saw an actual request, which
    # nginx sent, not the browser.
    preflight = _exchange("/items/1", 1.0, preflight=True)
    behind = _exchange("/items/1", 2.0).model_copy(update={"internal": True})
    page = PageResult(
        probe="p", received=False, error="TypeError: Failed to fetch", harness_error=None
    )
    found = classify(page, [preflight, behind], [])
    assert (found.outcome, found.reached_server) == ("blocked-preflight", False)


@pytest.mark.browser
def test_an_app_backend_by_import_path_and_by_factory(harness: Harness) -> None:
    scenario = parse_scenario(
        """
backends:
  fixed: {app: "tests.userapp.main:app"}
  made: {app: "tests.userapp.main:production", factory: true, scheme: https,
         host: api.example.com}
frontends:
  deployed: {host: localhost, port: 38517}
  spa: {scheme: https, host: app.example.com, port: 443}
requests:
  - {name: fixed, frontend: deployed, path: /api/me}
  - {name: made, frontend: spa, backend: made, path: /api/me, credentials: include}
  - {name: made-from-elsewhere, frontend: deployed, backend: made, path: /api/me}
browsers: [chromium, webkit]
""",
        "apps.yaml",
    )
    cells = _cells(harness.run_scenario(scenario))
    for kind in ("chromium", "webkit"):
        assert cells["fixed", kind].outcome == "allowed"
        assert cells["made", kind].outcome == "allowed"
        assert cells["made-from-elsewhere", kind].outcome == "blocked-response"
        assert cells["made", kind].evidence[0].backend == "made"


@pytest.mark.browser
def test_without_nginx_its_cells_are_errors_that_say_how_to_get_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("cors_harness.backends.command.SERVER_DIRECTORIES", ())
    scenario = parse_scenario(
        """
backend: {command: [nginx, -p, "{dir}", -c, nginx.conf], files: {nginx.conf: "events {}"}}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /}]
browsers: [chromium]
""",
        "no-nginx.yaml",
    )
    (cell,) = harness.run_scenario(scenario)
    assert (cell.outcome, cell.error) == (
        "error",
        "no-nginx: the backend: command 'nginx' not found on PATH; install Debian's nginx "
        "(apt-get install nginx; scripts/setup does)",
    )
