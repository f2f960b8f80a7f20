"""Which engine drives each browser here, and launching each for a run.

Order of choice, per browser: an explicit override (option or environment variable); Playwright's
bundled build when it is installed; the distribution's browser, driven the way that works for it
(Chromium through Playwright, stock Firefox through Playwright's WebDriver BiDi channel, WebKitGTK's
MiniBrowser through WebKitWebDriver and Selenium under Xvfb).

Every call into a browser, its driver or Xvfb is bounded (`EngineTimeouts`); a browser that does
not answer in time, or dies, is killed and launched again before the next scenario.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import tempfile
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Playwright, sync_playwright

from cors_harness._exceptions import EngineUnavailable, FixtureError, HarnessError
from cors_harness.engines._watchdog import children, deadline, kill, playwright_drivers
from cors_harness.engines.base import EngineBroken, one_line
from cors_harness.engines.playwright import PlaywrightBrowser
from cors_harness.engines.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    Profile,
    chromium_shipped_args,
    command_line,
    firefox_prefs,
    launch_profile,
)
from cors_harness.engines.timeouts import EngineTimeouts
from cors_harness.engines.webdriver import WebKitGTKBrowser
from cors_harness.results import BrowserInfo
from cors_harness.scenario import BROWSERS, Browser
from cors_harness.xvfb import virtual_display

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from types import TracebackType

    from cors_harness.engines.base import LaunchedBrowser
    from cors_harness.network import BrowserNetwork

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


# Playwright 1.65 sends emulation.setMediaFeaturesOverride when it opens a context; stock Firefox
# ESR 153 answers "unknown command", so no page can be opened; Playwright's own Firefox supports it.
BIDI_BROKEN_SINCE = (1, 65)


def installed_playwright() -> str:
    """The version of the Playwright package this process imports."""
    return importlib.metadata.version("playwright")


def _release(version: str) -> tuple[int, int] | None:
    found = re.match(r"(\d+)\.(\d+)", version)
    return (int(found[1]), int(found[2])) if found else None


def known_incompatibility(plan: EnginePlan, playwright_version: str) -> str | None:
    """Why `plan` cannot work with this Playwright version, with the fix; None if none is known."""
    release = _release(playwright_version)
    if plan.engine != "playwright-bidi" or release is None or release < BIDI_BROKEN_SINCE:
        return None
    return (
        f"firefox: Playwright {playwright_version} cannot open a page in stock Firefox "
        f"({plan.executable}) over WebDriver BiDi (emulation.setMediaFeaturesOverride: unknown "
        "command); fix: pip install 'playwright<1.65', or python -m playwright install firefox "
        "for Playwright's own Firefox"
    )


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
    plan = EnginePlan("firefox", "playwright-bidi", found, channel="moz-firefox")
    # Refused here, so that doctor and every firefox cell of a run give the reason and the fix
    # instead of the protocol error the first new context would raise.
    if (problem := known_incompatibility(plan, installed_playwright())) is not None:
        raise EngineUnavailable(problem)
    return plan


# How each engine comes to accept the run's certificates, and what was checked to hold with it
# (tests/test_https.py): pages are secure contexts; Secure and __Host- cookies are stored and
# sent; Origin is the https origin as written.
TRUST = {
    "chromium": "pins the run's authority (--ignore-certificate-errors-spki-list)",
    "firefox": "accepts the run's certificates (ignore_https_errors)",
    "webkit": "accepts the run's certificates (acceptInsecureCerts)",
}


def network_launch_options(browser: Browser, network: BrowserNetwork) -> dict[str, object]:
    """Launch options that point a Playwright browser at the run's proxy and authority.

    Chromium: Playwright's proxy (which, unlike a bare --proxy-server, also proxies loopback
    names unless they are listed to bypass it), and the authority's key pinned with
    --ignore-certificate-errors-spki-list, which keeps pages secure contexts (Playwright's
    ignore_https_errors does not: pages become 'insecure-broken'). Firefox over BiDi: the proxy
    through its preferences (Playwright's proxy option covers only http there).
    """
    if browser == "chromium":
        return {
            "proxy": {"server": network.proxy_url, "bypass": ",".join(network.bypass)},
            "args": [
                *CHROMIUM_ARGS,
                f"--ignore-certificate-errors-spki-list={network.authority_spki_sha256}",
            ],
        }
    return {
        "firefox_user_prefs": {
            "network.proxy.type": 1,
            "network.proxy.http": "127.0.0.1",
            "network.proxy.http_port": network.proxy_port,
            "network.proxy.ssl": "127.0.0.1",
            "network.proxy.ssl_port": network.proxy_port,
            # Firefox never proxies localhost and 127.0.0.1 unless allowed to.
            "network.proxy.allow_hijacking_localhost": True,
            "network.proxy.no_proxies_on": ", ".join(
                b.replace("*.", ".") for b in network.bypass
            ),
        }
    }


def network_context_options(
    browser: Browser, network: BrowserNetwork | None
) -> dict[str, object]:
    """Context options for the run's authority: Firefox is told to accept its certificates
    (checked: pages stay secure contexts, Secure and __Host- cookies are kept and sent)."""
    if network is None or browser != "firefox":
        return {}
    return {"ignore_https_errors": True}


class Browsers:
    """Launches each requested browser and owns it, with Playwright and Xvfb, until exit.

    A browser that cannot be launched is kept in `failures` with the reason, so a run can report
    its cells as errors while the other browsers go on. One that breaks during the run (it or its
    driver stopped answering, or is gone) is closed at once by `discard` and launched again by
    the next `get`; if that launch fails, its reason is in `failures` for the rest of the run.
    """

    def __init__(
        self,
        names: Iterable[Browser],
        overrides: Overrides | None = None,
        *,
        headless: bool = True,
        timeouts: EngineTimeouts | None = None,
        network: BrowserNetwork | None = None,
        profile: Profile = DEFAULT_PROFILE,
    ) -> None:
        self.names = list(dict.fromkeys(names))
        self.network = network
        self.profile = profile
        self.headless = headless
        self.overrides = Overrides.from_env().merged(overrides or Overrides())
        self.timeouts = timeouts or EngineTimeouts.from_env()
        self.launched: dict[Browser, LaunchedBrowser] = {}
        self.failures: dict[Browser, str] = {}
        self._infos: dict[Browser, BrowserInfo] = {}
        self._plans: dict[Browser, EnginePlan] = {}
        # Per browser, what its launch started (browser, driver, Xvfb), closed when it breaks.
        self._owned: dict[Browser, ExitStack] = {}
        self._relaunch: set[Browser] = set()
        self._playwright: Playwright | None = None
        self._drivers: set[int] = set()
        self._stack = ExitStack()

    def __enter__(self) -> Browsers:
        with ExitStack() as stack:
            self._playwright = stack.enter_context(self._playwright_driver())
            stack.callback(self._close_all)
            for name in self.names:
                self._start(name)
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def get(self, name: Browser) -> LaunchedBrowser | None:
        """`name`, launched again first if it broke; None when it cannot be launched."""
        if name in self._relaunch:
            self._relaunch.discard(name)
            self._start(name)
        return self.launched.get(name)

    def discard(self, name: Browser) -> None:
        """Close a browser that broke, killing what does not close in time; `get` relaunches it."""
        self.launched.pop(name, None)
        owned = self._owned.pop(name, None)
        if owned is not None:
            owned.close()
        self._relaunch.add(name)

    def infos(self) -> list[BrowserInfo]:
        """Each browser as last launched, also one that broke afterwards."""
        return list(self._infos.values())

    def _start(self, name: Browser) -> None:
        assert self._playwright is not None
        with ExitStack() as owned:
            try:
                plan = self._plans.get(name) or plan_engine(self._playwright, name, self.overrides)
                self._plans[name] = plan
                launched = self._launch(owned, self._playwright, plan)
            except (HarnessError, PlaywrightError) as exc:
                self.failures[name] = one_line(exc)
                return
            self._owned[name] = owned.pop_all()
        self.failures.pop(name, None)
        self.launched[name] = launched
        self._infos[name] = launched.info

    def _close_all(self) -> None:
        while self._owned:
            _, owned = self._owned.popitem()
            owned.close()
        self.launched.clear()

    @contextmanager
    def _playwright_driver(self) -> Iterator[Playwright]:
        """sync_playwright, its start and stop bounded by killing its driver process."""
        before = playwright_drivers()
        manager = sync_playwright()

        def kill_new() -> None:
            for pid in playwright_drivers() - before:
                kill(pid)

        with deadline("start Playwright", self.timeouts.launch_s, [kill_new], 0):
            playwright = manager.__enter__()
        self._drivers = playwright_drivers() - before
        try:
            yield playwright
        finally:
            with (
                suppress(EngineBroken),
                deadline("stop Playwright", self.timeouts.close_s, [self._kill_drivers], 0),
            ):
                manager.__exit__(None, None, None)

    def _kill_drivers(self) -> None:
        for pid in self._drivers:
            kill(pid)

    def _launch(
        self, owned: ExitStack, playwright: Playwright, plan: EnginePlan
    ) -> LaunchedBrowser:
        timeouts = self.timeouts
        if plan.engine == "webdriver":
            assert plan.executable is not None
            assert plan.driver is not None
            display = os.environ.get("DISPLAY") or owned.enter_context(
                virtual_display(timeouts.launch_s, timeouts.close_s)
            )
            webkit = WebKitGTKBrowser(
                plan.executable, plan.driver, display, timeouts, self.network, self.profile
            )
            owned.callback(webkit.close)
            return webkit
        browser_type = getattr(playwright, plan.browser)
        kwargs: dict[str, object] = {"headless": self.headless, "timeout": timeouts.launch_s * 1000}
        if plan.engine != "playwright-bundled" and plan.executable is not None:
            kwargs["executable_path"] = plan.executable
        if plan.channel is not None:
            kwargs["channel"] = plan.channel
        if plan.browser == "chromium":
            kwargs["args"] = CHROMIUM_ARGS
        if self.network is not None:
            kwargs.update(network_launch_options(plan.browser, self.network))
        if plan.browser == "chromium" and self.profile == "shipped":
            # None of Playwright's switches: the harness gives the few it needs itself.
            profile_dir = owned.enter_context(
                tempfile.TemporaryDirectory(prefix="cors-harness-chromium-")
            )
            kwargs.pop("proxy", None)
            kwargs["ignore_default_args"] = True
            kwargs["args"] = chromium_shipped_args(self.headless, profile_dir, self.network)
        if plan.browser == "firefox":
            prefs = kwargs.setdefault("firefox_user_prefs", {})
            assert isinstance(prefs, dict)
            prefs.update(firefox_prefs(self.profile))
        what = f"{plan.browser}: launch via {plan.engine} ({plan.executable or plan.channel})"
        before = children(self._drivers)
        try:
            # Playwright's own launch timeout covers the browser; the deadline, a hung driver.
            with deadline(what, timeouts.launch_s + timeouts.close_s, [self._kill_drivers], 0):
                browser = browser_type.launch(**kwargs)
        except PlaywrightError as exc:
            raise FixtureError(f"{what} failed: {one_line(exc)}") from exc
        # Playwright starts each browser under its driver, leading a process group of its own.
        started = children(self._drivers) - before
        pid = started.pop() if len(started) == 1 else None
        info = BrowserInfo(
            name=plan.browser,
            version=browser.version,
            engine=plan.engine,
            executable=plan.executable or plan.channel,
            profile=launch_profile(plan.browser, self.profile, command_line(pid)),
        )
        # Firefox has no launch option for a certificate authority; see network_context_options.
        launched = PlaywrightBrowser(
            browser,
            info,
            timeouts,
            pid,
            frozenset(self._drivers),
            network_context_options(plan.browser, self.network),
        )
        owned.callback(launched.close)
        return launched


__all__ = [
    "DEFAULT_PROFILE",
    "FIX",
    "PROFILES",
    "TRUST",
    "Browsers",
    "EngineBroken",
    "EnginePlan",
    "EngineTimeouts",
    "Overrides",
    "Profile",
    "installed_playwright",
    "known_incompatibility",
    "plan_engine",
]
