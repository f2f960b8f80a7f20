"""fetch()'s mode and redirect options in real browsers, checked on the wire."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import load_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.runner import Harness

SCENARIO = Path(__file__).parent.parent / "scenarios" / "fetch_modes.yaml"

Cells = dict[tuple[str, Browser], "Result"]

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("kind", BROWSERS)]


@pytest.fixture(scope="module")
def cells(harness: Harness) -> Cells:
    return {(r.request, r.browser): r for r in harness.run_scenario(load_scenario(SCENARIO))}


def headers(result: Result) -> dict[str, str]:
    (exchange,) = result.evidence
    return {k.lower(): v for k, v in exchange.request_headers}


def test_a_no_cors_post_from_a_stranger_runs_the_handler_and_reads_nothing(
    cells: Cells, kind: Browser
) -> None:
    result = cells["no-cors-post-from-stranger", kind]
    assert (result.outcome, result.response_type, result.status) == ("opaque", "opaque", None)
    assert result.readable_headers == {}
    (exchange,) = result.evidence
    assert (exchange.method, exchange.status) == ("POST", 200)
    assert headers(result)["sec-fetch-mode"] == "no-cors"
    assert result.mode == "no-cors"


def test_no_cors_drops_a_header_it_may_not_send(cells: Cells, kind: Browser) -> None:
    result = cells["no-cors-custom-header", kind]
    assert result.outcome == "opaque"
    assert "x-api-key" not in headers(result)
    assert not result.preflight_sent


def test_no_cors_refuses_a_method_it_may_not_send(cells: Cells, kind: Browser) -> None:
    result = cells["no-cors-put", kind]
    assert (result.outcome, result.evidence) == ("blocked-network", [])
    assert result.error is not None


def test_a_manual_redirect_is_opaque_and_not_followed(cells: Cells, kind: Browser) -> None:
    result = cells["redirect-manual", kind]
    assert (result.outcome, result.response_type) == ("opaque", "opaqueredirect")
    assert [(e.path, e.status) for e in result.evidence] == [("/redirect", 302)]
    followed = cells["redirect-follow", kind]
    assert [(e.path, e.status) for e in followed.evidence] == [("/redirect", 302), ("/items/", 200)]
    assert followed.response_type == "cors"
