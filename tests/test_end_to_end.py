"""Real browsers against real servers: each outcome, with the server-side evidence behind it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import load_scenario
from cors_harness.results import Result
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.runner import Harness

TESTS = Path(__file__).parent

Cells = dict[tuple[str, Browser], Result]


@pytest.fixture(scope="module")
def core(harness: Harness) -> Cells:
    results = harness.run_scenario(load_scenario(TESTS / "scenarios" / "core.yaml"))
    return {(r.request, r.browser): r for r in results}


pytestmark = pytest.mark.parametrize("kind", BROWSERS)


def test_every_expectation_in_the_scenario_is_met(core: Cells, kind: Browser) -> None:
    cells = [r for (_, b), r in core.items() if b == kind]
    assert len(cells) == 8
    unmet = {r.request: r.mismatches for r in cells if not r.expectation_met}
    assert unmet == {}


def test_result_names_browser_version_and_engine(core: Cells, kind: Browser) -> None:
    result = core["allowed-list", kind]
    assert result.browser == kind
    assert result.browser_version[0].isdigit()
    assert result.engine in {
        "playwright-bundled",
        "playwright-system",
        "playwright-bidi",
        "playwright-channel",
        "webdriver",
    }


def test_allowed_simple_get_reads_only_exposed_headers(core: Cells, kind: Browser) -> None:
    result = core["allowed-list", kind]
    assert result.outcome == "allowed"
    assert result.status == 200
    assert result.readable_headers["x-total-count"] == "2"
    assert "x-request-id" not in result.readable_headers
    (exchange,) = result.evidence
    assert (exchange.method, exchange.path, exchange.preflight) == ("GET", "/items/", False)
    assert exchange.origin == result.frontend_origin
    assert exchange.response_header("access-control-allow-origin") == [result.frontend_origin]
    # The server sent the unexposed header; only the browser kept it from the page.
    assert exchange.response_header("x-request-id") == ["req-1"]


def test_allowed_put_was_preflighted_first(core: Cells, kind: Browser) -> None:
    result = core["allowed-put-preflighted", kind]
    assert result.outcome == "allowed"
    preflight, actual = result.evidence
    assert preflight.preflight
    assert preflight.method == "OPTIONS"
    assert preflight.access_control_request_method == "PUT"
    assert preflight.status == 200
    assert actual.method == "PUT"
    assert not actual.preflight


def test_blocked_preflight_never_sends_the_actual_request(core: Cells, kind: Browser) -> None:
    result = core["delete-not-allowed", kind]
    assert result.outcome == "blocked-preflight"
    (preflight,) = result.evidence
    assert preflight.access_control_request_method == "DELETE"
    assert preflight.status == 400
    assert "DELETE" not in preflight.response_header("access-control-allow-methods")[0]
    assert result.error is not None


def test_blocked_response_reached_the_server(core: Cells, kind: Browser) -> None:
    result = core["other-origin-simple-get", kind]
    assert result.outcome == "blocked-response"
    (exchange,) = result.evidence
    assert exchange.status == 200
    assert exchange.origin == result.frontend_origin
    assert exchange.origin.startswith("http://127.0.0.1:")
    assert exchange.response_header("access-control-allow-origin") == []
    assert result.status is None
    assert result.readable_headers == {}


def test_cookie_sent_only_with_credentials(core: Cells, kind: Browser) -> None:
    sent = core["credentialed-with-cookie", kind]
    kept = core["omit-credentials-keeps-cookie-back", kind]
    assert sent.cookie_sent
    assert sent.evidence[0].cookies_sent == ["session"]
    assert sent.evidence[0].response_header("access-control-allow-credentials") == ["true"]
    assert not kept.cookie_sent
    assert kept.evidence[0].cookies_sent == []


def test_blocked_network_reaches_nothing(core: Cells, kind: Browser) -> None:
    result = core["forbidden-method", kind]
    assert result.outcome == "blocked-network"
    assert result.evidence == []
    assert result.error
    assert "TypeError" in result.error


def test_a_harness_timeout_is_error_not_blocked(core: Cells, kind: Browser) -> None:
    result = core["no-answer-in-time", kind]
    assert result.outcome == "error"
    assert result.error == "no answer within 1000 ms"


def test_browser_error_text_is_recorded(core: Cells, kind: Browser) -> None:
    error = core["other-origin-simple-get", kind].error
    assert error is not None
    expected = {"chromium": "Failed to fetch", "firefox": "NetworkError", "webkit": "Load failed"}
    if core["other-origin-simple-get", kind].engine.startswith("playwright-bundled"):
        assert error.startswith("TypeError")
    else:
        assert expected[kind] in error


def test_chromium_console_names_the_cors_reason(core: Cells, kind: Browser) -> None:
    console = core["other-origin-simple-get", kind].console
    if kind == "chromium":
        assert any("blocked by CORS policy" in line for line in console), console
    else:
        # Firefox over BiDi and WebKit over WebDriver do not expose the CORS console warning.
        assert all("cors_probe=" in line for line in console)
