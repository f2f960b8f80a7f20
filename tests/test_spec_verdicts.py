"""Chromium's console reasons, told apart by the check of the Fetch standard each names."""

from __future__ import annotations

import pytest

from cors_harness.spec_verdicts import browser_reason

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
