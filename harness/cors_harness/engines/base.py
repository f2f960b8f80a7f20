"""What every engine offers the runner: a launched browser that opens isolated sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypedDict
from urllib.parse import urlsplit

from cors_harness._exceptions import FixtureError
from cors_harness.results import BrowserInfo, CookieJar, PageResult, SameSite, StoredCookie

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


# probe.js settles every fetch at its timeout_ms; a page that has not answered this much later is
# stuck, and the engines race it against a timer that answers STUCK instead.
SETTLE_MS = 1000
STUCK = "cors-harness: page did not settle"


class EngineBroken(FixtureError):
    """A browser or its driver did not answer in time, or is gone: it must be launched again."""


class SessionNotStarted(EngineBroken):
    """The browser did not open a new session (context) in time: nothing of it was used yet."""


class ProbeSpec(TypedDict):
    """One fetch() for probe.js; field names match its expectations."""

    probe: str
    url: str
    method: str
    headers: dict[str, str]
    body: str | None
    credentials: str
    mode: str
    redirect: str
    timeout_ms: int
    # fetch, or websocket: `new WebSocket(url)`, one message sent and one awaited.
    kind: str


class Session(Protocol):
    """A fresh browser context: its own cookies and cache, closed when the context exits."""

    def visit(self, url: str) -> None:
        """Top-level navigation, as a user would (cookie set-up)."""

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        """Open `page_url` (once per origin) and run all specs concurrently from it.

        A failed fetch or page is in the results; EngineBroken means the browser must go.
        """

    def cookie_jar(self, origin: str) -> CookieJar:
        """What this context's cookie jar holds for `origin`'s host, read without sending it
        anything the app sees."""


class LaunchedBrowser(Protocol):
    info: BrowserInfo

    def session(self) -> AbstractContextManager[Session]: ...

    def close(self) -> None:
        """Close the browser within the close timeout, killing what is left; never raises."""


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 domain-match: a cookie for `domain` goes to `host` (ports play no part)."""
    bare = domain.lstrip(".").lower()
    host = host.lower()
    return host == bare or host.endswith(f".{bare}")


def stored_for(origin: str, cookies: list[StoredCookie]) -> list[StoredCookie]:
    host = urlsplit(origin).hostname or ""
    return [c for c in cookies if domain_matches(host, c.domain)]


SAMESITE: dict[str, SameSite] = {"strict": "strict", "lax": "lax", "none": "none"}


def same_site(value: object) -> SameSite:
    """An engine's SameSite word; what it does not name (or leaves out) was never given."""
    return SAMESITE.get(str(value).lower(), "unset") if value else "unset"


def settle_ms(specs: list[ProbeSpec]) -> int:
    """When a page running `specs` counts as stuck."""
    return max(s["timeout_ms"] for s in specs) + SETTLE_MS


def page_results(raw: object, specs: list[ProbeSpec]) -> list[PageResult]:
    """Validate what probe.js returned; a malformed answer is a harness error, not 'blocked'."""
    if raw == STUCK:
        return harness_failure(specs, f"the page did not answer within {settle_ms(specs)} ms")
    if not isinstance(raw, list) or len(raw) != len(specs):
        return [
            PageResult(
                probe=s["probe"],
                received=False,
                harness_error=f"probe.js returned {raw!r}",
                error=None,
            )
            for s in specs
        ]
    results = []
    for spec, item in zip(specs, raw, strict=True):
        result = PageResult.model_validate(item)
        if result.timed_out:
            result.harness_error = f"no answer within {spec['timeout_ms']} ms"
        results.append(result)
    return results


def harness_failure(specs: list[ProbeSpec], reason: str) -> list[PageResult]:
    return [
        PageResult(probe=s["probe"], received=False, harness_error=reason, error=None)
        for s in specs
    ]


def one_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type when it has none."""
    text = getattr(exc, "message", None) or getattr(exc, "msg", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
