"""A user's app runs its lifespan: start-up before the first probe, shutdown on every path, and a
start-up that fails is a harness error naming the app, never a CORS outcome."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI

from cors_harness._exceptions import FixtureError
from cors_harness.loading import parse_scenario
from cors_harness.processes import OWNER_VARIABLE
from cors_harness.scenario import BROWSERS
from cors_harness.servers import UserApp, scenario_servers
from cors_harness.userapp import observe_app
from tests.conftest import ROOT
from tests.userapp import lifespan

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from starlette.types import Message, Receive, Scope, Send

    from cors_harness.runner import Harness

GREETING = [{"name": "greeting", "frontend": "spa", "path": "/api/greeting"}]
SCENARIO = parse_scenario(
    "backend: {cors: null}\n"
    "frontends: {spa: {host: localhost}}\n"
    "requests: [{name: greeting, frontend: spa, path: /api/greeting}]\n",
    "inline.yaml",
)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """What the app's lifespan has noted so far: "startup", "shutdown"."""
    path = tmp_path / "lifespan.log"
    path.touch()
    monkeypatch.setenv(lifespan.LOG_VARIABLE, str(path))
    return lambda: path.read_text().split()


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@pytest.mark.browser
def test_state_set_in_the_lifespan_is_there_for_every_probe(
    harness: Harness, log: Callable[[], list[str]]
) -> None:
    cells = observe_app(
        harness,
        app_factory=lambda origins: lifespan.create_app([origins["spa"]]),
        frontends={"spa": {"host": "localhost"}},
        requests=GREETING,
    )
    for browser in BROWSERS:
        cell = cells["greeting", browser]
        assert (cell.outcome, cell.status) == ("allowed", 200), cell.error
    assert log() == ["startup", "shutdown"]


@pytest.mark.browser
def test_a_failed_startup_names_the_app_and_observes_nothing(
    harness: Harness, log: Callable[[], list[str]]
) -> None:
    with pytest.raises(FixtureError) as caught:
        observe_app(
            harness,
            "tests.userapp.lifespan:broken",
            frontends={"spa": {"host": "localhost"}},
            requests=GREETING,
        )
    assert str(caught.value) == (
        "app 'tests.userapp.lifespan:broken': lifespan startup failed: RuntimeError: db unavailable"
    )
    assert log() == ["startup"]


def test_startup_completes_before_the_servers_are_used(log: Callable[[], list[str]]) -> None:
    with scenario_servers(SCENARIO, lambda origins: lifespan.create_app([])) as (origins, _):
        assert log() == ["startup"]
        assert get(f"{origins.backend}/api/greeting") == (
            200,
            b'{"greeting":"hello","db":"connected"}',
        )
    assert log() == ["startup", "shutdown"]


def test_shutdown_runs_when_the_run_is_interrupted(log: Callable[[], list[str]]) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        scenario_servers(SCENARIO, lambda origins: lifespan.create_app([])),
    ):
        raise KeyboardInterrupt
    assert log() == ["startup", "shutdown"]


async def _no_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    # As a bare ASGI app has it: one kind of scope, anything else refused.
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"bare"})


def test_an_app_without_a_lifespan_is_served() -> None:
    with scenario_servers(SCENARIO, lambda origins: _no_lifespan) as (origins, recorder):
        assert get(f"{origins.backend}/api/greeting") == (200, b"bare")
        assert [e.status for e in recorder.all()] == [200]


async def _refuses_to_start(scope: Scope, receive: Receive, send: Send) -> None:
    message: Message = await receive()
    assert message["type"] == "lifespan.startup"
    await send({"type": "lifespan.startup.failed", "message": "settings: DATABASE_URL is unset"})


def test_startup_failed_without_an_exception_is_reported_too() -> None:
    app = UserApp("app 'myproject.main:app'", lambda origins: _refuses_to_start)
    with pytest.raises(FixtureError) as caught, scenario_servers(SCENARIO, app):
        pytest.fail("the servers started")
    assert str(caught.value) == (
        "app 'myproject.main:app': lifespan startup failed: settings: DATABASE_URL is unset"
    )


def _fails_to_stop() -> FastAPI:
    @asynccontextmanager
    async def failing(app: FastAPI) -> AsyncIterator[None]:
        yield
        raise OSError("cannot flush the write-ahead log")

    return FastAPI(lifespan=failing)


def test_a_failed_shutdown_is_an_error_once_the_block_is_done() -> None:
    app = UserApp("app 'myproject.main:app'", lambda origins: _fails_to_stop())
    with pytest.raises(FixtureError) as caught, scenario_servers(SCENARIO, app):
        pass
    assert str(caught.value) == (
        "app 'myproject.main:app': lifespan shutdown failed: OSError: cannot flush the "
        "write-ahead log"
    )


# Ctrl-C in a program that observes its app: the app's shutdown still runs.
INTERRUPTED = """\
import sys
from cors_harness import Harness, observe_app
from tests.userapp import lifespan

with Harness(["chromium"]) as harness:
    print("ready", flush=True)
    observe_app(
        harness,
        app_factory=lambda origins: lifespan.create_app([origins["spa"]]),
        frontends={"spa": {"host": "localhost"}},
        requests=[{"name": "slow", "frontend": "spa", "path": "/api/slow", "timeout": 30}],
    )
"""


@pytest.mark.browser
def test_shutdown_runs_on_ctrl_c(tmp_path: Path, log: Callable[[], list[str]]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Its own run, whose end must not stop this session's browsers.
    env.pop(OWNER_VARIABLE, None)
    run = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert run.stdout is not None
        assert run.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 30
        while log() != ["startup"]:
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)
        time.sleep(1)  # the probe is under way
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert b"KeyboardInterrupt" in stderr
    assert log() == ["startup", "shutdown"]
