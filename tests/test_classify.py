"""From page result and server evidence to an outcome, and comparing it with the expectation."""

from __future__ import annotations

from typing import Any

import pytest

from cors_harness.classify import classify
from cors_harness.expect import mismatches
from cors_harness.results import Exchange, PageResult, Result
from cors_harness.scenario import Facts, Outcome

ORIGIN = "http://app.localhost:41231"
BACKEND = "localhost:41230"
PROBE = "p7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)"
FAILED = "TypeError: Failed to fetch"
HARNESS_FAILED = "TimeoutError: the page did not answer within 10s"


def preflight(*, status: int = 200, cookie: str | None = None) -> Exchange:
    """The OPTIONS a browser sends before a PUT with a JSON body."""
    headers = [
        ("host", BACKEND),
        ("accept", "*/*"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "content-type"),
        ("origin", ORIGIN),
        ("user-agent", USER_AGENT),
        ("sec-fetch-mode", "cors"),
    ]
    if cookie is not None:
        headers.append(("cookie", cookie))
    if status == 200:
        response = [
            ("access-control-allow-origin", ORIGIN),
            ("access-control-allow-methods", "GET, POST, PUT"),
            ("access-control-allow-headers", "content-type"),
            ("access-control-max-age", "600"),
            ("vary", "Origin"),
            ("content-length", "2"),
            ("content-type", "text/plain; charset=utf-8"),
        ]
    else:
        response = [("content-length", "22"), ("content-type", "text/plain; charset=utf-8")]
    return Exchange.from_wire(
        probe=PROBE,
        method="OPTIONS",
        path="/items/1",
        query=f"probe={PROBE}",
        request_headers=headers,
        status=status,
        response_headers=response,
        server_exception=None,
        elapsed_ms=1.8,
    )


def actual(
    method: str = "GET", *, cookie: str | None = None, status: int = 200, path: str = "/"
) -> Exchange:
    """The request itself, as the backend received it."""
    headers = [
        ("host", BACKEND),
        ("accept", "*/*"),
        ("origin", ORIGIN),
        ("referer", f"{ORIGIN}/"),
        ("user-agent", USER_AGENT),
        ("sec-fetch-mode", "cors"),
    ]
    if method in {"POST", "PUT", "PATCH"}:
        headers.append(("content-type", "application/json"))
    if cookie is not None:
        headers.append(("cookie", cookie))
    return Exchange.from_wire(
        probe=PROBE,
        method=method,
        path=path,
        query=f"probe={PROBE}",
        request_headers=headers,
        status=status,
        response_headers=[
            ("content-length", "17"),
            ("content-type", "application/json"),
            ("x-total-count", "3"),
        ],
        server_exception=None,
        elapsed_ms=3.2,
    )


def received(status: int = 200) -> PageResult:
    return PageResult(
        probe=PROBE,
        received=True,
        status=status,
        headers={"content-type": "application/json"},
        response_type="cors",
        redirected=False,
    )


def rejected(error: str = FAILED) -> PageResult:
    return PageResult(probe=PROBE, received=False, error=error)


PREFLIGHT_OK = preflight()
PREFLIGHT_REJECTED = preflight(status=400)
GET = actual()
PUT = actual("PUT", path="/items/1")


def test_fixtures_look_like_the_wire() -> None:
    assert PREFLIGHT_OK.preflight
    assert PREFLIGHT_OK.access_control_request_method == "PUT"
    assert PREFLIGHT_OK.origin == ORIGIN
    assert not GET.preflight
    assert GET.origin == ORIGIN
    assert actual(cookie="session=abc; theme=dark").cookies_sent == ["session", "theme"]


