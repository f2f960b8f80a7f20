"""WebSocket requests (`kind: websocket`) in real browsers: the handshake on the wire, the
cookies it carried, the messages the page exchanged, and the standard's verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import load_scenario, parse_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.runner import Harness

SCENARIO = Path(__file__).parent.parent / "scenarios" / "websocket_hijacking.yaml"

Cells = dict[tuple[str, Browser], "Result"]

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("kind", BROWSERS)]


@pytest.fixture(scope="module")
def cells(harness: Harness) -> Cells:
    return {(r.request, r.browser): r for r in harness.run_scenario(load_scenario(SCENARIO))}


def handshake(result: Result) -> dict[str, str]:
    (exchange,) = result.evidence
    assert (exchange.method, exchange.preflight) == ("GET", False)
    return {k.lower(): v for k, v in exchange.request_headers}


def test_another_origin_of_the_same_site_uses_the_socket_with_the_users_cookie(
    cells: Cells, kind: Browser
) -> None:
    result = cells["sibling-socket", kind]
    sent = handshake(result)
    assert sent["upgrade"].lower() == "websocket"
    assert sent["origin"] == result.frontend_origin
    assert result.evidence[0].status == 101
    assert result.evidence[0].cookies_sent == ["session"]
    # What the page read back: the server acted on the user's cookie for another origin.
    assert (result.outcome, result.kind, result.messages) == (
        "allowed",
        "websocket",
        ["ping: cookies session"],
    )
    assert result.url.startswith("ws://")
    assert result.spec is not None
    assert (result.spec.outcome, result.spec.check) == ("allowed", "websocket-accepted")
    assert result.deviates_from_spec is False


def test_fetch_from_the_same_origin_is_blocked_by_cors(cells: Cells, kind: Browser) -> None:
    result = cells["sibling-fetch", kind]
    assert (result.outcome, result.cookie_sent) == ("blocked-response", True)


def test_checking_origin_refuses_the_handshake(cells: Cells, kind: Browser) -> None:
    result = cells["sibling-socket-checked", kind]
    assert handshake(result)["origin"] == result.frontend_origin
    assert result.evidence[0].status == 403
    assert (result.outcome, result.messages) == ("blocked-response", [])
    assert result.error is not None
    assert result.spec is not None
    assert result.spec.check == "websocket-refused"
    allowed = cells["app-socket-checked", kind]
    assert (allowed.outcome, allowed.messages) == ("allowed", ["ping: cookies session"])


def test_a_socket_to_nothing_is_not_blocked_by_cors(harness: Harness, kind: Browser) -> None:
    # No such endpoint: the app answers the handshake with 403 (no route), the page gets close
    # code 1006, and the cell says the server refused it.
    scenario = parse_scenario(
        "backend: {cors: null}\nfrontends: {app: {host: localhost}}\n"
        f"browsers: [{kind}]\n"
        "requests: [{name: nowhere, kind: websocket, frontend: app, path: /ws/none}]\n",
        "nowhere.yaml",
    )
    (result,) = harness.run_scenario(scenario)
    assert result.outcome == "blocked-response"
    assert [e.status for e in result.evidence] == [403]
