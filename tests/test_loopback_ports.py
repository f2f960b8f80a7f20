"""`http://localhost:PORT` as hard-coded in apps: the origin is exactly that, in every browser,
although the harness binds nothing there (the run's proxy routes loopback names too)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import parse_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cors_harness.results import Result
    from cors_harness.runner import Harness

pytestmark = pytest.mark.browser

SCENARIO = """
description: Fixed loopback ports, held by another program while the run uses them.
backend:
  host: localhost
  port: {api}
  cors: {{allow_origins: ["http://localhost:{app}"], allow_credentials: true}}
frontends:
  app: {{host: localhost, port: {app}}}
  other: {{host: 127.0.0.1, port: {app}}}
requests:
  - {{name: app-get, frontend: app, path: /items/, credentials: include,
     cookies: [{{name: sid, samesite: lax}}]}}
  - {{name: other-get, frontend: other, path: /items/}}
"""


@pytest.fixture(scope="module")
def taken() -> Iterator[tuple[int, int]]:
    """Two ports some other program listens on and never answers: a browser sent there
    directly, or a harness binding them, would fail."""
    sockets = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
    try:
        yield sockets[0].getsockname()[1], sockets[1].getsockname()[1]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def cells(harness: Harness, taken: tuple[int, int]) -> dict[tuple[str, Browser], Result]:
    app, api = taken
    scenario = parse_scenario(SCENARIO.format(app=app, api=api), "fixed_ports.yaml")
    return {(r.request, r.browser): r for r in harness.run_scenario(scenario)}


@pytest.mark.parametrize("kind", BROWSERS)
def test_fixed_loopback_origins_need_no_port_on_the_machine(
    cells: dict[tuple[str, Browser], Result], taken: tuple[int, int], kind: Browser
) -> None:
    app, api = taken
    result = cells["app-get", kind]
    assert (result.outcome, result.frontend_origin) == ("allowed", f"http://localhost:{app}")
    assert result.url.startswith(f"http://localhost:{api}/items/?")
    assert result.secure_context is True  # localhost is potentially trustworthy, proxied or not
    (exchange,) = result.evidence
    assert exchange.origin == f"http://localhost:{app}"
    assert dict((k.lower(), v) for k, v in exchange.request_headers)["host"] == f"localhost:{api}"
    assert (result.cookie_stored, result.cookie_sent) == (True, True)
    # Same port, other loopback name: another origin, another site.
    other = cells["other-get", kind]
    assert other.evidence[0].origin == f"http://127.0.0.1:{app}"
    assert other.outcome == "blocked-response"