# --- outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "evidence", "outcome", "preflight_sent", "reached_server"),
    [
        pytest.param(received(), [GET], "allowed", False, True, id="allowed-simple"),
        pytest.param(received(), [PREFLIGHT_OK, PUT], "allowed", True, True, id="allowed-after-ok"),
        pytest.param(
            rejected(), [PREFLIGHT_REJECTED], "blocked-preflight", True, False, id="preflight-400"
        ),
        pytest.param(
            rejected(), [PREFLIGHT_OK], "blocked-preflight", True, False, id="preflight-200-only"
        ),
        pytest.param(rejected(), [GET], "blocked-response", False, True, id="response-simple"),
        pytest.param(
            rejected(), [PREFLIGHT_OK, PUT], "blocked-response", True, True, id="response-after-ok"
        ),
        pytest.param(
            rejected(),
            [actual("OPTIONS")],
            "blocked-response",
            False,
            True,
            id="options-without-request-method-is-not-a-preflight",
        ),
        pytest.param(rejected(), [], "blocked-network", False, False, id="network"),
    ],
)
def test_outcome(
    page: PageResult,
    evidence: list[Exchange],
    outcome: Outcome,
    preflight_sent: bool,
    reached_server: bool,
) -> None:
    found = classify(page, evidence, [])
    assert found.outcome == outcome
    assert found.preflight_sent is preflight_sent
    assert found.reached_server is reached_server
    assert found.error == (None if page.received else FAILED)


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param([], id="no-evidence"),
        pytest.param([PREFLIGHT_REJECTED], id="preflight-only"),
        pytest.param([GET], id="actual-only"),
        pytest.param([PREFLIGHT_OK, PUT], id="preflight-and-actual"),
    ],
)
@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            PageResult(probe=PROBE, received=False, harness_error=HARNESS_FAILED), id="bare"
        ),
        pytest.param(
            PageResult(probe=PROBE, received=False, error=FAILED, harness_error=HARNESS_FAILED),
            id="with-browser-error",
        ),
        pytest.param(
            PageResult(probe=PROBE, received=True, status=200, harness_error=HARNESS_FAILED),
            id="received",
        ),
    ],
)
def test_harness_error_wins_over_evidence(page: PageResult, evidence: list[Exchange]) -> None:
    found = classify(page, evidence, [])
    assert found.outcome == "error"
    assert found.error == HARNESS_FAILED
    # The evidence is still reported as it was.
    assert found.preflight_sent is any(e.preflight for e in evidence)
    assert found.reached_server is any(not e.preflight for e in evidence)


# --- cookies and status --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "cookie_names", "sent"),
    [
        pytest.param("session=abc", ["session"], True, id="named-sent"),
        pytest.param("theme=dark; session=abc", ["session"], True, id="named-among-others"),
        pytest.param("theme=dark", ["session"], False, id="named-not-sent-other-was"),
        pytest.param(None, ["session"], False, id="named-no-cookie-header"),
        pytest.param("theme=dark", [], True, id="any-cookie-sent"),
        pytest.param(None, [], False, id="any-no-cookie-header"),
    ],
)
def test_cookie_sent_on_actual_request(
    cookie: str | None, cookie_names: list[str], sent: bool
) -> None:
    found = classify(received(), [actual(cookie=cookie)], cookie_names)
    assert found.cookie_sent is sent


@pytest.mark.parametrize("cookie_names", [["session"], []], ids=["named", "any"])
def test_cookie_on_preflight_does_not_count(cookie_names: list[str]) -> None:
    found = classify(rejected(), [preflight(cookie="session=abc")], cookie_names)
    assert found.outcome == "blocked-preflight"
    assert found.cookie_sent is False


@pytest.mark.parametrize(
    ("page", "evidence", "status"),
    [
        pytest.param(received(204), [actual("DELETE", status=204)], 204, id="received-204"),
        pytest.param(received(404), [actual(status=404)], 404, id="received-404"),
        pytest.param(rejected(), [actual(status=200)], None, id="blocked-server-said-200"),
        pytest.param(
            PageResult(probe=PROBE, received=False, status=500, error=FAILED),
            [actual(status=500)],
            None,
            id="not-received-status-ignored",
        ),
    ],
)
def test_status_only_when_received(
    page: PageResult, evidence: list[Exchange], status: int | None
) -> None:
    assert classify(page, evidence, []).status == status


