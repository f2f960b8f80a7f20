"""`check`: one request against a server that already runs, from a page on a given origin, in
every browser. The command-line answer to "will this work from my frontend?".

The server is reached through the recording proxy (`upstream`), under its own origin as the
browser sees it, so the evidence is what it really sent; the page is served by the harness on
`origin`, however production-like (`https://app.example.com`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cors_harness._exceptions import HarnessError
from cors_harness.scenario import BROWSERS, Browser
from cors_harness.userapp import frontend_fields, scenario_from_mapping

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from cors_harness.results import Result
    from cors_harness.runner import Harness
    from cors_harness.scenario import Scenario

NAME = "check"


def check_scenario(
    url: str,
    *,
    origin: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    credentials: str = "omit",
    browsers: Iterable[Browser] | None = None,
) -> Scenario:
    """The one-request scenario `check` runs; HarnessError, in one line, for bad input."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise HarnessError(f"check: {url!r} is not an http or https URL")
    if parts.username or parts.password:
        raise HarnessError(f"check: {url!r}: leave credentials out of the URL")
    try:
        port = parts.port
    except ValueError:
        raise HarnessError(f"check: {url!r}: bad port") from None
    upstream = f"{parts.scheme}://{parts.netloc}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    frontend = frontend_fields("", origin, where="--origin", label=NAME)
    request: dict[str, Any] = {
        "name": "request",
        "frontend": "page",
        "method": method,
        "path": path,
        "headers": dict(headers or {}),
        "credentials": credentials,
    }
    if body is not None:
        request["body"] = body
    data = {
        "name": NAME,
        "description": f"{method} {url} from a page on {origin}",
        "browsers": list(browsers or BROWSERS),
        "backend": {
            "scheme": parts.scheme,
            "host": parts.hostname,
            "port": port or {"http": 80, "https": 443}[parts.scheme],
            "upstream": upstream,
        },
        "frontends": {"page": frontend},
        "requests": [request],
    }
    return scenario_from_mapping(data, NAME)


def check(harness: Harness, url: str, *, origin: str, **options: Any) -> list[Result]:
    """Run `check_scenario(url, origin=..., **options)` with `harness`: one cell per browser."""
    return harness.run_scenario(check_scenario(url, origin=origin, **options))


__all__ = ["check", "check_scenario"]
