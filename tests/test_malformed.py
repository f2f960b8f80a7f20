"""Malformed scenario files: each gets its one exact line, fast, never a traceback or a hang.

tests/malformed holds one small file per fault, with the line each must get in expected.txt.
Files too big to commit (and special files) are made here, in tmp_path.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cors_harness._exceptions import ScenarioError
from cors_harness.loading import load_scenario, scenario_files

REPO = Path(__file__).resolve().parents[1]
# Relative, as the expected lines name the files; the tests run from the repository root.
MALFORMED = Path("tests/malformed")
EXPECTED = dict(
    line.split("\t", 1)
    for line in (REPO / MALFORMED / "expected.txt").read_text(encoding="utf-8").splitlines()
)
FILES = sorted(p.name for p in (REPO / MALFORMED).glob("*.yaml"))
GOOD = Path("scenarios/seed_article.yaml")
# A valid scenario to break; its request's body starts on line 9.
BASE = """\
backend:
  cors: {allow_origins: ["{frontend:app}"]}
frontends:
  app: {host: localhost}
requests:
  - name: create
    frontend: app
    method: POST
"""


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def refused(path: str | Path) -> str:
    """The one line load_scenario refuses `path` with, checked to take well under a second.

    CPU time of this process, not wall time: the browsers of other tests share the cores, and a
    hostile file that is slow to refuse is slow in CPU.
    """
    started = time.process_time()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    elapsed = time.process_time() - started
    message = str(caught.value)
    assert "\n" not in message
    assert elapsed < 1.0, f"{message} took {elapsed:.2f} s"
    return message


def test_every_file_has_its_expected_line() -> None:
    assert sorted(EXPECTED) == FILES
    assert len(FILES) >= 70


@pytest.mark.parametrize("name", FILES)
def test_malformed_file_gets_its_one_line(name: str) -> None:
    assert refused(MALFORMED / name) == EXPECTED[name]


def test_a_directory_lists_every_bad_file_and_loads_the_good_one() -> None:
    loaded, failures = [], {}
    for path in scenario_files([MALFORMED, GOOD]):
        try:
            loaded.append(load_scenario(path).name)
        except ScenarioError as exc:
            failures[path.name] = str(exc)
    assert loaded == ["seed_article"]
    assert failures == EXPECTED


# --- hostile files, made at test time -------------------------------------------------------


def test_nesting_bomb(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(BASE + "    json: " + "[" * 20_000 + "\n")
    assert refused(path) == f"{path}:9: requests[0].json: nested more than 64 levels deep"


def test_block_nesting_bomb(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(BASE + "    json:\n" + "".join(f"{' ' * (6 + 2 * i)}k:\n" for i in range(500)))
    assert refused(path) == f"{path}:71: requests[0].json.k: nested more than 64 levels deep"


def test_wide_alias_bomb(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    items = ", ".join(["x"] * 1000)
    aliases = ", ".join(["*a"] * 1000)
    path.write_text(BASE + f"    json:\n      a: &a [{items}]\n      b: [{aliases}]\n")
    assert refused(path) == (
        f"{path}:11: requests[0].json.b[8]: more than 10000 values once aliases are expanded; "
        "a scenario needs far fewer"
    )


def test_many_values(tmp_path: Path) -> None:
    path = tmp_path / "flat.yaml"
    path.write_text(BASE + "    json: [" + "1," * 100_000 + "1]\n")
    assert refused(path) == (
        f"{path}:9: requests[0].json[9975]: more than 10000 values; a scenario needs far fewer"
    )


def test_oversize_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(BASE + '    body: "' + "x" * (2 << 20) + '"\n')
    assert refused(path) == f"{path}: larger than 256 KiB; a scenario file is far smaller"


def test_blank_file_just_under_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "blank.yaml"
    path.write_text("\n" * (256 * 1024))
    assert refused(path) == (
        f"{path}: the file is empty; a scenario is a mapping with backend, frontends and requests"
    )


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    found: list[str] = []
    # In a thread: if the loader did block on the FIFO, the test fails instead of hanging.
    reader = threading.Thread(target=lambda: found.append(refused(path)), daemon=True)
    reader.start()
    reader.join(5)
    assert found == [f"{path}: not a regular file (a FIFO, device or socket); not reading it"]


def test_device_is_refused() -> None:
    assert refused("/dev/zero") == (
        "/dev/zero: not a regular file (a FIFO, device or socket); not reading it"
    )


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    assert refused(tmp_path / "a.yaml") == f"{tmp_path / 'a.yaml'}: symlink loop"
    with pytest.raises(ScenarioError) as caught:
        scenario_files([tmp_path / "a.yaml"])
    assert str(caught.value) == f"{tmp_path / 'a.yaml'}: symlink loop"


def test_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "gone.yaml")
    assert refused(tmp_path / "a.yaml") == (
        f"{tmp_path / 'a.yaml'}: broken symlink (to {tmp_path / 'gone.yaml'})"
    )


def test_missing_file() -> None:
    assert refused("tests/malformed/missing.yaml") == (
        "tests/malformed/missing.yaml: no such file or directory"
    )


def test_directory_where_a_file_is_expected() -> None:
    assert refused(MALFORMED) == (
        "tests/malformed: is a directory; give a scenario file, or pass the directory to "
        "cors-harness run"
    )


def test_directory_without_scenario_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no scenarios here\n")
    with pytest.raises(ScenarioError) as caught:
        scenario_files([tmp_path])
    assert str(caught.value) == f"{tmp_path}: no scenario files (*.yaml, *.yml) in this directory"
