"""The pytest plugin end to end, in pytest subprocesses driving real browsers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """\
backend:
  cors:
    allow_origins: ["{frontend:app}"]
    allow_methods: [GET, PUT]
    expose_headers: [X-Total-Count]
frontends:
  app: {host: localhost}
  stranger: {host: 127.0.0.1}
requests:
  - {name: list, frontend: app, path: /items/, read_headers: [X-Total-Count]}
  - {name: put-json, frontend: app, method: PUT, path: /items/1, json: {a: 1}}
  - {name: from-stranger, frontend: stranger}
"""
EXPECTING = SCENARIO.replace(
    "path: /items/, read_headers", "path: /items/, expect: allowed, read_headers"
).replace(
    "{name: from-stranger, frontend: stranger}",
    "{name: from-stranger, frontend: stranger, expect: allowed}",
)


def write(pytester: pytest.Pytester, text: str, name: str = "cors.yaml") -> Path:
    pytester.makeini("[pytest]\ncors_scenarios = scenarios\n")
    (pytester.path / "scenarios").mkdir(exist_ok=True)
    path = pytester.path / "scenarios" / name
    path.write_text(text)
    return path


def test_collects_one_item_per_request_and_browser(pytester: pytest.Pytester) -> None:
    write(pytester, SCENARIO)
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        f"scenarios/cors.yaml::{r}[{b}]"
        for r in ("list", "put-json", "from-stranger")
        for b in ("chromium", "firefox", "webkit")
    ]


def test_slow_scenarios_are_deselected_unless_asked(pytester: pytest.Pytester) -> None:
    write(pytester, SCENARIO)
    write(pytester, "slow: true\n" + SCENARIO, name="slow.yaml")
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert all(i.startswith("scenarios/cors.yaml::") for i in ids)
    assert len(ids) == 9
    assert "9 deselected" in result.stdout.str()
    asked = pytester.runpytest_subprocess("--collect-only", "-q", "--cors-slow")
    assert len([line for line in asked.outlines if "scenarios/slow.yaml::" in line]) == 9


def test_expectations_pass_and_fail_with_evidence(pytester: pytest.Pytester) -> None:
    write(pytester, EXPECTING)
    result = pytester.runpytest_subprocess("-k", "list or stranger", "-m", "chromium or webkit")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*CORS cell differs: cors :: from-stranger [[]webkit]*",
            "browser: webkit *",
            "  expected outcome: expected allowed, observed blocked-response",
            "evidence (as recorded on the server):",
            "  request: GET /?cors_probe=*",
            "    > origin: http://127.0.0.1:*",
        ]
    )
    result.stdout.fnmatch_lines(["browser error: TypeError: Failed to fetch*"])


def test_cells_without_expectation_or_baseline_say_how_to_record(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, SCENARIO)
    result = pytester.runpytest_subprocess("-k", "put-json", "--browser", "firefox")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no expectation and no baseline for this cell; record one with: "
            "pytest scenarios/cors.yaml --cors-update-baseline"
        ]
    )


def test_baseline_records_then_detects_drift(pytester: pytest.Pytester) -> None:
    path = write(pytester, SCENARIO)
    recorded = pytester.runpytest_subprocess("--cors-update-baseline")
    recorded.assert_outcomes(passed=9)
    baseline = path.with_name("cors.baseline.yaml").read_text()
    assert "  from-stranger:\n    chromium: {outcome: blocked-response, preflight_sent: false" in (
        baseline
    )
    assert re.search(r"webkit: \{version: [\d.]+, engine: \w+", baseline)
    pytester.runpytest_subprocess().assert_outcomes(passed=9)

    # One CORS setting changes: PUT is no longer allowed, the header no longer exposed.
    path.write_text(
        SCENARIO.replace("[GET, PUT]", "[GET]").replace("    expose_headers: [X-Total-Count]\n", "")
    )
    drifted = pytester.runpytest_subprocess()
    drifted.assert_outcomes(passed=3, failed=6)
    failed = sorted(line.split()[1] for line in drifted.outlines if line.startswith("FAILED"))
    assert failed == [
        f"scenarios/cors.yaml::{r}[{b}]"
        for r in ("list", "put-json")
        for b in ("chromium", "firefox", "webkit")
    ]
    drifted.stdout.fnmatch_lines(
        [
            "  changed since the baseline cors.baseline.yaml:",
            "    outcome: allowed -> blocked-preflight",
            "    reached_server: true -> false",
        ]
    )
    drifted.stdout.fnmatch_lines(["    readable_headers: [[]x-total-count] -> [[]]"])


def test_xdist_run_equals_serial_run_and_merges_one_report(pytester: pytest.Pytester) -> None:
    write(pytester, SCENARIO)
    write(pytester, SCENARIO.replace("127.0.0.1", "evil.localhost"), "second.yaml")
    serial = pytester.runpytest_subprocess("--cors-update-baseline", "--cors-report", "serial")
    serial.assert_outcomes(passed=18)
    parallel = pytester.runpytest_subprocess("-n", "2", "--cors-report", "parallel")
    parallel.assert_outcomes(passed=18)

    def cells(directory: str) -> dict[tuple[str, str, str], tuple[object, ...]]:
        data = json.loads((pytester.path / directory / "results.json").read_text())
        return {
            (r["scenario"], r["request"], r["browser"]): (
                r["outcome"],
                r["preflight_sent"],
                r["reached_server"],
                r["cookie_sent"],
                r["status"],
            )
            for r in data["results"]
        }

    assert len(cells("serial")) == 18
    assert cells("parallel") == cells("serial")
    merged = json.loads((pytester.path / "parallel" / "results.json").read_text())
    assert [b["name"] for b in merged["environment"]["browsers"]] == [
        "chromium",
        "firefox",
        "webkit",
    ]
    assert (pytester.path / "parallel" / "results.md").read_text().count("## ") == 2


def test_playwright_options_select_browsers_and_reach_the_engine(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, EXPECTING)
    only = pytester.runpytest_subprocess(
        "--browser", "firefox", "--browser", "webkit", "--collect-only", "-q"
    )
    assert sum("[firefox]" in line for line in only.outlines) == 3
    assert not any("[chromium]" in line for line in only.outlines)
    # A channel that does not exist: Chromium cannot launch, so its cells are errors, not failures.
    broken = pytester.runpytest_subprocess(
        "--browser", "chromium", "--browser-channel", "no-such-channel", "-k", "list"
    )
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(
        [
            "*ERROR at setup of cors::list[[]chromium]*",
            "harness could not observe the cell: cors :: list [[]chromium]",
            "browser: chromium unavailable (unavailable)",
        ]
    )
    broken.stdout.fnmatch_lines(["browser error: *no-such-channel*"])
    assert "Traceback" not in broken.stdout.str()


def test_junit_xml_carries_ids_and_failure_messages(pytester: pytest.Pytester) -> None:
    write(pytester, EXPECTING)
    pytester.runpytest_subprocess("--browser", "chromium", "-k", "stranger", "--junitxml=junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert 'name="from-stranger[chromium]"' in xml
    assert "expected outcome: expected allowed, observed blocked-response" in xml


def test_a_bad_scenario_is_one_collection_error(pytester: pytest.Pytester) -> None:
    write(pytester, SCENARIO.replace("frontend: stranger}", "frontend: nobody}"))
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(
        [
            "*scenarios/cors.yaml:12: requests[[]2].frontend: unknown frontend 'nobody'; "
            "declared: app, stranger"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_claim_verdicts_appear_in_the_pytest_output(pytester: pytest.Pytester) -> None:
    claims = (ROOT / "tests" / "scenarios" / "claims.yaml").read_text()
    write(pytester, claims, "claims.yaml")
    result = pytester.runpytest_subprocess(
        "--browser", "chromium", "--cors-update-baseline", "-n", "2", "--cors-report", "out"
    )
    result.stdout.fnmatch_lines(
        [
            "*= CORS claims =*",
            "claims::star-grants-anonymous: chromium holds",
            "claims::star-grants-credentialed: chromium refuted",
            "claims::max-age-zero-asks-every-time: chromium holds",
            "claims::slow-answers-arrive: chromium inconclusive",
        ]
    )
    report = json.loads((pytester.path / "out" / "results.json").read_text())
    assert {c["id"]: c["verdicts"][0]["verdict"] for c in report["claims"]} == {
        "star-grants-anonymous": "holds",
        "star-grants-credentialed": "refuted",
        "max-age-zero-asks-every-time": "holds",
        "slow-answers-arrive": "inconclusive",
    }
