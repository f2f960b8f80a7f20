"""Each cell's verdict under the Fetch standard, where the browser departs from it, and the
browser's own reason beside the standard's."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from cors_harness.fetch_standard import FetchCall, judge, judge_websocket, max_age
from cors_harness.results import SpecVerdict

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.scenario import Request

# Chromium's console says why it blocked: "... has been blocked by CORS policy: <reason>".
BLOCKED_BY = "has been blocked by CORS policy: "
# Its reasons, by the check of the standard each names; the first that matches wins.
CHROMIUM_REASONS: list[tuple[str, re.Pattern[str]]] = [
    (check, re.compile(pattern))
    for check, pattern in (
        ("preflight-redirect", r"Redirect is not allowed for a preflight request"),
        ("preflight-status", r"does not have HTTP ok status"),
        ("acao-multiple", r"'Access-Control-Allow-Origin' header contains multiple values"),
        ("acao-wildcard-credentials", r"must not be the wildcard '\*' when the request's "),
        ("acao-mismatch", r"'Access-Control-Allow-Origin' header has a value .* that is not "),
        ("acao-missing", r"No 'Access-Control-Allow-Origin' header is present"),
        ("acac", r"'Access-Control-Allow-Credentials' header in the response is"),
        ("method-not-allowed", r"Method \S+ is not allowed by Access-Control-Allow-Methods"),
        ("header-not-allowed", r"Request header field \S+ is not allowed by "),
        ("private-network", r"[Pp]rivate [Nn]etwork|more-private address space|loopback"),
    )
]


def browser_reason(console: list[str]) -> tuple[str, str | None] | None:
    """(the browser's reason, the check it names or None) from a cell's console lines."""
    for line in console:
        if BLOCKED_BY not in line:
            continue
        reason = line.split(BLOCKED_BY, 1)[1].strip()
        check = next((c for c, pattern in CHROMIUM_REASONS if pattern.search(reason)), None)
        return reason, check
    return None


def spec_verdict(request: Request, result: Result) -> SpecVerdict | None:
    """The standard's verdict on a fetch() cell, with every departure of the browser from it;
    None for a visit (no CORS), an error cell, or a page the browser moved elsewhere."""
    if request.visit or result.outcome in {"error", "upgraded"} or not result.frontend_origin:
        return None
    if request.kind == "websocket":
        verdict = judge_websocket(result.frontend_origin, result.evidence)
    else:
        verdict = judge(_call(request, result), result.evidence)
    departures = list(verdict.departures)
    if verdict.outcome != "unknown" and result.outcome != verdict.outcome:
        departures.append(
            f"the browser's outcome is {result.outcome}; the standard's is {verdict.outcome} "
            f"({verdict.reason})"
        )
    if (
        result.outcome == verdict.outcome == "allowed"
        and verdict.readable_headers is not None
        and sorted(result.readable_headers) != verdict.readable_headers
    ):
        seen = ", ".join(sorted(result.readable_headers)) or "none"
        allowed = ", ".join(verdict.readable_headers) or "none"
        departures.append(f"the page could read {seen}; the standard lets it read {allowed}")
    if verdict.preflight_required:
        departures += cache_departures(result)
    told = browser_reason(result.console)
    return SpecVerdict.model_validate(
        {
            **dataclasses.asdict(verdict),
            "departures": departures,
            "browser_reason": told[0] if told else None,
            "browser_check": told[1] if told else None,
        }
    )


# Seconds of slack between an attempt's time and its preflight's arrival, for the comparison with
# Max-Age: the attempt's time is taken before the browser sends anything.
CACHE_SLACK_S = 1.0


def cache_departures(result: Result) -> list[str]:
    """A repeated request that went without a preflight while its last preflight's answer was
    older than that answer's Max-Age allows: the browser kept the answer too long."""
    preflights = [e for e in result.evidence if e.preflight and not e.internal]
    if not result.attempts or not preflights:
        return []
    allowed = max_age(preflights[0].response_headers)
    found = []
    last: float | None = None
    for attempt in result.attempts:
        if attempt.preflight_sent:
            last = attempt.at_s
        elif last is not None and attempt.at_s - last > allowed + CACHE_SLACK_S:
            found.append(
                f"the attempt at {attempt.at_s:g} s went without a preflight, on an answer "
                f"{attempt.at_s - last:.1f} s old whose Access-Control-Max-Age allows {allowed} s"
            )
    return found


def _call(request: Request, result: Result) -> FetchCall:
    return FetchCall(
        url=result.url,
        origin=result.frontend_origin,
        method=request.method,
        headers=list(request.fetch_headers().items()),
        body=request.fetch_body(),
        credentials=request.credentials,
        mode=request.mode,
        redirect=request.redirect,
    )


__all__ = ["browser_reason", "spec_verdict"]