# --- mismatches ----------------------------------------------------------------------------


def make_result(**changes: Any) -> Result:
    fields: dict[str, Any] = {
        "scenario": "seed_article",
        "request": "app-put-json",
        "browser": "webkit",
        "browser_version": "18.2",
        "engine": "playwright-bundled",
        "frontend_origin": ORIGIN,
        "url": f"http://{BACKEND}/items/1?probe={PROBE}",
        "method": "PUT",
        "credentials": "omit",
        "outcome": "allowed",
        "preflight_sent": True,
        "reached_server": True,
        "cookie_sent": False,
        "status": 200,
        # The runner stores the names lower-cased, as fetch() reports them.
        "readable_headers": {"content-type": "application/json", "x-total-count": "3"},
        "error": None,
        "console": [],
        "evidence": [PREFLIGHT_OK, PUT],
    }
    fields.update(changes)
    return Result.model_validate(fields)


READ = ["X-Total-Count", "X-Request-Id"]


def test_no_mismatch_when_every_fact_holds() -> None:
    facts = Facts(
        outcome="allowed",
        preflight_sent=True,
        reached_server=True,
        cookie_sent=False,
        status=200,
        readable_headers=["X-Total-Count"],
    )
    assert mismatches(facts, make_result(), READ) == []


def test_unchecked_facts_never_mismatch() -> None:
    result = make_result(
        outcome="blocked-network",
        preflight_sent=False,
        reached_server=False,
        cookie_sent=None,
        status=None,
        readable_headers={},
    )
    assert mismatches(Facts(), result, READ) == []


@pytest.mark.parametrize(
    ("facts", "changes", "message"),
    [
        pytest.param(
            Facts(outcome="allowed"),
            {"outcome": "blocked-response"},
            "outcome: expected allowed, observed blocked-response",
            id="outcome",
        ),
        pytest.param(
            Facts(preflight_sent=True),
            {"preflight_sent": False},
            "preflight_sent: expected true, observed false",
            id="preflight_sent",
        ),
        pytest.param(
            Facts(reached_server=False),
            {"reached_server": True},
            "reached_server: expected false, observed true",
            id="reached_server-false-is-checked",
        ),
        pytest.param(
            Facts(cookie_sent=True),
            {"cookie_sent": False},
            "cookie_sent: expected true, observed false",
            id="cookie_sent",
        ),
        pytest.param(
            Facts(status=200),
            {"status": 204},
            "status: expected 200, observed 204",
            id="status",
        ),
        pytest.param(
            Facts(readable_headers=["X-Total-Count"]),
            {"readable_headers": {"x-request-id": "r1"}},
            "readable_headers: expected [x-total-count], observed [x-request-id]",
            id="readable_headers",
        ),
    ],
)
def test_one_mismatch(facts: Facts, changes: dict[str, Any], message: str) -> None:
    assert mismatches(facts, make_result(**changes), READ) == [message]


def test_mismatches_in_field_order() -> None:
    facts = Facts(outcome="allowed", reached_server=True, status=200, preflight_sent=True)
    result = make_result(
        outcome="blocked-preflight", preflight_sent=True, reached_server=False, status=None
    )
    found = mismatches(facts, result, READ)
    assert [m.split(":", 1)[0] for m in found] == ["outcome", "reached_server", "status"]
    assert found[0] == "outcome: expected allowed, observed blocked-preflight"
    assert found[1] == "reached_server: expected true, observed false"
    assert found[2].startswith("status: expected 200, observed ")


