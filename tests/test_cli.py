"""The command line, end to end: real browsers, real reports, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
GOOD = """\
backend:
  cors: {allow_origins: ["{frontend:app}"]}
frontends:
  app: {host: localhost}
  other: {host: app.localhost}
requests:
  - {name: from-app, frontend: app, expect: allowed}
  - {name: from-subdomain, frontend: other, expect: %s}
"""


def cors_harness(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cors_harness.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_run_writes_reports_and_exits_0_when_expectations_hold(tmp_path: Path) -> None:
    scenario = tmp_path / "good.yaml"
    scenario.write_text(GOOD % "blocked-response")
    done = cors_harness("run", scenario, "--out", tmp_path / "out", "--browser", "chromium")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["schema_version"] == 1
    assert {b["name"] for b in data["environment"]["browsers"]} == {"chromium"}
    assert set(data["environment"]["packages"]) >= {"starlette", "fastapi", "playwright"}
    cells = {(r["request"], r["browser"]): r for r in data["results"]}
    assert cells["from-subdomain", "chromium"]["outcome"] == "blocked-response"
    assert cells["from-subdomain", "chromium"]["evidence"][0]["origin"].startswith(
        "http://app.localhost:"
    )
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| from-app |" in md
    assert "cells/s" in done.stdout


def test_unmet_expectation_exits_1_and_says_why(tmp_path: Path) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(GOOD % "allowed")
    done = cors_harness("run", scenario, "--out", tmp_path / "out", "--browser", "firefox")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ blocked-response" in done.stdout
    md = (tmp_path / "out" / "results.md").read_text()
    assert "outcome: expected allowed, observed blocked-response" in md


def test_bad_file_in_a_directory_is_listed_and_the_rest_still_run(tmp_path: Path) -> None:
    (tmp_path / "a_good.yaml").write_text(GOOD % "blocked-response")
    (tmp_path / "b_bad.yaml").write_text(
        GOOD.replace("frontend: other", "frontend: nobody") % "allowed"
    )
    done = cors_harness("run", tmp_path, "--out", tmp_path / "out", "--browser", "chromium")
    assert done.returncode == 2
    bad_line = f"{tmp_path / 'b_bad.yaml'}:8: requests[1].frontend: unknown frontend 'nobody'"
    assert bad_line in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["scenario"] for r in data["results"]} == {"a_good"}
    assert data["scenario_errors"][0]["path"].endswith("b_bad.yaml")


def test_a_slow_scenario_is_left_out_and_named_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "a_good.yaml").write_text(GOOD % "blocked-response")
    (tmp_path / "b_slow.yaml").write_text("slow: true\n" + GOOD % "blocked-response")
    done = cors_harness("run", tmp_path, "--out", tmp_path / "out", "--browser", "chromium")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"not run (slow: true; --slow runs it): {tmp_path / 'b_slow.yaml'}" in done.stdout
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["scenario"] for r in data["results"]} == {"a_good"}
    assert data["slow_not_run"] == [str(tmp_path / "b_slow.yaml")]
    asked = cors_harness(
        "run", tmp_path, "--out", tmp_path / "out", "--browser", "chromium", "--slow"
    )
    assert asked.returncode == 0, asked.stdout + asked.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["scenario"] for r in data["results"]} == {"a_good", "b_slow"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.yaml"], "missing.yaml: no such file or directory"),
        (["run", "scenarios", "--browser", "opera"], "unknown browser 'opera'"),
        (["run", "scenarios", "--executable", "chromium"], "write BROWSER=VALUE"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], message: str) -> None:
    done = cors_harness(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_doctor_names_engine_executable_and_version() -> None:
    done = cors_harness("doctor", "--require-all")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["chromium", "firefox", "webkit"]
    assert all(": ok: " in line and "version " in line for line in lines), lines


def test_doctor_explains_a_missing_browser_and_the_fix() -> None:
    done = cors_harness(
        "doctor",
        "--browser",
        "chromium",
        "--executable",
        "chromium=/nonexistent/chrome",
        "--require-all",
    )
    assert done.returncode == 1
    assert (
        "chromium: unavailable: chromium: override executable '/nonexistent/chrome'" in done.stdout
    )


BAD_OPTIONS = [
    (["--timeout", "0"], "argument --timeout: '0': give more than 0 and at most 120 seconds"),
    (["--timeout", "-5"], "argument --timeout: '-5': give more than 0 and at most 120 seconds"),
    (["--timeout", "nan"], "argument --timeout: 'nan': give more than 0 and at most 120 seconds"),
    (["--timeout", "soon"], "argument --timeout: 'soon' is not a number of seconds"),
    (
        ["--out", "pyproject.toml"],
        "argument --out: pyproject.toml is not a directory; "
        "give a directory for results.json and results.md",
    ),
    (
        ["--out", "/dev/null/reports"],
        "argument --out: /dev/null is not a directory; "
        "give a directory for results.json and results.md",
    ),
    (
        ["--browser", "chrome"],
        "argument --browser: unknown browser 'chrome'; choose from chromium, firefox, webkit",
    ),
    (
        ["--executable", "chromium="],
        "argument --executable: 'chromium=': write BROWSER=VALUE, e.g. chromium=/usr/bin/chromium",
    ),
    (
        ["--executable", "chromium=/nonexistent/chrome"],
        "--executable chromium=/nonexistent/chrome: no such file",
    ),
    (
        ["--channel", "chromium=chrome", "--channel", "chromium=msedge"],
        "--channel is given twice for chromium",
    ),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_run_option_is_one_line_before_anything_starts(
    options: list[str], message: str
) -> None:
    done = cors_harness("run", "scenarios", *options)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"cors-harness: error: {message}\n"


@pytest.mark.parametrize(
    "args",
    [["run"], ["frobnicate"], ["run", "scenarios", "--bogus"], ["schema", "everything"]],
)
def test_usage_errors_are_one_line_without_the_usage_block(args: list[str]) -> None:
    done = cors_harness(*args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("cors-harness: error: ")


def test_findings_refuses_a_device_without_reading_it() -> None:
    done = cors_harness("findings", "/dev/zero")
    assert done.returncode == 2
    assert (
        done.stderr == "cors-harness: error: argument RESULTS_JSON: /dev/zero: not a regular file\n"
    )


def test_run_on_a_directory_without_scenarios_exits_2(tmp_path: Path) -> None:
    done = cors_harness("run", tmp_path, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{tmp_path}: no scenario files (*.yaml, *.yml) in this directory"
    ]
    assert not (tmp_path / "out").exists()
