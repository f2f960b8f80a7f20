"""From what the page saw and what the server recorded to one outcome and its facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cors_harness.results import PageResult

if TYPE_CHECKING:
    from cors_harness.results import Exchange
    from cors_harness.scenario import Outcome, Request


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    preflight_sent: bool
    reached_server: bool
    cookie_sent: bool
    status: int | None
    error: str | None


# How the recorder names a failure of the recording proxy to reach its upstream.
UPSTREAM_FAILED = "UpstreamUnavailable"

# What fetch() resolves with when the page may not read the answer: a no-cors response to
# another origin, or a redirect under redirect: "manual". Their status reads 0 and no header.
OPAQUE = {"opaque", "opaqueredirect"}


def classify(
    page: PageResult,
    evidence: list[Exchange],
    cookie_names: list[str],
    evidence_failure: str | None = None,
) -> Classification:
    """One outcome per cell; a harness failure is `error`, never a kind of `blocked`.

    `cookie_names` are the cookies the request set up; with none, any cookie counts.
    `evidence_failure` says why the server's record is missing: without it, nothing can be told.
    What an internal backend received came from another server, not the browser: not counted.
    """
    evidence = [e for e in evidence if not e.internal]
    preflights = [e for e in evidence if e.preflight]
    actual = [e for e in evidence if not e.preflight]
    sent = {name for e in actual for name in e.cookies_sent}
    cookie_sent = bool(sent & set(cookie_names)) if cookie_names else bool(sent)
    unsent = next((e for e in evidence if e.send_error is not None), None)
    # The recording proxy could not reach a running server: nothing the browser did is known.
    unreached = next(
        (e for e in evidence if e.server_exception and UPSTREAM_FAILED in e.server_exception),
        None,
    )
    # Both, when both: a fetch that got no answer from servers that stopped answering.
    harness_error = "; ".join(e for e in (page.harness_error, evidence_failure) if e) or None
    if harness_error is None and unsent is not None:
        harness_error = (
            f"the server could not send its {unsent.method} response: {unsent.send_error}"
        )
    if harness_error is None and unreached is not None and unreached.server_exception:
        harness_error = unreached.server_exception.split(f"{UPSTREAM_FAILED}: ", 1)[-1]
    outcome: Outcome
    if harness_error is not None:
        outcome = "error"
    elif page.received and page.response_type in OPAQUE:
        outcome = "opaque"
    elif page.received:
        outcome = "allowed"
    elif actual:
        outcome = "blocked-response"
    elif preflights:
        outcome = "blocked-preflight"
    else:
        outcome = "blocked-network"
    return Classification(
        outcome=outcome,
        preflight_sent=bool(preflights),
        reached_server=bool(actual),
        cookie_sent=cookie_sent,
        status=page.status if page.received and page.response_type not in OPAQUE else None,
        error=harness_error or page.error,
    )


def reached_backends(evidence: list[Exchange]) -> list[str]:
    """The backends the actual request reached, in order: one per hop of a redirect chain."""
    return [
        e.backend for e in evidence if not (e.preflight or e.internal) and e.backend is not None
    ]


def navigation(probe: str, evidence: list[Exchange]) -> PageResult:
    """What a top-level visit got: the server's last answer to it, which the user sees.

    CORS does not apply to a navigation, so an answer, whatever its status, is `allowed`; a
    visit the server never answered is `error`, never a kind of `blocked`.
    """
    answers = [e for e in evidence if not (e.preflight or e.internal) and e.status is not None]
    if not answers:
        return PageResult(
            probe=probe,
            received=False,
            harness_error="the server recorded no answer to the visit",
            error=None,
        )
    return PageResult(
        probe=probe, received=True, status=answers[-1].status, harness_error=None, error=None
    )


def step_failure(step: Request, page: PageResult, evidence: list[Exchange]) -> str | None:
    """Why the requests that run after `step` cannot be observed, or None when they can.

    A step the harness could not observe did not happen as written; a login step whose response
    set none of its `sets_cookies` would leave its dependents without the cookie, for a reason
    that is not CORS.
    """
    what = f"{step.method} {step.path}"
    if page.harness_error is not None:
        return f"step {step.name!r} ({what}) could not be observed: {page.harness_error}"
    actual = [e for e in evidence if not (e.preflight or e.internal)]
    set_here = {name for e in actual for name in e.cookies_set()}
    missing = [name for name in step.sets_cookies if name not in set_here]
    if not missing:
        return None
    answered = next((e.status for e in reversed(actual) if e.status is not None), None)
    how = "did not reach the server" if answered is None else f"answered {answered}"
    names = ", ".join(repr(name) for name in missing)
    cookies = "cookie" if len(missing) == 1 else "cookies"
    return f"login step {step.name!r} ({what}) {how} and set no {cookies} {names}"
