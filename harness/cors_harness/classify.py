"""From what the page saw and what the server recorded to one outcome and its facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cors_harness.results import Exchange, PageResult
    from cors_harness.scenario import Outcome


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    preflight_sent: bool
    reached_server: bool
    cookie_sent: bool
    status: int | None
    error: str | None


def classify(
    page: PageResult,
    evidence: list[Exchange],
    cookie_names: list[str],
    evidence_failure: str | None = None,
) -> Classification:
    """One outcome per cell; a harness failure is `error`, never a kind of `blocked`.

    `cookie_names` are the cookies the request set up; with none, any cookie counts.
    `evidence_failure` says why the server's record is missing: without it, nothing can be told.
    """
    preflights = [e for e in evidence if e.preflight]
    actual = [e for e in evidence if not e.preflight]
    sent = {name for e in actual for name in e.cookies_sent}
    cookie_sent = bool(sent & set(cookie_names)) if cookie_names else bool(sent)
    unsent = next((e for e in evidence if e.send_error is not None), None)
    # Both, when both: a fetch that got no answer from servers that stopped answering.
    harness_error = "; ".join(e for e in (page.harness_error, evidence_failure) if e) or None
    if harness_error is None and unsent is not None:
        harness_error = (
            f"the server could not send its {unsent.method} response: {unsent.send_error}"
        )
    outcome: Outcome
    if harness_error is not None:
        outcome = "error"
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
        status=page.status if page.received else None,
        error=harness_error or page.error,
    )
