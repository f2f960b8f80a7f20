"""Engines never hang: every call is bounded, and a stuck or dead browser is an error, killed,
and launched again for the next scenario. Real processes throughout: a driver that never answers,
a Xvfb that never reports, real browsers killed mid-probe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cors_harness._exceptions import FixtureError, HarnessError
from cors_harness.engines import EngineTimeouts
from cors_harness.engines._watchdog import alive, children, deadline
from cors_harness.engines.base import STUCK, EngineBroken, ProbeSpec, page_results
from cors_harness.runner import Harness
from cors_harness.scenario import Browser, Scenario
from cors_harness.xvfb import virtual_display

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from cors_harness.origins import Origins
    from cors_harness.results import Result

T = TypeVar("T")

# Short enough for fast tests, long enough for a loaded 2-core machine to launch a browser.
SHORT = EngineTimeouts(launch_s=20, session_s=2, navigation_s=5, command_s=2, close_s=2)
STARTUP = 8.0

# A WebDriver endpoint that never answers: Selenium's Service finds it up (GET /status) but
# POST /session waits forever, as WebKitWebDriver did when it started no MiniBrowser. The first
# FAKE_DRIVER_SESSIONS sessions are answered, so that a launch can succeed and a later one hang.
FAKE_DRIVER = """\
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[sys.argv.index("-p") + 1])  # how Selenium's WebKitGTK Service passes it
answered = int(os.environ.get("FAKE_DRIVER_SESSIONS", "0"))
with open(os.environ["FAKE_DRIVER_PIDS"], "a") as pids:
    pids.write(f"{os.getpid()}\\n")

