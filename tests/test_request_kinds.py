"""HEAD requests and long safelisted header values in real browsers, checked on the wire."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import load_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.runner import Harness

SCENARIOS = Path(__file__).parent.parent / "scenarios"

Cells = dict[tuple[str, Browser], "Result"]

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("kind", BROWSERS)]


@pytest.fixture(scope="module")
def cells(harness: Harness) -> Cells:
    found = [
        r
        for name in ("method_case.yaml", "safelisted_headers.yaml")
        for r in harness.run_scenario(load_scenario(SCENARIOS / name))
    ]
    return {(r.request, r.browser): r for r in found}


def test_head_from_a_disallowed_origin_reaches_the_server_unread(
    cells: Cells, kind: Browser
) -> None:
    result = cells["head-from-stranger", kind]
    (exchange,) = result.evidence
    assert (exchange.method, exchange.preflight, exchange.origin) == (
        "HEAD",
        False,
        result.frontend_origin,
    )
    assert result.outcome == "blocked-response"
    assert result.spec is not None
    assert (result.spec.outcome, result.spec.check) == ("blocked-response", "acao-missing")


def test_a_lowercase_patch_is_sent_as_written(cells: Cells, kind: Browser) -> None:
    result = cells["patch-lowercase", kind]
    (preflight,) = result.evidence
    assert preflight.access_control_request_method == "patch"
    assert result.outcome == "blocked-preflight"
    assert cells["delete-lowercase", kind].evidence[0].access_control_request_method == "DELETE"


@pytest.mark.parametrize("header", ["accept", "accept-language", "content-language"])
def test_one_byte_over_128_makes_a_header_unsafe(cells: Cells, kind: Browser, header: str) -> None:
    simple = cells[f"{header}-128-bytes", kind]
    (sent,) = simple.evidence
    assert not sent.preflight
    assert len(dict((k.lower(), v) for k, v in sent.request_headers)[header]) == 128
    unsafe = cells[f"{header}-129-bytes", kind]
    preflight = unsafe.evidence[0]
    assert preflight.preflight
    assert preflight.access_control_request_headers == header
    assert unsafe.spec is not None
    assert unsafe.spec.preflight_why == f"{header} not CORS-safelisted"
    assert unsafe.deviates_from_spec is False
