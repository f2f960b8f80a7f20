"""`cors-harness init`: a working example (its expectations hold in the real browsers) and the
built-in suite, written into a directory, never over a file that is already there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cors_harness.cli import main
from cors_harness.loading import load_scenario
from cors_harness.scenario import scenario_json_schema

BUILTIN = Path(__file__).parent.parent / "scenarios"


def test_init_writes_the_example_and_the_schema_into_cors_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "wrote cors-scenarios/example.yaml",
        "wrote cors-scenarios/scenario.schema.json",
        "next: cors-harness run cors-scenarios",
    ]
    schema = json.loads((tmp_path / "cors-scenarios" / "scenario.schema.json").read_text())
    assert schema == scenario_json_schema()


def test_the_example_loads_and_expects_something_of_every_request(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    scenario = load_scenario(tmp_path / "example.yaml")
    assert scenario.browsers == ["chromium", "firefox", "webkit"]
    assert [r.name for r in scenario.requests if r.expect is None] == []


@pytest.mark.browser
def test_the_example_expectations_hold_in_the_real_browsers(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "s")]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "cors_harness.cli", "run", tmp_path / "s", "--out", tmp_path],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cells = json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(cells) == 6 * 3
    assert all(cell["expectation_met"] for cell in cells)


def test_init_overwrites_nothing_and_says_which_file_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "example.yaml").write_text("mine\n")
    assert main(["init", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"cors-harness: {tmp_path / 'example.yaml'} exists; init overwrites nothing: "
        "remove it or give another DIR\n"
    )
    assert (tmp_path / "example.yaml").read_text() == "mine\n"
    assert not (tmp_path / "scenario.schema.json").exists()


def test_init_refuses_a_file_for_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("")
    assert main(["init", str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err == (
        f"cors-harness: {tmp_path / 'notes.txt'} is not a directory; give a directory\n"
    )


def test_init_builtin_writes_the_built_in_suite_with_its_baselines(tmp_path: Path) -> None:
    assert main(["init", "--builtin", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in BUILTIN.iterdir())
    for path in BUILTIN.glob("*.yaml"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
    for path in tmp_path.glob("*.yaml"):
        if not path.name.endswith(".baseline.yaml"):
            load_scenario(path)
