"""Chromium's console reasons, told apart by the check of the Fetch standard each names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cors_harness.results import Exchange
from cors_harness.spec_verdicts import browser_reason, cache_departures
from tests.test_classify import make_result

if TYPE_CHECKING:
    from cors_harness.results import Result

PREFIX = (
    "Access to fetch at 'http://localhost:1/x?cors_probe=ch-a-1' from origin "
    "'http://localhost:2' has been blocked by CORS policy: "
)


# Each reason as Chromium 156 printed it in a run of the built-in suite.
@pytest.mark.parametrize(
    ("reason", "check"),
    [
        (
            "Response to preflight request doesn't pass access control check: It does not have "
            "HTTP ok status.",
            "preflight-status",
        ),
        (
            "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
            "acao-missing",
        ),
        (
            "Response to preflight request doesn't pass access control check: No "
            "'Access-Control-Allow-Origin' header is present on the requested resource.",
            "acao-missing",
        ),
        (
            "Response to preflight request doesn't pass access control check: Redirect is not "
            "allowed for a preflight request.",
            "preflight-redirect",
        ),
        (
            "The 'Access-Control-Allow-Origin' header contains multiple values 'http://a, "
            "http://a', but only one is allowed. Have the server send the header with a valid "
            "value.",
            "acao-multiple",
        ),
        (
            "The value of the 'Access-Control-Allow-Origin' header in the response must not be "
            "the wildcard '*' when the request's credentials mode is 'include'.",
            "acao-wildcard-credentials",
        ),
        (
            "Request header field x-api-key is not allowed by Access-Control-Allow-Headers in "
            "preflight response.",
            "header-not-allowed",
        ),
        (
            "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
            "method-not-allowed",
        ),
        (
            "The 'Access-Control-Allow-Origin' header has a value 'null' that is not equal to "
            "the supplied origin. Have the server send the header with a valid value.",
            "acao-mismatch",
        ),
        (
            "The value of the 'Access-Control-Allow-Credentials' header in the response is "
            "'True' which must be 'true' when the request's credentials mode is 'include'.",
            "acac",
        ),
    ],
)
def test_chromium_reasons(reason: str, check: str) -> None:
    assert browser_reason(["unrelated", PREFIX + reason]) == (reason, check)


def test_no_reason_without_a_cors_message() -> None:
    assert browser_reason(["Failed to load resource: net::ERR_FAILED"]) is None
    assert browser_reason([PREFIX + "Something new."]) == ("Something new.", None)


def _repeated(max_age: str, attempts: list[tuple[float, bool]]) -> Result:
    preflight = Exchange.from_wire(
        probe="p",
        method="OPTIONS",
        path="/x",
        query="cors_probe=p",
        request_headers=[("origin", "http://a.test"), ("access-control-request-method", "PUT")],
        status=204,
        response_headers=[("Access-Control-Max-Age", max_age)],
        server_exception=None,
        elapsed_ms=1.0,
    )
    return make_result(
        evidence=[preflight],
        attempts=[
            {"at_s": at, "preflight_sent": sent, "reached_server": True, "received": True}
            for at, sent in attempts
        ],
    )


def test_a_preflight_kept_past_its_max_age_departs() -> None:
    (line,) = cache_departures(_repeated("2", [(0, True), (1.5, False), (4.5, False)]))
    assert line == (
        "the attempt at 4.5 s went without a preflight, on an answer 4.5 s old whose "
        "Access-Control-Max-Age allows 2 s"
    )


def test_a_preflight_dropped_early_or_kept_in_time_does_not_depart() -> None:
    assert cache_departures(_repeated("2", [(0, True), (1.5, False), (3.0, True)])) == []
    # -1 cannot be read: the standard's 5 s apply, and no cache at all is allowed too.
    assert cache_departures(_repeated("-1", [(0, True), (2, True), (4, False)])) == []
    assert cache_departures(_repeated("0", [(0, True), (2, False)])) != []
