"""Chromium, Firefox and WebKit through Playwright: its bundled builds, or system browsers."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from playwright.sync_api import Error as PlaywrightError

from harness.engines.base import ProbeSpec, harness_failure, page_results

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

    from harness.results import BrowserInfo, PageResult

PAGE_LOAD_TIMEOUT_MS = 15_000


class PlaywrightSession:
    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.pages: dict[str, Page] = {}
        self.console: dict[str, list[str]] = {}

    def visit(self, url: str) -> None:
        page = self.context.new_page()
        try:
            page.goto(url, timeout=PAGE_LOAD_TIMEOUT_MS)
        finally:
            page.close()

    def _page(self, page_url: str) -> Page:
        page = self.pages.get(page_url)
        if page is None:
            page = self.context.new_page()
            messages = self.console.setdefault(page_url, [])

            def on_console(message: ConsoleMessage) -> None:
                messages.append(message.text)

            page.on("console", on_console)
            page.goto(page_url, timeout=PAGE_LOAD_TIMEOUT_MS)
            self.pages[page_url] = page
        return page

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        try:
            page = self._page(page_url)
            raw = page.evaluate("specs => window.corsProbe(specs)", specs)
        except PlaywrightError as exc:
            return harness_failure(specs, f"{page_url}: {exc.message.splitlines()[0]}")
        results = page_results(raw, specs)
        messages = self.console.get(page_url, [])
        for result in results:
            result.console = [m for m in messages if f"cors_probe={result.probe}" in m]
        return results


class PlaywrightBrowser:
    def __init__(self, browser: Browser, info: BrowserInfo) -> None:
        self.browser = browser
        self.info = info

    @contextmanager
    def session(self) -> Iterator[PlaywrightSession]:
        context = self.browser.new_context()
        try:
            yield PlaywrightSession(context)
        finally:
            context.close()
