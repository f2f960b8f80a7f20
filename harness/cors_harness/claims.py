"""Claims against cells: a verdict per browser, computed only from what the run observed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness.expect import mismatches
from cors_harness.results import BrowserVerdict, ClaimVerdict

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cors_harness.results import Exchange, Result
    from cors_harness.scenario import Browser, Claim, Prediction, Scenario


def claim_verdicts(scenario: Scenario, results: Iterable[Result]) -> list[ClaimVerdict]:
    """One ClaimVerdict per claim of `scenario`, for each browser that ran all its requests."""
    cells = {(r.request, r.browser): r for r in results if r.scenario == scenario.name}
    verdicts = []
    for claim in scenario.claims:
        requests = list(dict.fromkeys(p.request for p in claim.predicts))
        per_browser = [
            judge(scenario, claim, browser, cells)
            for browser in scenario.browsers
            if all((request, browser) in cells for request in requests)
        ]
        verdicts.append(
            ClaimVerdict(
                scenario=scenario.name,
                id=claim.id,
                claim=claim.claim,
                source=claim.source,
                requests=requests,
                verdicts=per_browser,
            )
        )
    return verdicts


def judge(
    scenario: Scenario, claim: Claim, browser: Browser, cells: dict[tuple[str, Browser], Result]
) -> BrowserVerdict:
    """`inconclusive` if a cell the claim needs is `error`; else `refuted` if any prediction
    fails; else `holds`."""
    # An upgraded page never existed on its origin: nothing the claim says about it is seen.
    errors = {
        p.request: f"{p.request}: {cell.outcome}: {cell.error}"
        for p in claim.predicts
        if (cell := cells[p.request, browser]).outcome in {"error", "upgraded"}
    }
    if errors:
        return BrowserVerdict(
            browser=browser, verdict="inconclusive", observed=list(errors.values())
        )
    failed = [
        f"{p.request}: {problem}"
        for p in claim.predicts
        for problem in prediction_problems(
            p, cells[p.request, browser], scenario.request(p.request).read_headers
        )
    ]
    return BrowserVerdict(
        browser=browser, verdict="refuted" if failed else "holds", observed=failed
    )


def prediction_problems(
    prediction: Prediction, result: Result, read_headers: list[str]
) -> list[str]:
    """Each part of the prediction the cell does not show; empty when all of it holds."""
    found = mismatches(prediction, result, read_headers)
    if prediction.allowed is not None and prediction.allowed != (result.outcome == "allowed"):
        expected = "allowed" if prediction.allowed else "blocked"
        found.append(f"page could read: expected {expected}, observed {result.outcome}")
    if prediction.preflights is not None:
        sent = sum(1 for e in result.evidence if e.preflight)
        if sent != prediction.preflights:
            found.append(f"preflights: expected {prediction.preflights}, observed {sent}")
    if prediction.response_headers is not None:
        actual = next((e for e in result.evidence if not e.preflight), None)
        found += _header_problems("response", prediction.response_headers, actual)
    if prediction.preflight_headers is not None:
        preflight = next((e for e in result.evidence if e.preflight), None)
        found += _header_problems("preflight response", prediction.preflight_headers, preflight)
    return found


def _header_problems(
    label: str, expected: dict[str, str | None], exchange: Exchange | None
) -> list[str]:
    if exchange is None:
        return [f"{label}: none reached the server"]
    problems = []
    for name, want in expected.items():
        values = exchange.response_header(name)
        observed = " | ".join(values) if values else "absent"
        if want is None:
            if values:
                problems.append(f"{label} {name}: expected absent, observed {observed}")
            continue
        have = {item.strip().lower() for value in values for item in value.split(",")}
        if any(item.strip().lower() not in have for item in want.split(",")):
            problems.append(f"{label} {name}: expected {want}, observed {observed}")
    return problems
