"""WebKitGTK's MiniBrowser through WebKitWebDriver and Selenium, for machines without
Playwright's WebKit build (Playwright cannot drive a stock WebKit).

Selenium's HTTP client waits forever unless told otherwise (its timeout defaults to
socket.getdefaulttimeout()), so every command here carries a timeout of its own. A driver that
does not answer in time, or cannot be reached, is broken: its whole process group, MiniBrowser
included, is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

import urllib3.exceptions
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.webkitgtk.service import Service

from cors_harness._exceptions import FixtureError
from cors_harness.engines._watchdog import deadline, kill_group
from cors_harness.engines.base import (
    STUCK,
    EngineBroken,
    ProbeSpec,
    SessionNotStarted,
    harness_failure,
    one_line,
    page_results,
    same_site,
    settle_ms,
    stored_for,
)
from cors_harness.engines.profiles import (
    DEFAULT_PROFILE,
    Profile,
    launch_profile,
    minibrowser_args,
)
from cors_harness.recorder import JAR_PATH
from cors_harness.results import BrowserInfo, CookieJar, PageResult, StoredCookie

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from cors_harness.engines.timeouts import EngineTimeouts
    from cors_harness.network import BrowserNetwork

T = TypeVar("T")

# The last argument of an async script is WebDriver's callback. The race answers when probe.js
# does not settle although the page is alive.
RUN_PROBES = """
const [specs, stuckMs, stuck, done] = arguments;
Promise.race([
  window.corsProbe(specs),
  new Promise((resolve) => setTimeout(() => resolve(stuck), stuckMs)),
]).then(done, (e) => done(String(e)));
"""
DRIVER = "WebKitWebDriver"
WEBDRIVER_JAR = (
    "WebDriver Get All Cookies on a page of the backend's origin that only the harness answers: "
    "first-party cookies whose path covers /; no partitioned cookies"
)


class WebDriverSession:
    def __init__(
        self, browser: WebKitGTKBrowser, driver: webdriver.Remote, config: ClientConfig
    ) -> None:
        self.browser = browser
        self.driver = driver
        self.config = config
        self.current: str | None = None
        self.script_s: float | None = None

    def _send(self, what: str, seconds: float, command: Callable[[], T]) -> T:
        return self.browser.send(what, seconds, self.config, command)

    def _load(self, url: str) -> None:
        timeouts = self.browser.timeouts
        # The driver's page-load timeout (a capability) answers first; this bounds a silent driver.
        self._send(
            f"load {url}", timeouts.navigation_s + timeouts.command_s, lambda: self.driver.get(url)
        )

    def visit(self, url: str) -> None:
        try:
            self._load(url)
        except WebDriverException as exc:
            raise FixtureError(f"webkit: load {url}: {_reason(exc)}") from exc
        self.current = None

    def cookie_jar(self, origin: str) -> CookieJar:
        # WebDriver reads only the cookies of the document shown: show one of the backend's.
        self.visit(f"{origin}{JAR_PATH}")
        try:
            raw = self._send(
                "read cookies", self.browser.timeouts.command_s, self.driver.get_cookies
            )
        except WebDriverException as exc:
            raise FixtureError(f"webkit: read cookies: {_reason(exc)}") from exc
        cookies = [
            StoredCookie(
                name=str(c.get("name", "")),
                domain=str(c.get("domain", "")),
                path=str(c.get("path", "/")),
                secure=bool(c.get("secure")),
                httponly=bool(c.get("httpOnly")),
                samesite=same_site(c.get("sameSite")),
            )
            for c in raw
        ]
        return CookieJar(
            read_by=WEBDRIVER_JAR, sees_partitions=False, cookies=stored_for(origin, cookies)
        )

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        timeouts = self.browser.timeouts
        stuck_ms = settle_ms(specs)
        # The page's own race answers first; the script timeout bounds a page whose timers stopped.
        script_s = stuck_ms / 1000 + timeouts.command_s
        try:
            if self.current != page_url:
                self._load(page_url)
                self.current = page_url
            if self.script_s != script_s:
                self._send(
                    "set script timeout",
                    timeouts.command_s,
                    lambda: self.driver.set_script_timeout(script_s),
                )
                self.script_s = script_s
            raw = self._send(
                "run probes",
                script_s + timeouts.command_s,
                lambda: self.driver.execute_async_script(RUN_PROBES, specs, stuck_ms, STUCK),
            )
        except WebDriverException as exc:
            return harness_failure(specs, f"{page_url}: {_reason(exc)}")
        return page_results(raw, specs)


class WebKitGTKBrowser:
    """One WebKitWebDriver service per launch; a new automation session per browser context."""

    def __init__(
        self,
        minibrowser: str,
        driver: str,
        display: str | None,
        timeouts: EngineTimeouts,
        network: BrowserNetwork | None = None,
        profile: Profile = DEFAULT_PROFILE,
    ) -> None:
        self.minibrowser = minibrowser
        self.network = network
        self.profile = profile
        self.timeouts = timeouts
        self.broken = False
        env = dict(os.environ)
        if display is not None:
            env["DISPLAY"] = display
        if os.geteuid() == 0:
            # WebKitGTK's bubblewrap sandbox cannot start as root.
            env["WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS"] = "1"
        # A process group of its own, so that killing it takes MiniBrowser and its helpers along.
        self.service = Service(
            executable_path=driver, env=env, popen_kw={"start_new_session": True}
        )
        try:
            with deadline(f"webkit: start {DRIVER}", timeouts.launch_s, [self._kill], 0):
                try:
                    self.service.start()
                except WebDriverException as exc:
                    raise FixtureError(f"webkit: {DRIVER} did not start: {_reason(exc)}") from exc
            with self.session() as first:
                version = str(first.driver.capabilities.get("browserVersion", "unknown"))
        except BaseException:
            self.close()
            raise
        self.info = BrowserInfo(
            name="webkit",
            version=version,
            engine="webdriver",
            executable=minibrowser,
            profile=launch_profile("webkit", profile, [], self._arguments()),
        )

    def send(self, what: str, seconds: float, config: ClientConfig, command: Callable[[], T]) -> T:
        """One command, its answer awaited at most `seconds`; EngineBroken if none comes."""
        # ClientConfig's timeout is read per request, so each command gets its own.
        config.timeout = seconds
        try:
            return command()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.broken = True
            why = f"no answer from {DRIVER} within {seconds:g} s"
            # urllib3 counts a refused connection as a connect timeout: the driver is gone.
            silent = isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError)
            if not silent or isinstance(exc, urllib3.exceptions.NewConnectionError):
                why = f"lost {DRIVER}: {one_line(exc)}"
            raise EngineBroken(f"webkit: {what}: {why}") from exc

    def _arguments(self) -> list[str]:
        """MiniBrowser's command line for each session."""
        args = ["--automation", *minibrowser_args(self.profile)]
        if self.network is not None:
            # MiniBrowser's own proxy option; WebDriver's `proxy` capability would make WebKit
            # speak TLS to the proxy, which a plain forward proxy cannot answer.
            args.append(f"--proxy={self.network.proxy_url}")
            # One option per name: MiniBrowser reads a list of them, not a comma-separated one.
            args += [f"--ignore-host={host}" for host in self.network.bypass]
        return args

    def _options(self) -> webdriver.WebKitGTKOptions:
        options = webdriver.WebKitGTKOptions()
        options.binary_location = self.minibrowser
        for argument in self._arguments():
            options.add_argument(argument)
        options.timeouts = {"pageLoad": int(self.timeouts.navigation_s * 1000)}
        if self.network is not None:
            # Checked: with it, pages stay secure contexts, Secure and __Host- cookies are kept.
            options.set_capability("acceptInsecureCerts", True)
        return options

    @contextmanager
    def session(self) -> Iterator[WebDriverSession]:
        config = ClientConfig(
            remote_server_addr=self.service.service_url,
            keep_alive=True,
            # A loopback driver that did not answer will not answer a retry either.
            init_args_for_pool_manager={"init_args_for_pool_manager": {"retries": False}},
        )
        connection = RemoteConnection(client_config=config)
        try:
            try:
                driver = self.send(
                    "new WebDriver session",
                    self.timeouts.session_s,
                    config,
                    lambda: webdriver.Remote(command_executor=connection, options=self._options()),
                )
            except EngineBroken as exc:
                raise SessionNotStarted(str(exc)) from exc
            except WebDriverException as exc:
                raise FixtureError(
                    f"webkit: {DRIVER} could not start MiniBrowser: {_reason(exc)}"
                ) from exc
            try:
                yield WebDriverSession(self, driver, config)
            finally:
                # An error answer to quit changes nothing: the cells are in; close kills the rest.
                if not self.broken:
                    with suppress(WebDriverException):
                        self.send(
                            "end WebDriver session", self.timeouts.close_s, config, driver.quit
                        )
        finally:
            connection.close()  # type: ignore[no-untyped-call]  # quit closes it too, idempotently

    def _kill(self) -> None:
        process = getattr(self.service, "process", None)
        if process is not None:
            kill_group(process.pid)

    def close(self) -> None:
        """Stop the driver and every MiniBrowser it started: ask, then kill what is left."""
        process: subprocess.Popen[bytes] | None = getattr(self.service, "process", None)
        if process is None:
            return
        if not self.broken:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(self.timeouts.close_s)
        # The group outlives its leader while MiniBrowser or a helper still runs.
        kill_group(process.pid)
        process.wait()
        # Selenium's stop only closes its streams now: the process is gone.
        self.service.stop()


def _reason(exc: WebDriverException) -> str:
    """Selenium's message, or the kind of error when the driver gave no message."""
    text = (exc.msg or "").strip()
    return text.splitlines()[0] if text else f"{DRIVER} gave no reason ({type(exc).__name__})"