@pytest.mark.parametrize(
    ("expected", "read_headers", "readable", "found"),
    [
        pytest.param(
            ["x-total-count"],
            ["X-Total-Count"],
            {"content-type": "application/json", "x-total-count": "3"},
            [],
            id="readable-but-unrequested-header-ignored",
        ),
        pytest.param(
            ["X-TOTAL-COUNT"],
            ["x-Total-Count"],
            {"x-total-count": "3"},
            [],
            id="case-insensitive",
        ),
        pytest.param(
            ["x-b", "X-A"],
            ["X-A", "X-B"],
            {"x-a": "1", "x-b": "2"},
            [],
            id="order-insensitive",
        ),
        pytest.param(
            [],
            ["X-Total-Count"],
            {"x-total-count": "3"},
            ["readable_headers: expected [], observed [x-total-count]"],
            id="expected-none-readable",
        ),
        pytest.param(
            ["X-Total-Count", "X-Request-Id"],
            ["X-Request-Id", "X-Total-Count"],
            {"x-total-count": "3"},
            ["readable_headers: expected [x-request-id, x-total-count], observed [x-total-count]"],
            id="one-missing",
        ),
        pytest.param(
            ["Content-Type"],
            ["X-Total-Count"],
            {"content-type": "application/json", "x-total-count": "3"},
            ["readable_headers: expected [content-type], observed [x-total-count]"],
            id="only-read_headers-are-observed",
        ),
        pytest.param(
            None,
            ["X-Total-Count"],
            {},
            [],
            id="not-checked",
        ),
    ],
)
def test_readable_headers(
    expected: list[str] | None,
    read_headers: list[str],
    readable: dict[str, str],
    found: list[str],
) -> None:
    facts = Facts(readable_headers=expected)
    assert mismatches(facts, make_result(readable_headers=readable), read_headers) == found


def test_classification_feeds_mismatches() -> None:
    """A credentialed PUT whose preflight the server refused, against the facts a user expected."""
    found = classify(rejected(), [PREFLIGHT_REJECTED], ["session"])
    result = make_result(
        outcome=found.outcome,
        preflight_sent=found.preflight_sent,
        reached_server=found.reached_server,
        cookie_sent=found.cookie_sent,
        status=found.status,
        readable_headers={},
        error=found.error,
    )
    facts = Facts(outcome="allowed", preflight_sent=True, cookie_sent=True)
    assert mismatches(facts, result, []) == [
        "outcome: expected allowed, observed blocked-preflight",
        "cookie_sent: expected true, observed false",
    ]


def test_a_head_the_server_could_not_write_is_an_error_not_a_block() -> None:
    unsent = preflight()
    unsent.send_error = "RuntimeError: Invalid HTTP header value."
    found = classify(rejected(), [unsent], [])
    assert found.outcome == "error"
    assert found.error == (
        "the server could not send its OPTIONS response: RuntimeError: Invalid HTTP header value."
    )
    # The preflight did reach the server: that fact stays true.
    assert found.preflight_sent


def test_missing_evidence_is_an_error_even_when_the_page_got_an_answer() -> None:
    reason = "the scenario's servers exited: exit status -9"
    found = classify(received(), [], [], reason)
    assert (found.outcome, found.error) == ("error", reason)


def test_both_reasons_when_the_fetch_and_the_servers_failed() -> None:
    page = PageResult(probe=PROBE, received=False, harness_error="no answer within 2000 ms")
    found = classify(page, [], [], "the scenario's servers did not answer 'for_probe' within 8 s")
    assert found.outcome == "error"
    assert found.error == (
        "no answer within 2000 ms; the scenario's servers did not answer 'for_probe' within 8 s"
    )


@pytest.mark.parametrize("response_type", ["opaque", "opaqueredirect"])
def test_an_answer_the_page_cannot_read_is_opaque_with_no_status(response_type: str) -> None:
    # fetch() resolves, but with status 0 and no header: neither allowed nor blocked.
    page = PageResult(probe=PROBE, received=True, status=0, response_type=response_type)
    found = classify(page, [GET], [])
    assert (found.outcome, found.status, found.reached_server) == ("opaque", None, True)


def test_a_readable_answer_is_never_opaque() -> None:
    assert classify(received(), [GET], []).outcome == "allowed"
