"""Claims judged in real browsers: verdicts come from the cells, never from the scenario."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cors_harness.claims import claim_verdicts
from cors_harness.loading import load_scenario
from cors_harness.scenario import BROWSERS, Browser

if TYPE_CHECKING:
    from cors_harness.results import ClaimVerdict, Result
    from cors_harness.runner import Harness

SCENARIO = Path(__file__).parent / "scenarios" / "claims.yaml"


@pytest.fixture(scope="module")
def judged(harness: Harness) -> tuple[dict[str, ClaimVerdict], dict[tuple[str, Browser], Result]]:
    scenario = load_scenario(SCENARIO)
    results = harness.run_scenario(scenario)
    verdicts = {c.id: c for c in claim_verdicts(scenario, results)}
    return verdicts, {(r.request, r.browser): r for r in results}


pytestmark = pytest.mark.parametrize("kind", BROWSERS)


def test_standard_behaviour_holds(
    judged: tuple[dict[str, ClaimVerdict], dict], kind: Browser
) -> None:
    verdicts, cells = judged
    assert verdicts["star-grants-anonymous"].verdict(kind) == "holds"
    assert cells["star-anonymous", kind].outcome == "allowed"


def test_star_with_credentials_is_refuted_with_the_reason(
    judged: tuple[dict[str, ClaimVerdict], dict], kind: Browser
) -> None:
    verdicts, cells = judged
    claim = verdicts["star-grants-credentialed"]
    assert claim.verdict(kind) == "refuted"
    (verdict,) = [v for v in claim.verdicts if v.browser == kind]
    assert verdict.observed == [
        "star-credentialed: page could read: expected allowed, observed blocked-response"
    ]
    assert cells["star-credentialed", kind].reached_server


def test_an_error_cell_makes_the_claim_inconclusive(
    judged: tuple[dict[str, ClaimVerdict], dict], kind: Browser
) -> None:
    verdicts, _ = judged
    # The other prediction fails too; the error still wins: the claim cannot be judged.
    assert verdicts["slow-answers-arrive"].verdict(kind) == "inconclusive"


def test_repeats_go_to_one_url_and_count_preflights(
    judged: tuple[dict[str, ClaimVerdict], dict], kind: Browser
) -> None:
    verdicts, cells = judged
    cell = cells["put-twice", kind]
    assert [a.preflight_sent for a in cell.attempts] == [True, True]
    assert cell.attempts[1].at_s >= 0.3
    assert len({(e.path, e.query) for e in cell.evidence}) == 1
    assert verdicts["max-age-zero-asks-every-time"].verdict(kind) == "holds"
