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
        member = self._members.get(name)
        return None if member is None else member.get(name)

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


__all__ = ["Fleet"]
