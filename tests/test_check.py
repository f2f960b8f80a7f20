"""A server the user already runs, in real browsers: `check` and `backend.upstream`, with the
recording proxy's evidence compared with what the server itself sent."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, ClassVar

import pytest

from cors_harness._exceptions import HarnessError, ScenarioError
from cors_harness.check import check, check_scenario
from cors_harness.loading import parse_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cors_harness.results import Result
    from cors_harness.runner import Harness

ALLOWED = "http://app.example.com"


class Staging(http.server.BaseHTTPRequestHandler):
    """A server that is not ASGI and not ours: answers CORS by hand, and keeps every answer."""

    sent: ClassVar[list[list[tuple[str, str]]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        headers = [("X-Served-By", "staging")]
        if self.headers.get("Origin") == ALLOWED:
            headers += [
                ("Access-Control-Allow-Origin", ALLOWED),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Methods", "GET, PUT"),
                ("Access-Control-Allow-Headers", "content-type"),
            ]
        # Two Vary lines, as some servers send them: both must reach the browser.
        headers += [("Vary", "Origin"), ("Vary", "Accept-Encoding")]
        headers += [("Content-Length", str(len(body)))]
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        Staging.sent.append(headers)

    def do_OPTIONS(self) -> None:
        self._answer(204)

    def do_GET(self) -> None:
        self._answer(200, b'{"items": []}')

    do_PUT = do_GET


@pytest.fixture(scope="module")
def staging() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Staging)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def checked(harness: Harness, staging: str) -> dict[Browser, Result]:
    results = check(
        harness,
        f"{staging}/api/items?page=2",
        origin=ALLOWED,
        method="PUT",
        headers={"Content-Type": "application/json"},
        body="{}",
        credentials="include",
    )
    return {r.browser: r for r in results}


@pytest.mark.browser
@pytest.mark.parametrize("kind", BROWSERS)
def test_check_a_running_server_from_a_production_origin(
    checked: dict[Browser, Result], staging: str, kind: Browser
) -> None:
    result = checked[kind]
    assert (result.outcome, result.frontend_origin, result.status) == ("allowed", ALLOWED, 200)
    preflight, actual = result.evidence
    assert preflight.preflight
    assert preflight.origin == actual.origin == ALLOWED
    assert actual.path == "/api/items"
    assert actual.query.startswith("page=2&")
    host = dict((k.lower(), v) for k, v in actual.request_headers)["host"]
    assert host == staging.removeprefix("http://")


@pytest.mark.browser
@pytest.mark.parametrize("kind", BROWSERS)
def test_the_evidence_is_what_the_server_sent(
    checked: dict[Browser, Result], kind: Browser
) -> None:
    # Every answer the proxy recorded is one the server wrote, header for header, in order.
    sent = [[(k.lower(), v) for k, v in answer] for answer in Staging.sent]
    for exchange in checked[kind].evidence:
        recorded = [(k.lower(), v) for k, v in exchange.response_headers]
        assert recorded in sent
        assert recorded.count(("vary", "Origin")) == 1
        assert ("vary", "Accept-Encoding") in recorded


@pytest.mark.browser
def test_a_server_that_refuses_connections_makes_error_cells(harness: Harness) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now.
    results = check(harness, f"http://127.0.0.1:{port}/", origin=ALLOWED, browsers=["chromium"])
    (result,) = results
    assert result.outcome == "error"
    assert result.error is not None
    assert result.error.startswith(
        f"upstream http://127.0.0.1:{port} refused the connection (GET /?cors_probe="
    )


@pytest.mark.browser
def test_an_upstream_backend_in_a_scenario_file(harness: Harness, staging: str) -> None:
    port = staging.rsplit(":", 1)[1]
    scenario = parse_scenario(
        f"""
description: The staging API, on the name the frontend calls.
backend: {{scheme: https, host: api.example.com, port: 443, upstream: "{staging}"}}
frontends:
  app: {{scheme: http, host: app.example.com, port: 80}}
  stranger: {{scheme: https, host: evil.test, port: 443}}
requests:
  - {{name: app, frontend: app, path: /items, expect: allowed}}
  - {{name: stranger, frontend: stranger, path: /items, expect: blocked-response}}
""",
        f"upstream-{port}.yaml",
    )
    cells = {(r.request, r.browser): r for r in harness.run_scenario(scenario)}
    assert {(n, b): r.mismatches for (n, b), r in cells.items() if r.mismatches} == {}
    assert cells["app", "firefox"].evidence[0].origin == ALLOWED


def test_bad_check_input_is_one_line() -> None:
    with pytest.raises(HarnessError) as caught:
        check_scenario("ftp://example.com/", origin=ALLOWED)
    assert str(caught.value) == "check: 'ftp://example.com/' is not an http or https URL"
    with pytest.raises(HarnessError) as caught:
        check_scenario("http://127.0.0.1:8000/", origin="app.example.com")
    assert str(caught.value).startswith("check: --origin: 'app.example.com' is not an origin")


def test_upstream_backends_refuse_what_only_the_fixture_app_has() -> None:
    applies = r"x.yaml:1: backend.cors: does not apply to a server that already runs"
    with pytest.raises(ScenarioError, match=applies):
        parse_scenario(
            'backend: {upstream: "http://127.0.0.1:8000", cors: null}\n'
            "frontends: {app: {host: localhost}}\n"
            "requests: [{name: a, frontend: app}]\n",
            "x.yaml",
        )


def test_the_check_command_gives_a_bad_header_one_line() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cors_harness.cli",
            "check",
            "http://127.0.0.1:1/",
            "--origin",
            ALLOWED,
            "--header",
            "no colon",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cors-harness: error: argument --header: 'no colon': write a header as 'NAME: VALUE'"
    ]
