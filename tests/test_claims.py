"""Claims: validation with file, line and field, and verdicts computed from cells alone."""

from __future__ import annotations

from typing import Any

import pytest

from cors_harness._exceptions import ScenarioError
from cors_harness.claims import claim_verdicts
from cors_harness.findings import findings
from cors_harness.loading import parse_scenario
from cors_harness.results import Environment, Exchange, Result, RunResults

SCENARIO = """\
backend:
  cors: {allow_origins: ["{frontend:app}"]}
frontends:
  app: {host: localhost}
requests:
  - {name: get, frontend: app, read_headers: [X-Total-Count]}
  - {name: put, frontend: app, method: PUT}
claims:
  - id: get-allowed
    claim: A simple GET is allowed.
    source: test
    predicts:
      - {request: get, allowed: true, preflight_sent: false}
  - id: put-vary
    claim: The preflight says Vary Origin and the actual answer has no credentials header.
    source: test
    predicts:
      - {request: put, preflights: 1, preflight_headers: {Vary: Origin}}
      - {request: put, response_headers: {Access-Control-Allow-Credentials: null}}
"""


def exchange(*, preflight: bool, headers: list[tuple[str, str]]) -> Exchange:
    return Exchange.from_wire(
        probe="p",
        method="OPTIONS" if preflight else "GET",
        path="/",
        query="cors_probe=p",
        request_headers=[("access-control-request-method", "PUT")] if preflight else [],
        status=200,
        response_headers=headers,
        server_exception=None,
        elapsed_ms=1.0,
    )


def cell(request: str, browser: str = "chromium", **changes: Any) -> Result:
    fields: dict[str, Any] = {
        "scenario": "inline",
        "request": request,
        "browser": browser,
        "browser_version": "1",
        "engine": "playwright-bundled",
        "frontend_origin": "http://localhost:1",
        "url": "http://localhost:2/",
        "method": "GET",
        "credentials": "same-origin",
        "outcome": "allowed",
        "preflight_sent": False,
        "reached_server": True,
        "cookie_sent": False,
        "status": 200,
        "readable_headers": {},
        "error": None,
        "console": [],
        "evidence": [],
    }
    fields.update(changes)
    return Result.model_validate(fields)


PUT_EVIDENCE = [
    exchange(preflight=True, headers=[("Vary", "Accept-Encoding, Origin")]),
    exchange(preflight=False, headers=[]),
]


def verdicts(*results: Result) -> dict[tuple[str, str], tuple[str, list[str]]]:
    scenario = parse_scenario(SCENARIO, "inline.yaml").model_copy(
        update={"browsers": ["chromium", "webkit"]}
    )
    return {
        (c.id, v.browser): (v.verdict, v.observed)
        for c in claim_verdicts(scenario, results)
        for v in c.verdicts
    }


def test_holds_when_every_prediction_matches() -> None:
    found = verdicts(cell("get"), cell("put", preflight_sent=True, evidence=PUT_EVIDENCE))
    assert found["get-allowed", "chromium"] == ("holds", [])
    assert found["put-vary", "chromium"] == ("holds", [])


def test_refuted_names_each_failed_prediction() -> None:
    evidence = [
        exchange(preflight=True, headers=[]),
        exchange(preflight=False, headers=[("Access-Control-Allow-Credentials", "true")]),
    ]
    found = verdicts(
        cell("get", outcome="blocked-response", status=None),
        cell("put", preflight_sent=True, evidence=evidence),
    )
    assert found["get-allowed", "chromium"] == (
        "refuted",
        ["get: page could read: expected allowed, observed blocked-response"],
    )
    assert found["put-vary", "chromium"] == (
        "refuted",
        [
            "put: preflight response Vary: expected Origin, observed absent",
            "put: response Access-Control-Allow-Credentials: expected absent, observed true",
        ],
    )


def test_an_error_cell_makes_it_inconclusive_per_browser() -> None:
    found = verdicts(
        cell("get"),
        cell("put", evidence=PUT_EVIDENCE, preflight_sent=True),
        cell("get", "webkit", outcome="error", error="no answer within 1000 ms"),
        cell("put", "webkit", evidence=PUT_EVIDENCE, preflight_sent=True),
    )
    assert found["get-allowed", "chromium"][0] == "holds"
    assert found["get-allowed", "webkit"] == (
        "inconclusive",
        ["get: error: no answer within 1000 ms"],
    )
    assert found["put-vary", "webkit"][0] == "holds"


def test_a_browser_missing_a_cell_gets_no_verdict() -> None:
    found = verdicts(cell("get"), cell("put", preflight_sent=True, evidence=PUT_EVIDENCE))
    assert ("get-allowed", "webkit") not in found


def test_preflight_count_and_missing_exchange() -> None:
    found = verdicts(cell("get"), cell("put", outcome="blocked-network", reached_server=False))
    assert found["put-vary", "chromium"] == (
        "refuted",
        [
            "put: preflights: expected 1, observed 0",
            "put: preflight response: none reached the server",
            "put: response: none reached the server",
        ],
    )


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "inline.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "{request: get, allowed: true, preflight_sent: false}",
            "{request: got, allowed: true}",
            "inline.yaml:13: claims[0].predicts[0].request: unknown request 'got'; "
            "declared: get, put",
            id="unknown-request",
        ),
        pytest.param(
            "{request: get, allowed: true, preflight_sent: false}",
            "{request: get}",
            "inline.yaml:13: claims[0].predicts[0]: predicts nothing; "
            "give an outcome, allowed or another fact",
            id="empty-prediction",
        ),
        pytest.param(
            "{request: get, allowed: true, preflight_sent: false}",
            "{request: get, readable_headers: [X-Request-Id]}",
            "inline.yaml:13: claims[0].predicts[0].readable_headers: X-Request-Id not in the "
            "request's read_headers; add it there",
            id="unread-header",
        ),
        pytest.param(
            "id: put-vary",
            "id: get-allowed",
            "inline.yaml:14: claims[1].id: claim id 'get-allowed' is used twice",
            id="duplicate-id",
        ),
        pytest.param(
            "{request: get, allowed: true, preflight_sent: false}",
            "{request: get, allowed: maybe}",
            "inline.yaml:13: claims[0].predicts[0].allowed: Input should be a valid boolean, "
            "unable to interpret input",
            id="bad-type",
        ),
    ],
)
def test_claim_errors_name_line_and_field(old: str, new: str, message: str) -> None:
    assert old in SCENARIO
    assert _error(SCENARIO.replace(old, new)) == message


def test_findings_put_disagreements_first() -> None:
    run = RunResults(
        started_at="2026-01-01T00:00:00+00:00",
        wall_seconds=1.0,
        environment=Environment(python="3.11", platform="linux", packages={}, browsers=[]),
        results=[
            cell("get"),
            cell("put", preflight_sent=True, evidence=PUT_EVIDENCE),
            cell("get", "webkit", outcome="blocked-response", status=None),
            cell("put", "webkit", preflight_sent=True, evidence=PUT_EVIDENCE),
        ],
    )
    scenario = parse_scenario(SCENARIO, "inline.yaml").model_copy(
        update={"browsers": ["chromium", "webkit"]}
    )
    run.claims = claim_verdicts(scenario, run.results)
    text = findings(run)
    disagree = text.index("## Where the browsers disagree")
    assert disagree < text.index("## Claims") < text.index("## Scenarios")
    assert "| inline | get |" in text[disagree : text.index("## Claims")]
    assert "get-allowed: A simple GET is allowed." in text[disagree : text.index("## Claims")]