class Handler(BaseHTTPRequestHandler):
    def answer(self, value):
        body = json.dumps({"value": value}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/status":
            self.answer({"ready": True, "message": "fake"})
        else:
            time.sleep(3600)

    def do_POST(self):
        global answered
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/session" and answered > 0:
            answered -= 1
            caps = {"browserName": "MiniBrowser", "browserVersion": "0-fake"}
            self.answer({"sessionId": "fake", "capabilities": caps})
        else:
            time.sleep(3600)

    def do_DELETE(self):
        self.answer(None)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def _script(path: Path, source: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
    path.chmod(0o755)
    return path


def _in_thread(call: Callable[[], T], timeout_s: float) -> T:
    """Run `call` in a thread of its own: Playwright's sync API allows one instance per thread,
    and the plugin's Harness may hold this one. A call that hangs fails the test, not the suite."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future.result(timeout=timeout_s)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def _scenario(name: str, browser: Browser, requests: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate(
        {
            "name": name,
            "browsers": [browser],
            "backend": {"cors": {"allow_origins": ["{frontend:app}"]}},
            "frontends": {"app": {"host": "localhost"}},
            "requests": requests,
        }
    )


ALLOWED = [{"name": "allowed", "frontend": "app", "path": "/items/"}]


# --- the pure parts --------------------------------------------------------------------------


def test_timeouts_default_without_environment() -> None:
    timeouts = EngineTimeouts.from_env({})
    assert timeouts == EngineTimeouts()
    assert str(timeouts) == "launch 30 s, session 30 s, navigation 15 s, command 10 s, close 10 s"


def test_timeouts_read_from_environment() -> None:
    timeouts = EngineTimeouts.from_env(
        {"CORS_HARNESS_LAUNCH_TIMEOUT": "60", "CORS_HARNESS_CLOSE_TIMEOUT": " 2.5 "}
    )
    assert timeouts == EngineTimeouts(launch_s=60, close_s=2.5)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan"])
def test_a_bad_timeout_names_the_variable_and_the_fix(value: str) -> None:
    with pytest.raises(HarnessError) as caught:
        EngineTimeouts.from_env({"CORS_HARNESS_SESSION_TIMEOUT": value})
    assert str(caught.value) == (
        f"CORS_HARNESS_SESSION_TIMEOUT={value!r}: not a number of seconds > 0; "
        "fix: e.g. CORS_HARNESS_SESSION_TIMEOUT=30, or unset it for the default"
    )


def test_timeouts_in_code_are_validated_too() -> None:
    with pytest.raises(ValueError, match=r"EngineTimeouts.command_s must be seconds > 0, not 0"):
        EngineTimeouts(command_s=0)


def test_a_page_that_did_not_settle_is_an_error_per_probe() -> None:
    spec = ProbeSpec(
        probe="p1",
        url="http://x/",
        method="GET",
        headers={},
        body=None,
        credentials="omit",
        mode="cors",
        redirect="follow",
        timeout_ms=500,
        kind="fetch",
    )
    (result,) = page_results(STUCK, [spec])
    assert not result.received
    assert result.harness_error == "the page did not answer within 1500 ms"


# --- real processes, no browser ---------------------------------------------------------------


def test_a_deadline_kills_what_does_not_answer() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    started = time.monotonic()
    with (
        pytest.raises(EngineBroken, match=r"^sleeper: wait: no answer within 0\.5 s$"),
        deadline("sleeper: wait", 0.5, [sleeper.kill], 0),
    ):
        sleeper.wait()
    assert time.monotonic() - started < 2
    assert sleeper.returncode == -signal.SIGKILL


def test_a_call_within_its_deadline_is_left_alone() -> None:
    sleeper = subprocess.Popen(["sleep", "0.1"])
    with deadline("sleeper: wait", 5, [sleeper.kill], 0):
        sleeper.wait()
    assert sleeper.returncode == 0


@pytest.mark.parametrize(
    ("then", "why"),
    [("time.sleep(60)", "reported no display within 1 s"), ("sys.exit(3)", "exited with status 3")],
)
def test_xvfb_that_reports_no_display_is_an_error_and_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str, why: str
) -> None:
    pid_file = tmp_path / "xvfb.pid"
    _script(
        tmp_path / "Xvfb",
        f"import os, sys, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        f"print('fake Xvfb: no screens', file=sys.stderr, flush=True)\n{then}\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    with pytest.raises(FixtureError) as caught, virtual_display(start_s=1, stop_s=1):
        pass
    assert time.monotonic() - started < 4
    assert str(caught.value) == f"Xvfb {why}: fake Xvfb: no screens"
    assert not alive(int(pid_file.read_text()))


# --- a WebDriver that never answers -----------------------------------------------------------


def _fake_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sessions: int) -> Path:
    pids = tmp_path / "driver.pids"
    monkeypatch.setenv(
        "CORS_HARNESS_WEBKIT_DRIVER", str(_script(tmp_path / "fake-driver", FAKE_DRIVER))
    )
    monkeypatch.setenv("FAKE_DRIVER_PIDS", str(pids))
    monkeypatch.setenv("FAKE_DRIVER_SESSIONS", str(sessions))
    return pids


def _run(scenarios: list[Scenario], browser: Browser) -> tuple[list[list[Result]], float]:
    started = time.monotonic()
    with Harness([browser], engine_timeouts=SHORT) as harness:
        found = [harness.run_scenario(s) for s in scenarios]
    return found, time.monotonic() - started


@pytest.mark.browser
def test_a_driver_that_never_answers_a_new_session_fails_the_launch_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = _fake_driver(tmp_path, monkeypatch, sessions=0)
    scenario = _scenario("stuck-driver", "webkit", ALLOWED)
    # STARTUP: Playwright's driver, Xvfb and the fake driver starting on a loaded machine.
    bound = SHORT.session_s + SHORT.close_s + STARTUP
    (results,), elapsed = _in_thread(lambda: _run([scenario], "webkit"), 2 * bound)
    assert elapsed < bound
    assert [r.outcome for r in results] == ["error"]
    assert results[0].error == (
        "webkit: new WebDriver session: no answer from WebKitWebDriver within 2 s"
    )
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 1
    assert not any(alive(pid) for pid in started)


@pytest.mark.browser
def test_a_driver_that_hangs_mid_run_is_killed_and_launched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each launch answers its first session (the version check), then hangs on the scenario's.
    pids = _fake_driver(tmp_path, monkeypatch, sessions=1)
    scenarios = [_scenario(f"stuck-{n}", "webkit", ALLOWED) for n in (1, 2)]
    bound = 2 * (SHORT.session_s + SHORT.close_s + STARTUP)
    found, elapsed = _in_thread(lambda: _run(scenarios, "webkit"), 2 * bound)
    assert elapsed < bound
    for results in found:
        assert [(r.outcome, r.error) for r in results] == [
            ("error", "webkit: new WebDriver session: no answer from WebKitWebDriver within 2 s")
        ]
        assert results[0].browser_version == "0-fake"
    started = [int(pid) for pid in pids.read_text().split()]
    # In each scenario, the session that did not open was tried once more on a new driver.
    assert len(started) == 4, "the stuck driver was not launched again for each try"
    assert not any(alive(pid) for pid in started)


# --- real browsers, killed or frozen mid-probe -----------------------------------------------


def _engine_processes(before: set[int], browser: Browser) -> list[int]:
    """This Harness's browser processes: Chromium's or Firefox's under its Playwright driver;
    for WebKit, WebKitWebDriver (MiniBrowser runs under it)."""
    mine = children([os.getpid()]) - before
    if browser == "webkit":
        return [p for p in mine if _cmdline(p)[0].endswith("WebKitWebDriver")]
    drivers = [p for p in mine if "run-driver" in _cmdline(p)]
    return list(children(drivers))


# The probe has a 1 s fetch timeout: the page counts as stuck after 2 s, and the call into the
# browser gives up command_s (2 s) later; WebDriver's script timeout adds command_s once more.
BROKEN = [
    ("chromium", signal.SIGKILL, "chromium: run probes: browser is gone: "),
    ("firefox", signal.SIGKILL, "firefox: run probes: browser is gone: "),
    ("webkit", signal.SIGKILL, "webkit: run probes: lost WebKitWebDriver: "),
    ("chromium", signal.SIGSTOP, "chromium: run probes: no answer within 4 s"),
    ("firefox", signal.SIGSTOP, "firefox: run probes: no answer within 4 s"),
    ("webkit", signal.SIGSTOP, "webkit: run probes: no answer from WebKitWebDriver within 6 s"),
]


@pytest.mark.browser
@pytest.mark.parametrize(
    ("kind", "sig", "reason"), BROKEN, ids=[f"{k}-{s.name}" for k, s, _ in BROKEN]
)
def test_a_browser_killed_or_frozen_mid_probe_errs_its_cells_and_is_relaunched(
    kind: Browser, sig: signal.Signals, reason: str
) -> None:
    before = children([os.getpid()])
    hit: list[int] = []

    def hit_the_browser(request: Request) -> PlainTextResponse:
        # The probe's request has reached the server: the browser is waiting for this answer.
        for pid in _engine_processes(before, kind):
            os.killpg(pid, sig)
            hit.append(pid)
        return PlainTextResponse("too late")

    def backend(origins: Origins) -> Starlette:
        return Starlette(routes=[Route("/hit", hit_the_browser)])

    doomed = _scenario(
        "doomed",
        kind,
        [
            {"name": "hit", "frontend": "app", "path": "/hit", "timeout": 1},
            # Another browser context, which the broken browser is not asked to open.
            {"name": "owed", "frontend": "app", "cookies": [{"name": "c"}]},
        ],
    )
    after = _scenario("after", kind, ALLOWED)

    def run() -> tuple[list[Result], list[Result], list[int], float]:
        started = time.monotonic()
        with Harness([kind], engine_timeouts=SHORT) as harness:
            broken = harness.run_scenario(doomed, backend)
            fine = harness.run_scenario(after)
            relaunched = _engine_processes(before, kind)
        return broken, fine, relaunched, time.monotonic() - started

    broken, fine, relaunched, elapsed = _in_thread(run, 120)
    assert hit, "the probe never reached the server"
    assert [r.outcome for r in broken] == ["error", "error"], [r.error for r in broken]
    assert broken[0].error is not None
    assert broken[0].error.startswith(reason)
    assert "\n" not in broken[0].error
    assert broken[1].error == broken[0].error
    assert [(r.outcome, r.status) for r in fine] == [("allowed", 200)], [r.error for r in fine]
    assert relaunched
    assert not set(relaunched) & set(hit)
    assert not any(alive(pid) for pid in hit + relaunched)
    assert children([os.getpid()]) - before == set()
    # Two launches, the stuck probe's bound, and closing what could not close.
    assert elapsed < 2 * STARTUP + 2 + 3 * SHORT.command_s + SHORT.close_s
