"""WebKitGTK's MiniBrowser through WebKitWebDriver and Selenium, for machines without
Playwright's WebKit build (Playwright cannot drive a stock WebKit)."""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.webkitgtk.service import Service

from harness._exceptions import FixtureError
from harness.engines.base import ProbeSpec, harness_failure, page_results
from harness.results import BrowserInfo, PageResult

if TYPE_CHECKING:
    from collections.abc import Iterator

# The last argument of an async script is WebDriver's callback.
RUN_PROBES = """
const done = arguments[arguments.length - 1];
window.corsProbe(arguments[0]).then(done, (e) => done(String(e)));
"""
SCRIPT_MARGIN_S = 10


class WebDriverSession:
    def __init__(self, driver: webdriver.Remote) -> None:
        self.driver = driver
        self.current: str | None = None

    def visit(self, url: str) -> None:
        self.driver.get(url)
        self.current = None

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        try:
            if self.current != page_url:
                self.driver.get(page_url)
                self.current = page_url
            longest = max(s["timeout_ms"] for s in specs) / 1000
            self.driver.set_script_timeout(longest + SCRIPT_MARGIN_S)
            raw = self.driver.execute_async_script(RUN_PROBES, specs)
        except WebDriverException as exc:
            return harness_failure(specs, f"{page_url}: {(exc.msg or str(exc)).splitlines()[0]}")
        return page_results(raw, specs)


class WebKitGTKBrowser:
    """One WebKitWebDriver service for the run; a new automation session per browser context."""

    def __init__(self, minibrowser: str, driver: str, display: str | None) -> None:
        self.minibrowser = minibrowser
        self._stack = ExitStack()
        env = dict(os.environ)
        if display is not None:
            env["DISPLAY"] = display
        if os.geteuid() == 0:
            # WebKitGTK's bubblewrap sandbox cannot start as root.
            env["WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS"] = "1"
        self.service = Service(executable_path=driver, env=env)
        try:
            self.service.start()
            self._stack.callback(self.service.stop)
            with self.session() as first:
                version = str(first.driver.capabilities.get("browserVersion", "unknown"))
        except WebDriverException as exc:
            self.close()
            raise FixtureError(f"WebKitWebDriver could not start MiniBrowser: {exc.msg}") from exc
        except BaseException:
            self.close()
            raise
        self.info = BrowserInfo(
            name="webkit", version=version, engine="webdriver", executable=minibrowser
        )

    def _options(self) -> webdriver.WebKitGTKOptions:
        options = webdriver.WebKitGTKOptions()
        options.binary_location = self.minibrowser
        options.add_argument("--automation")
        return options

    @contextmanager
    def session(self) -> Iterator[WebDriverSession]:
        connection = RemoteConnection(
            client_config=ClientConfig(remote_server_addr=self.service.service_url, keep_alive=True)
        )
        driver = webdriver.Remote(command_executor=connection, options=self._options())
        try:
            yield WebDriverSession(driver)
        finally:
            driver.quit()

    def close(self) -> None:
        self._stack.close()
