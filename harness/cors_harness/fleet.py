"""The run's browsers, each driven from a thread of its own, so that they work at the same time.

Playwright's sync API belongs to the thread that started it, so each browser gets its own
Playwright (`engines.Browsers` of one) and its own thread, and every call to it, its launch and
relaunch included, runs there. The three engines then work on a scenario together instead of one
after another; the scenario's servers are shared, and each browser still has its own contexts.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from cors_harness.engines import Browsers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType

    from cors_harness.engines import EngineTimeouts, Overrides, Profile
    from cors_harness.engines.base import LaunchedBrowser
    from cors_harness.network import BrowserNetwork
    from cors_harness.results import BrowserInfo
    from cors_harness.scenario import Browser

T = TypeVar("T")

# Browsers launched again, between scenarios, after this many contexts. Firefox ESR 153 over
# WebDriver BiDi keeps about 8.5 MB per closed context (measured: 317 MB to 2.1 GB of PSS over
# 200 contexts of one page each), and slows down as it grows; a new Firefox costs about 2 s.
RECYCLE_AFTER: dict[str, int] = {"firefox": 120}


class Fleet:
    """Each browser of the run with its thread; the same questions as `engines.Browsers`.

    `get` and `discard` must be called from the browser's own thread (`submit`): a browser that
    broke is launched again there.
    """

    def __init__(
        self,
        names: Iterable[Browser],
        overrides: Overrides | None = None,
        *,
        headless: bool = True,
        timeouts: EngineTimeouts | None = None,
        profile: Profile,
    ) -> None:
        self.names = list(dict.fromkeys(names))
        self._members = {
            name: Browsers([name], overrides, headless=headless, timeouts=timeouts, profile=profile)
            for name in self.names
        }
        self._threads = {
            name: ThreadPoolExecutor(1, thread_name_prefix=f"cors-harness-{name}")
            for name in self.names
        }
        self._entered: list[Browser] = []
        self._contexts: dict[Browser, int] = {}
        # Every context opened in each browser, across relaunches: what the run's isolation cost.
        self.contexts_opened: dict[Browser, int] = {}

    @property
    def network(self) -> BrowserNetwork | None:
        return next((m.network for m in self._members.values()), None)

    @network.setter
    def network(self, network: BrowserNetwork | None) -> None:
        for member in self._members.values():
            member.network = network

    def __enter__(self) -> Fleet:
        try:
            # One after another: each Playwright finds the driver it started by the processes
            # that appeared while it started, which another starting at once would confuse.
            for name in self.names:
                self.submit(name, self._members[name].__enter__).result()
                self._entered.append(name)
        except BaseException:
            self._close(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(exc_type, exc, tb)

    def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        closing = [
            self.submit(name, self._members[name].__exit__, exc_type, exc, tb)
            for name in self._entered
        ]
        self._entered = []
        try:
            for future in closing:
                future.result()
        finally:
            for thread in self._threads.values():
                thread.shutdown(wait=True, cancel_futures=True)

    def submit(self, name: Browser, call: Callable[..., T], *args: Any) -> Future[T]:
        """Run `call(*args)` on `name`'s thread."""
        return self._threads[name].submit(call, *args)

    def get(self, name: Browser) -> LaunchedBrowser | None:
        """`name`, launched again first if it broke or has served RECYCLE_AFTER contexts."""
        member = self._members.get(name)
        if member is None:
            return None
        limit = RECYCLE_AFTER.get(name)
        if limit is not None and self._contexts.get(name, 0) >= limit and name in member.launched:
            member.discard(name)
        if name not in member.launched:
            self._contexts[name] = 0
        return member.get(name)

    def opened_context(self, name: Browser) -> None:
        """Count a context opened in `name` (from its thread), for RECYCLE_AFTER."""
        self._contexts[name] = self._contexts.get(name, 0) + 1
        self.contexts_opened[name] = self.contexts_opened.get(name, 0) + 1

    def discard(self, name: Browser) -> None:
        self._members[name].discard(name)

    @property
    def failures(self) -> dict[Browser, str]:
        return {b: why for m in self._members.values() for b, why in m.failures.items()}

    @property
    def launched(self) -> dict[Browser, LaunchedBrowser]:
        return {b: it for m in self._members.values() for b, it in m.launched.items()}

    def infos(self) -> list[BrowserInfo]:
        return [info for m in self._members.values() for info in m.infos()]


__all__ = ["RECYCLE_AFTER", "Fleet"]
