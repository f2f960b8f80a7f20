"""Chromium, Firefox and WebKit through Playwright: its bundled builds, or system browsers.

Some Playwright calls take no timeout (new_context, new_page, evaluate, close), so every call runs
under a deadline that kills the browser's process group when it passes; the call then fails at
once and the browser counts as broken.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from playwright.sync_api import Error as PlaywrightError

from cors_harness.engines._watchdog import alive, deadline, kill, kill_group
from cors_harness.engines.base import (
    STUCK,
    EngineBroken,
    ProbeSpec,
    harness_failure,
    one_line,
    page_results,
    same_site,
    settle_ms,
    stored_for,
)
from cors_harness.results import CookieJar, StoredCookie

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

    from cors_harness.engines.timeouts import EngineTimeouts
    from cors_harness.results import BrowserInfo, PageResult

# How each engine's jar is read, and what that reading cannot see.
CDP_JAR = "Chromium DevTools Protocol Network.getAllCookies: every partition, SameSite as stored"
PLAYWRIGHT_JAR = (
    "Playwright's BrowserContext.cookies(): cookies of every partition, without their partition "
    "keys; SameSite Lax and unset both read as Lax (kept as null)"
)

# The race answers when probe.js does not settle although the page is alive.
RUN_PROBES = """
([specs, stuckMs, stuck]) => Promise.race([
  window.corsProbe(specs),
  new Promise((resolve) => setTimeout(() => resolve(stuck), stuckMs)),
])
"""


class PlaywrightSession:
    def __init__(self, browser: PlaywrightBrowser, context: BrowserContext) -> None:
        self.browser = browser
        self.context = context
        # One tab for the frontends' pages, navigated from one to the next: a new page costs
        # more than a navigation (about 0.25 s in Firefox), and isolation is the context's.
        self.page: Page | None = None
        self.page_url: str | None = None
        self.console: list[str] = []
        timeouts = browser.timeouts
        # Playwright's own timeouts answer before the deadlines, while the browser still works.
        context.set_default_timeout(timeouts.command_s * 1000)
        context.set_default_navigation_timeout(timeouts.navigation_s * 1000)

    def visit(self, url: str) -> None:
        # A navigation the browser makes itself (as when the user types the address), in the
        # context's one tab, as WebDriver does; the next probes load their page again.
        page = self._tab()
        self.page_url = None
        self._load(page, url)

    def _new_page(self) -> Page:
        with self.browser.bounded("new page", self.browser.timeouts.command_s):
            return self.context.new_page()

    def _load(self, page: Page, url: str) -> None:
        timeouts = self.browser.timeouts
        with self.browser.bounded(f"load {url}", timeouts.navigation_s + timeouts.command_s):
            page.goto(url, timeout=timeouts.navigation_s * 1000)

    def _tab(self) -> Page:
        page = self.page
        if page is None:
            page = self.page = self._new_page()
            messages = self.console

            def on_console(message: ConsoleMessage) -> None:
                messages.append(message.text)

            page.on("console", on_console)
        return page

    def _page(self, page_url: str) -> Page:
        page = self._tab()
        if self.page_url != page_url:
            # Unknown until loaded: a failed load leaves the tab on no page of ours.
            self.page_url = None
            self._load(page, page_url)
            self.page_url = page_url
        return page

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        stuck_ms = settle_ms(specs)
        try:
            page = self._page(page_url)
            with self.browser.bounded(
                "run probes", stuck_ms / 1000 + self.browser.timeouts.command_s
            ):
                raw = page.evaluate(RUN_PROBES, [specs, stuck_ms, STUCK])
        except PlaywrightError as exc:
            return harness_failure(specs, f"{page_url}: {one_line(exc)}")
        results = page_results(raw, specs)
        for result in results:
            result.console = [m for m in self.console if f"cors_probe={result.probe}" in m]
        return results

    def cookie_jar(self, origin: str) -> CookieJar:
        timeouts = self.browser.timeouts
        if self.browser.info.name != "chromium":
            with self.browser.bounded("read cookies", timeouts.command_s):
                raw = self.context.cookies()
            # Playwright turns the BiDi and Juggler `default` (no SameSite given) into Lax.
            ambiguous = self.browser.info.name == "firefox"
            cookies = [
                StoredCookie(
                    name=c.get("name", ""),
                    domain=c.get("domain", ""),
                    path=c.get("path", "/"),
                    secure=bool(c.get("secure")),
                    httponly=bool(c.get("httpOnly")),
                    samesite=None
                    if ambiguous and c.get("sameSite") == "Lax"
                    else same_site(c.get("sameSite")),
                    partition=c.get("partitionKey"),
                )
                for c in raw
            ]
            return CookieJar(
                read_by=PLAYWRIGHT_JAR, sees_partitions=True, cookies=stored_for(origin, cookies)
            )
        # Playwright's own cookies() calls an unset SameSite Lax; CDP keeps the difference.
        page = self.page
        blank = self._new_page() if page is None else None
        try:
            with self.browser.bounded("read cookies", timeouts.command_s):
                cdp = self.context.new_cdp_session(blank or page)  # type: ignore[arg-type]
                try:
                    answer: dict[str, Any] = cdp.send("Network.getAllCookies")
                finally:
                    cdp.detach()
        finally:
            if blank is not None and not self.browser.broken:
                with self.browser.bounded("close page", timeouts.close_s):
                    blank.close()
        return CookieJar(
            read_by=CDP_JAR,
            sees_partitions=True,
            cookies=stored_for(origin, [_cdp_cookie(c) for c in answer.get("cookies", [])]),
        )


def _cdp_cookie(raw: dict[str, Any]) -> StoredCookie:
    key = raw.get("partitionKey")
    # Older Chromium gives the top-level site as a string, newer an object holding it.
    partition = key.get("topLevelSite") if isinstance(key, dict) else key
    return StoredCookie(
        name=raw.get("name", ""),
        domain=raw.get("domain", ""),
        path=raw.get("path", "/"),
        secure=bool(raw.get("secure")),
        httponly=bool(raw.get("httpOnly")),
        samesite=same_site(raw.get("sameSite")),
        partition=partition or None,
    )


class PlaywrightBrowser:
    """A launched browser. A call that overruns kills the browser's process group (`pid`, when
    known), then, if even that does not free the call, Playwright's driver (`drivers`)."""

    def __init__(
        self,
        browser: Browser,
        info: BrowserInfo,
        timeouts: EngineTimeouts,
        pid: int | None,
        drivers: frozenset[int],
        context_options: dict[str, object] | None = None,
    ) -> None:
        self.browser = browser
        self.context_options = context_options or {}
        self.info = info
        self.timeouts = timeouts
        self.pid = pid
        self.drivers = drivers
        self.kills = [self._kill, self._kill_drivers] if pid is not None else [self._kill_drivers]
        self.broken = False

    def _kill(self) -> None:
        if self.pid is not None:
            kill_group(self.pid)

    def _kill_drivers(self) -> None:
        for pid in self.drivers:
            kill(pid)

    @contextmanager
    def bounded(self, what: str, seconds: float) -> Iterator[None]:
        """Run a call into the browser; EngineBroken when it overran or found the browser gone."""
        try:
            with deadline(f"{self.info.name}: {what}", seconds, self.kills, self.timeouts.close_s):
                yield
        except EngineBroken:
            self.broken = True
            raise
        # A dead driver fails calls with a plain Exception, and leaves is_connected() true.
        except Exception as exc:
            if self.browser.is_connected() and all(alive(pid) for pid in self.drivers):
                raise
            self.broken = True
            raise EngineBroken(
                f"{self.info.name}: {what}: browser is gone: {one_line(exc)}"
            ) from exc

    @contextmanager
    def session(self) -> Iterator[PlaywrightSession]:
        with self.bounded("new context", self.timeouts.session_s):
            context = self.browser.new_context(**self.context_options)  # type: ignore[arg-type]
        try:
            yield PlaywrightSession(self, context)
        finally:
            if not self.broken:
                with self.bounded("close context", self.timeouts.close_s):
                    context.close()

    def close(self) -> None:
        if not self.broken:
            try:
                with self.bounded("close", self.timeouts.close_s):
                    self.browser.close()
            except Exception:  # whatever went wrong, the kill below ends it
                self.broken = True
        if self.broken:
            # Playwright's driver lives on for the other browsers, so nothing else would stop it.
            self._kill()
