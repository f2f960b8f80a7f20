"""Beside pytest-playwright: its `page` fixture and `cors_observe` in one pytest session, in
either order, in a project that is not this repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

APP = '''\
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware


def create_app(origins):
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=origins)

    @app.get("/api/ping")
    def ping():
        return {"pong": True}

    return app
'''
# pytest-playwright launches its own browser; on machines without Playwright's bundled builds,
# the system Chromium (as the harness itself would use it).
CONFTEST = """\
import pytest


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {{**browser_type_launch_args, {launch}}}
"""
PAGE_TEST = '''\
def test_{name}_page(page):
    page.set_content("<p id=x>hello</p>")
    assert page.text_content("#x") == "hello"
    assert page.evaluate("1 + 1") == 2
'''
CORS_TEST = '''\
from myapp import create_app


def test_{name}_cors(cors_observe):
    cells = cors_observe(
        app_factory=lambda origins: create_app([origins["spa"]]),
        frontends={{"spa": {{"host": "localhost"}}, "other": {{"host": "127.0.0.1"}}}},
        requests=[
            {{"name": "ping", "frontend": "spa", "path": "/api/ping"}},
            {{"name": "stranger", "frontend": "other", "path": "/api/ping"}},
        ],
    )
    assert cells["ping", "chromium"].outcome == "allowed"
    assert cells["stranger", "chromium"].outcome == "blocked-response"
'''


def _launch_args() -> str:
    # Playwright's bundled Chromium where installed; otherwise the system one, as root needs.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        bundled = playwright.chromium.executable_path
    if bundled and Path(bundled).is_file():
        return ""
    system = shutil.which("chromium") or shutil.which("chromium-browser")
    assert system, "no Chromium for pytest-playwright's page fixture; run scripts/setup"
    return f'"executable_path": {system!r}, "args": ["--no-sandbox"]'


@pytest.mark.browser
@pytest.mark.parametrize("order", ["page-first", "cors-first"])
def test_page_fixture_and_cors_observe_in_one_session(
    pytester: pytest.Pytester, order: str
) -> None:
    pytester.makepyfile(myapp=APP)
    pytester.makeconftest(CONFTEST.format(launch=_launch_args()))
    tests = [PAGE_TEST.format(name="a"), CORS_TEST.format(name="b")]
    if order == "cors-first":
        tests = [CORS_TEST.format(name="a"), PAGE_TEST.format(name="b")]
    path: Path = pytester.makepyfile(test_both="\n\n".join(tests))
    result = pytester.runpytest_subprocess(
        str(path), "--browser", "chromium", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
