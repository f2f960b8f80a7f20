"""Scenario files: found in directories, read, parsed and checked, with errors that name the
file, line and field."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pydantic import ValidationError

from cors_harness._exceptions import ScenarioError
from cors_harness._validation_errors import describe, first_problem
from cors_harness._yaml import field, load_yaml, os_problem, read_text
from cors_harness.scenario import PATTERN_HELP, Scenario
from cors_harness.scenario_checks import check_references

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cors_harness.scenario import Loc

SCENARIO_SUFFIXES = (".yaml", ".yml")


def parse_scenario(text: str, path: str, name: str | None = None) -> Scenario:
    """Validate scenario YAML; raise ScenarioError (`path:line: field: problem`) on any fault."""
    document = load_yaml(text, path)
    data = document.data
    shape = "a scenario is a mapping with backend, frontends and requests"
    if data is None:
        what = "is empty" if not text.strip() else "holds only comments"
        raise ScenarioError(path, None, "", f"the file {what}; {shape}")
    if not isinstance(data, dict):
        raise ScenarioError(path, document.line(()), "", f"{shape}, not {describe(data)}")
    if "name" in data:
        problem = "extra field; a scenario is named after its file"
        raise ScenarioError(path, document.line(("name",)), "name", problem)
    if "directory" in data:
        problem = "extra field; commands run in the scenario file's directory"
        raise ScenarioError(path, document.line(("directory",)), "directory", problem)
    data["name"] = name if name is not None else Path(path).stem
    data["directory"] = str(Path(path).parent.resolve())
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        where, problem = first_problem(
            exc,
            data,
            document,
            Scenario,
            unwritten={"name", "directory"},
            pattern_help=PATTERN_HELP,
        )
        raise ScenarioError(path, document.line(where), field(where), problem) from None

    def fail(loc: Loc, problem: str) -> NoReturn:
        raise ScenarioError(path, document.line(loc), field(loc), problem)

    check_references(scenario, fail)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    return parse_scenario(read_text(path), str(path))


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (their `*.yaml`/`*.yml`, sorted) into scenario files.

    A directory with none is an error: running nothing would look like a clean run.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise ScenarioError(str(path), None, "", os_problem(path, exc)) from None
        if not stat.S_ISDIR(mode):
            files.append(path)
            continue
        found = sorted(
            p
            for p in path.rglob("*")
            if p.suffix in SCENARIO_SUFFIXES
            and not p.name.endswith(".baseline.yaml")
            and not p.is_dir()
        )
        if not found:
            raise ScenarioError(
                str(path), None, "", "no scenario files (*.yaml, *.yml) in this directory"
            )
        files.extend(found)
    return files


__all__ = ["SCENARIO_SUFFIXES", "load_scenario", "parse_scenario", "scenario_files"]
