"""What every engine offers the runner: a launched browser that opens isolated sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypedDict

from harness.results import BrowserInfo, PageResult

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


class ProbeSpec(TypedDict):
    """One fetch() for probe.js; field names match its expectations."""

    probe: str
    url: str
    method: str
    headers: dict[str, str]
    body: str | None
    credentials: str
    timeout_ms: int


class Session(Protocol):
    """A fresh browser context: its own cookies and cache, closed when the context exits."""

    def visit(self, url: str) -> None:
        """Top-level navigation, as a user would (cookie set-up)."""

    def run_probes(self, page_url: str, specs: list[ProbeSpec]) -> list[PageResult]:
        """Open `page_url` (once per origin) and run all specs concurrently from it."""


class LaunchedBrowser(Protocol):
    info: BrowserInfo

    def session(self) -> AbstractContextManager[Session]: ...


def page_results(raw: object, specs: list[ProbeSpec]) -> list[PageResult]:
    """Validate what probe.js returned; a malformed answer is a harness error, not 'blocked'."""
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
