"""FINDINGS.md: text from scenarios, browsers and servers stays text, links only to http(s)."""

from __future__ import annotations

from cors_harness._markdown import one_line
from cors_harness.findings import COMMAND, findings
from cors_harness.report import cell_text
from tests.test_report import (
    CLAIM,
    CLAIM_ID,
    OBSERVED,
    ORIGIN,
    REQUEST,
    SAFE_SOURCE,
    SCENARIO,
    VERSION,
    check_markdown,
    hostile,
    hostile_run,
)


def test_findings_keep_hostile_text_as_text() -> None:
    run = hostile_run()
    text = findings(run)
    page = check_markdown(
        text,
        headings=[
            "# What we found",
            "## Where the browsers disagree",
            "## Where browsers depart from the Fetch standard",
            "## Claims",
            "### From the reference FastAPI CORS article",
            "### From common advice and the standards",
            "## Scenarios",
            f"### {one_line(SCENARIO)}",
        ],
        code=[COMMAND, "error", "cors_harness/fetch_standard.py"],
    )
    assert "](javascript:" not in text
    assert f"(source: <{SAFE_SOURCE}>)" in text
    browsers = ["claim", "chromium", "firefox", "webkit"]
    cells = [cell_text(r) for r in run.results]
    requests = ["request", "from", *browsers[1:]]
    method = f"{one_line(hostile('method'))} {one_line(hostile('credentials'))}"
    assert page.tables == [
        [browsers, [f"{one_line(CLAIM_ID)}: {one_line(CLAIM)}", "holds", "not run", "refuted"]],
        [["scenario", "request", *browsers[1:]], [one_line(SCENARIO), one_line(REQUEST), *cells]],
        [
            ["scenario", "request", "browser", "observed", "the standard", "how it departs"],
            [
                one_line(SCENARIO),
                one_line(REQUEST),
                "webkit",
                cells[2],
                "allowed (" + one_line(hostile("check")) + "), javascript:alert(1)",
                one_line(hostile("departure")),
            ],
        ],
        [
            ["scenario", "request", "browser", "the browser's reason", "the standard's"],
            [
                one_line(SCENARIO),
                one_line(REQUEST),
                "webkit",
                one_line(hostile("browser reason")),
                f"{one_line(hostile('check'))}: {one_line(hostile('reason'))}",
            ],
        ],
        [
            ["claim", "scenario", *browsers[1:]],
            [
                f"from-article: {one_line(hostile('article claim'))}",
                one_line(SCENARIO),
                "not run",
                "inconclusive",
                "not run",
            ],
        ],
        [
            ["claim", "scenario", *browsers[1:]],
            [
                f"{one_line(CLAIM_ID)}: {one_line(CLAIM)}",
                one_line(SCENARIO),
                "holds",
                "not run",
                "refuted",
            ],
            ["plain: An ordinary claim.", one_line(SCENARIO), "holds", "not run", "not run"],
        ],
        [requests, [one_line(REQUEST), method, *cells]],
    ]
    assert page.texts["li"] == [
        "from-article (source: the reference FastAPI CORS article)",
        f"{one_line(hostile('inconclusive'))} [firefox]",
        f"{one_line(CLAIM_ID)} (source: javascript:alert(1))",
        f"{one_line(OBSERVED)} [webkit]",
        f"plain (source: {SAFE_SOURCE})",
    ]
    intro, counts, oracle, departing, reasons, description, path = page.texts["p"]
    assert counts == "3 claims, per browser: 2 hold, 1 refuted, 1 inconclusive. 1 cells were error."
    assert oracle.startswith("Each fetch() cell is judged by the harness's Fetch-standard oracle")
    assert departing == "1 of 1 judged cells depart (chromium 0, firefox 0, webkit 1)."
    assert reasons.startswith("Where the browser's console gives another reason")
    for part in ("started", "version", "engine", "python", "platform", "fastapi"):
        assert one_line(hostile(part)) in intro
    assert one_line(VERSION) in intro
    assert description == one_line(hostile("description"))
    assert path == f"File: {one_line(hostile('path'))}."
    assert one_line(ORIGIN) not in text
