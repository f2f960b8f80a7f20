"""Packaging tests: installing cors-harness leaves a newer Playwright alone, the wheel carries
its data files and works outside this repository, and with a Playwright that cannot drive stock
Firefox, doctor and the run give the reason and the fix.

They use the real pip (its resolver, the configured index) on a copy of the source tree, so that
no build output lands in the working tree. Select or leave them out with `-k packaging`. When pip
cannot resolve or reach the index they fail, with pip's own message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cors_harness.engines import EnginePlan, known_incompatibility

ROOT = Path(__file__).parent.parent
NEWER_PLAYWRIGHT = "1.65.2"
PIP_TIMEOUT_S = 60


def pip(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"pip {' '.join(map(str, args))} failed:\n{done.stderr}", pytrace=False)
    return done


def cors_harness(
    *args: str | Path, cwd: Path, pythonpath: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cors_harness.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a build reads: pyproject.toml, README.md, harness/ and scenarios/ (which the package's
    _scenarios link points to)."""
    tree = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("harness", "scenarios"):
        shutil.copytree(ROOT / name, tree / name, symlinks=True, ignore=skip)
    return tree


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", out, source)
    (built,) = out.glob("cors_harness-*.whl")
    return built


def test_packaging_installing_next_to_a_newer_playwright_keeps_it(
    source: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    pip(
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--report",
        report,
        f"playwright=={NEWER_PLAYWRIGHT}",
        source,
    )
    installs = [item["metadata"] for item in json.loads(report.read_text())["install"]]
    assert [m["version"] for m in installs if m["name"].lower() == "playwright"] == [
        NEWER_PLAYWRIGHT
    ]
    assert "cors-harness" in {m["name"].lower() for m in installs}


def test_packaging_wheel_carries_the_pages_examples_scenarios_and_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read("cors_harness-0.1.0.dist-info/METADATA").decode()
    expected = {
        "cors_harness/py.typed",
        "cors_harness/_frontend/index.html",
        "cors_harness/_frontend/probe.js",
        "cors_harness/_examples/example.yaml",
        *(f"cors_harness/_scenarios/{p.name}" for p in (ROOT / "scenarios").glob("*.yaml")),
    }
    assert expected - names == set()
    assert "Requires-Dist: playwright>=1.57\n" in metadata


def test_packaging_init_from_the_wheel_works_outside_the_repository(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    # Only the package: its dependencies come from this environment, and PYTHONPATH puts the
    # wheel's copy ahead of the editable one.
    pip("install", "--quiet", "--no-deps", "--target", site, wheel)
    where = tmp_path / "elsewhere"
    where.mkdir()
    done = cors_harness("init", cwd=where, pythonpath=site)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (where / "cors-scenarios").iterdir()) == [
        "example.yaml",
        "scenario.schema.json",
    ]
    done = cors_harness("init", "--builtin", "suite", cwd=where, pythonpath=site)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (where / "suite").iterdir()} == {
        p.name for p in (ROOT / "scenarios").iterdir()
    }
    imported = subprocess.run(
        [sys.executable, "-c", "import cors_harness; print(cors_harness.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        check=True,
    )
    assert imported.stdout.startswith(str(site))


def test_packaging_with_playwright_1_65_doctor_and_run_give_the_fix_for_stock_firefox(
    tmp_path: Path,
) -> None:
    newer = tmp_path / "playwright"
    pip("install", "--quiet", "--no-deps", "--target", newer, f"playwright=={NEWER_PLAYWRIGHT}")
    # The refusal comes before any launch, so any existing file can stand for a stock Firefox,
    # which may not be installed where Playwright's own builds are.
    firefox = sys.executable
    reason = known_incompatibility(
        EnginePlan("firefox", "playwright-bidi", firefox, channel="moz-firefox"), NEWER_PLAYWRIGHT
    )
    override = ("--browser", "firefox", "--executable", f"firefox={firefox}")
    doctor = cors_harness("doctor", *override, "--require-all", cwd=tmp_path, pythonpath=newer)
    assert (doctor.returncode, doctor.stdout) == (1, f"firefox: unavailable: {reason}\n")

    assert cors_harness("init", "s", cwd=tmp_path, pythonpath=newer).returncode == 0
    done = cors_harness("run", "s", *override, cwd=tmp_path, pythonpath=newer)
    assert done.returncode == 1, done.stdout + done.stderr
    cells = json.loads((tmp_path / "reports" / "results.json").read_text())["results"]
    assert {(cell["outcome"], cell["error"]) for cell in cells} == {("error", reason)}


@pytest.mark.parametrize("version", ["1.65.0", "1.65.2", "1.66.0a1", "2.0"])
def test_playwright_1_65_and_later_cannot_drive_stock_firefox_over_bidi(version: str) -> None:
    plan = EnginePlan("firefox", "playwright-bidi", "/usr/bin/firefox-esr", channel="moz-firefox")
    assert known_incompatibility(plan, version) == (
        f"firefox: Playwright {version} cannot open a page in stock Firefox (/usr/bin/firefox-esr) "
        "over WebDriver BiDi (emulation.setMediaFeaturesOverride: unknown command); "
        "fix: pip install 'playwright<1.65', or python -m playwright install firefox "
        "for Playwright's own Firefox"
    )


@pytest.mark.parametrize("version", ["1.57.0", "1.64.1", "1.9.2", "unknown"])
def test_older_playwright_drives_stock_firefox_over_bidi(version: str) -> None:
    plan = EnginePlan("firefox", "playwright-bidi", "/usr/bin/firefox-esr", channel="moz-firefox")
    assert known_incompatibility(plan, version) is None


@pytest.mark.parametrize(
    "plan",
    [
        EnginePlan("firefox", "playwright-bundled", "/cache/ms-playwright/firefox/firefox"),
        EnginePlan("firefox", "playwright-channel", None, channel="moz-firefox-nightly"),
        EnginePlan("chromium", "playwright-system", "/usr/bin/chromium"),
        EnginePlan("webkit", "webdriver", "/usr/lib/MiniBrowser", driver="WebKitWebDriver"),
    ],
    ids=lambda plan: f"{plan.browser}-{plan.engine}",
)
def test_playwright_1_65_is_fine_with_every_other_engine(plan: EnginePlan) -> None:
    assert known_incompatibility(plan, NEWER_PLAYWRIGHT) is None
