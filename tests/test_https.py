"""Production origins in real browsers: https on real host names with their default ports,
served by this run's servers through its proxy and certificate authority."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import load_scenario
from cors_harness.results import Result
from cors_harness.scenario import BROWSERS, Browser
from cors_harness.userapp import observe_app
from tests.userapp.main import create_app

if TYPE_CHECKING:
    from cors_harness.runner import Harness

SCENARIO = Path(__file__).parent / "scenarios" / "https.yaml"

Cells = dict[tuple[str, Browser], Result]


@pytest.fixture(scope="module")
def cells(harness: Harness) -> Cells:
    return {(r.request, r.browser): r for r in harness.run_scenario(load_scenario(SCENARIO))}


pytestmark = [pytest.mark.browser, pytest.mark.parametrize("kind", BROWSERS)]


def test_every_expectation_is_met(cells: Cells, kind: Browser) -> None:
    unmet = {r.request: r.mismatches for (_, b), r in cells.items() if b == kind and r.mismatches}
    assert unmet == {}


def test_the_origin_is_the_one_written_default_port_left_out(cells: Cells, kind: Browser) -> None:
    result = cells["spa-get", kind]
    assert result.frontend_origin == "https://app.example.com"
    assert result.url.startswith("https://api.example.com/items/?")
    (exchange,) = result.evidence
    assert exchange.origin == "https://app.example.com"
    headers = {k.lower(): v for k, v in exchange.request_headers}
    assert headers["host"] == "api.example.com"
    assert exchange.response_header("access-control-allow-origin") == ["https://app.example.com"]


def test_https_pages_are_secure_contexts_and_http_ones_are_not(
    cells: Cells, kind: Browser
) -> None:
    assert cells["spa-get", kind].secure_context is True
    assert cells["partner-get", kind].secure_context is True
    old = cells["old-get", kind]
    assert old.secure_context is False
    # Same site, other scheme: another origin, not in allow_origins.
    assert old.frontend_origin == "http://www.example.com"
    assert old.evidence[0].origin == "http://www.example.com"
    assert old.evidence[0].response_header("access-control-allow-origin") == []


def test_an_http_page_on_a_host_that_serves_https(cells: Cells, kind: Browser) -> None:
    legacy = cells["legacy-get", kind]
    assert legacy.frontend_origin == "http://app.example.com"
    if kind == "chromium":
        # HTTPS upgrades (Chromium's default, off under Playwright's switches): the page is
        # shown as https, so no request from the http origin exists to be observed.
        assert legacy.outcome == "upgraded"
        assert legacy.error is not None
        assert legacy.error.startswith(
            "the browser upgraded the page http://app.example.com to https://app.example.com"
        )
        assert [e.origin for e in legacy.evidence] == ["https://app.example.com"]
        return
    assert legacy.secure_context is False
    assert legacy.evidence[0].origin == "http://app.example.com"
    assert legacy.evidence[0].response_header("access-control-allow-origin") == []


def test_secure_and_host_prefixed_cookies_are_stored_and_sent(cells: Cells, kind: Browser) -> None:
    result = cells["spa-session", kind]
    assert result.cookie_sent
    (exchange,) = result.evidence
    assert sorted(exchange.cookies_sent) == ["__Host-id", "sid"]
    # Read from the browser's own jar before the request: both kept, Secure, on the API's host.
    assert result.cookie_stored is True
    assert result.cookie_jar is not None
    jar = {c.name: c for c in result.cookie_jar.cookies}
    assert sorted(jar) == ["__Host-id", "sid"]
    assert all(c.secure and c.httponly and c.domain == "api.example.com" for c in jar.values())
    assert jar["sid"].samesite == "none"
    # Playwright cannot tell Firefox's Lax from unset; the others report it as set.
    assert jar["__Host-id"].samesite == (None if kind == "firefox" else "lax")


def test_no_jar_is_read_for_a_request_without_cookies(cells: Cells, kind: Browser) -> None:
    result = cells["spa-get", kind]
    assert (result.cookie_jar, result.cookie_stored) == (None, None)


def test_a_preflight_goes_to_the_https_origin(cells: Cells, kind: Browser) -> None:
    preflight, actual = cells["spa-put-json", kind].evidence
    assert preflight.preflight
    assert preflight.origin == actual.origin == "https://app.example.com"


def test_a_users_app_on_production_origins(harness: Harness, kind: Browser) -> None:
    # The origins an app's settings list, literally; the app answers on its own https origin.
    cells = observe_app(
        harness,
        app_factory=lambda origins: create_app([origins["spa"]]),
        backend="https://api.example.com",
        frontends={"spa": "https://app.example.com", "old": "http://www.example.com"},
        requests=[
            {"name": "me", "frontend": "spa", "path": "/api/me", "credentials": "include"},
            {"name": "old", "frontend": "old", "path": "/api/me"},
        ],
        browsers=[kind],
    )
    me = cells["me", kind]
    assert (me.outcome, me.frontend_origin, me.secure_context) == (
        "allowed",
        "https://app.example.com",
        True,
    )
    assert me.url.startswith("https://api.example.com/api/me?")
    assert cells["old", kind].outcome == "blocked-response"
