"""Which engine drives each browser here, and launching each once for a run.

Order of choice, per browser: an explicit override (option or environment variable); Playwright's
bundled build when it is installed; the distribution's browser, driven the way that works for it
(Chromium through Playwright, stock Firefox through Playwright's WebDriver BiDi channel, WebKitGTK's
MiniBrowser through WebKitWebDriver and Selenium under Xvfb).
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Playwright, sync_playwright

from harness._exceptions import EngineUnavailable, FixtureError, HarnessError
from harness.engines.playwright import PlaywrightBrowser
from harness.engines.webdriver import WebKitGTKBrowser
from harness.results import BrowserInfo
from harness.scenario import BROWSERS, Browser
from harness.xvfb import virtual_display

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

    from harness.engines.base import LaunchedBrowser

EngineName = Literal[
    "playwright-bundled", "playwright-channel", "playwright-system", "playwright-bidi", "webdriver"
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SYSTEM_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SYSTEM_FIREFOX = ("firefox-esr", "firefox")
MINIBROWSER_PATHS = (
    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/x86_64-linux-gnu/webkitgtk-6.0/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkitgtk-6.0/MiniBrowser",
)
FIX = {
    "chromium": "python -m playwright install chromium  (or: sudo apt-get install -y chromium)",
    "firefox": "python -m playwright install firefox  (or: sudo apt-get install -y firefox-esr)",
    "webkit": "python -m playwright install webkit  "
    "(or: sudo apt-get install -y webkit2gtk-driver libwebkit2gtk-4.1-0 xvfb)",
}


@dataclass(frozen=True)
class Overrides:
    """Per-browser executable and channel overrides (CLI options win over the environment)."""

    executables: Mapping[Browser, str] = field(default_factory=dict)
    channels: Mapping[Browser, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Overrides:
        executables = {
            b: environ[f"CORS_HARNESS_{b.upper()}_EXECUTABLE"]
            for b in BROWSERS
            if environ.get(f"CORS_HARNESS_{b.upper()}_EXECUTABLE")
        }
        channels = {
            b: environ[f"CORS_HARNESS_{b.upper()}_CHANNEL"]
            for b in BROWSERS
            if environ.get(f"CORS_HARNESS_{b.upper()}_CHANNEL")
        }
        return cls(executables, channels)

    def merged(self, other: Overrides) -> Overrides:
        return Overrides(
            {**self.executables, **other.executables}, {**self.channels, **other.channels}
        )


@dataclass(frozen=True)
class EnginePlan:
    browser: Browser
    engine: EngineName
    executable: str | None
    channel: str | None = None
    driver: str | None = None


def _bundled(playwright: Playwright, browser: Browser) -> str | None:
    path = getattr(playwright, browser).executable_path
    return path if path and Path(path).is_file() else None


def _first_on_path(names: Iterable[str]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def plan_engine(playwright: Playwright, browser: Browser, overrides: Overrides) -> EnginePlan:
    """Decide how `browser` would be driven; raise EngineUnavailable with the fix if it cannot."""
    executable = overrides.executables.get(browser)
    channel = overrides.channels.get(browser)
    if executable is not None and not Path(executable).is_file():
        raise EngineUnavailable(f"{browser}: override executable {executable!r} does not exist")
    if browser == "webkit":
        if channel is not None:
            raise EngineUnavailable(
                "webkit: Playwright has no channels for WebKit; "
                "use CORS_HARNESS_WEBKIT_EXECUTABLE for a MiniBrowser path"
            )
        if executable is None and (bundled := _bundled(playwright, "webkit")):
            return EnginePlan("webkit", "playwright-bundled", bundled)
        minibrowser = executable or next((p for p in MINIBROWSER_PATHS if Path(p).is_file()), None)
        driver = os.environ.get("CORS_HARNESS_WEBKIT_DRIVER") or shutil.which("WebKitWebDriver")
        if minibrowser is None or driver is None:
            missing = "MiniBrowser" if minibrowser is None else "WebKitWebDriver"
            raise EngineUnavailable(
                f"webkit: no Playwright WebKit build and no {missing}; fix: {FIX['webkit']}"
            )
        return EnginePlan("webkit", "webdriver", minibrowser, driver=driver)
    if channel is not None:
        return EnginePlan(browser, "playwright-channel", executable, channel=channel)
    if executable is None and (bundled := _bundled(playwright, browser)):
        return EnginePlan(browser, "playwright-bundled", bundled)
    if browser == "chromium":
        found = executable or _first_on_path(SYSTEM_CHROMIUM)
        if found is None:
            raise EngineUnavailable(
                f"chromium: no Playwright Chromium build and no system "
                f"Chromium on PATH; fix: {FIX['chromium']}"
            )
        return EnginePlan("chromium", "playwright-system", found)
    found = executable or _first_on_path(SYSTEM_FIREFOX)
    if found is None:
        raise EngineUnavailable(
            f"firefox: no Playwright Firefox build and no system Firefox on "
            f"PATH; fix: {FIX['firefox']}"
        )
    return EnginePlan("firefox", "playwright-bidi", found, channel="moz-firefox")


class Browsers:
    """Launches each requested browser once and owns them, with Playwright and Xvfb, until exit.

    A browser that cannot be launched is kept in `failures` with the reason, so a run can report
    its cells as errors while the other browsers go on.
    """

    def __init__(
        self,
        names: Iterable[Browser],
        overrides: Overrides | None = None,
        *,
        headless: bool = True,
    ) -> None:
        self.names = list(dict.fromkeys(names))
        self.headless = headless
        self.overrides = Overrides.from_env().merged(overrides or Overrides())
        self.launched: dict[Browser, LaunchedBrowser] = {}
        self.failures: dict[Browser, str] = {}
        self._stack = ExitStack()

    def __enter__(self) -> Browsers:
        with ExitStack() as stack:
            playwright = stack.enter_context(sync_playwright())
            for name in self.names:
                try:
                    plan = plan_engine(playwright, name, self.overrides)
                    self.launched[name] = self._launch(stack, playwright, plan)
                except (HarnessError, PlaywrightError) as exc:
                    self.failures[name] = _one_line(exc)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def infos(self) -> list[BrowserInfo]:
        return [b.info for b in self.launched.values()]

    def _launch(
        self, stack: ExitStack, playwright: Playwright, plan: EnginePlan
    ) -> LaunchedBrowser:
        if plan.engine == "webdriver":
            assert plan.executable is not None
            assert plan.driver is not None
            display = os.environ.get("DISPLAY") or stack.enter_context(virtual_display())
            webkit = WebKitGTKBrowser(plan.executable, plan.driver, display)
            stack.callback(webkit.close)
            return webkit
        browser_type = getattr(playwright, plan.browser)
        kwargs: dict[str, object] = {"headless": self.headless}
        if plan.engine != "playwright-bundled" and plan.executable is not None:
            kwargs["executable_path"] = plan.executable
        if plan.channel is not None:
            kwargs["channel"] = plan.channel
        if plan.browser == "chromium":
            kwargs["args"] = CHROMIUM_ARGS
        try:
            browser = browser_type.launch(**kwargs)
        except PlaywrightError as exc:
            raise FixtureError(
                f"{plan.browser}: launch via {plan.engine} "
                f"({plan.executable or plan.channel}) failed: "
                f"{_one_line(exc)}"
            ) from exc
        stack.callback(browser.close)
        info = BrowserInfo(
            name=plan.browser,
            version=browser.version,
            engine=plan.engine,
            executable=plan.executable or plan.channel,
        )
        return PlaywrightBrowser(browser, info)


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


__all__ = ["FIX", "Browsers", "EnginePlan", "Overrides", "plan_engine"]
