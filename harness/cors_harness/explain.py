"""A cell explained for a person: what was expected, what happened, and the wire evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness.scenario import SHORTHAND_BACKEND

if TYPE_CHECKING:
    from cors_harness.results import Exchange, Result


def _exchange(exchange: Exchange) -> list[str]:
    kind = "preflight" if exchange.preflight else "request"
    # Which server, when there are several; behind another one (nginx), what it passed on.
    where = ""
    if exchange.backend not in (None, SHORTHAND_BACKEND):
        where = f" at {exchange.backend}"
        if exchange.internal:
            where += " (internal, from the server in front)"
    lines = [f"  {kind}{where}: {exchange.method} {exchange.path}?{exchange.query}"]
    lines += [f"    > {name}: {value}" for name, value in exchange.request_headers]
    lines.append(f"  response: {exchange.status if exchange.status is not None else 'none'}")
    lines += [f"    < {name}: {value}" for name, value in exchange.response_headers]
    if exchange.server_exception:
        lines.append(f"    ! server raised {exchange.server_exception}")
    return lines


def spec_lines(result: Result) -> list[str]:
    """What the Fetch standard says of the cell, and where the browser departs from it."""
    spec = result.spec
    if spec is None:
        return []
    lines = [f"Fetch standard: {spec.outcome} ({spec.check}): {spec.reason}; {spec.section}"]
    if spec.browser_reason is not None and spec.browser_check not in (None, spec.check):
        lines.append(f"  the browser's own reason names another check: {spec.browser_reason}")
    lines += [f"  departs from the standard: {d}" for d in spec.departures]
    return lines


def explain(result: Result, problems: list[str], heading: str) -> str:
    lines = [
        f"{heading}: {result.scenario} :: {result.request} [{result.browser}]",
        f"browser: {result.browser} {result.browser_version} ({result.engine})",
        f"request: {result.method} {result.url} from {result.frontend_origin}, "
        f"credentials {result.credentials}",
        *(f"  {p}" for p in problems),
        f"observed: {result.outcome}; preflight_sent={str(result.preflight_sent).lower()}, "
        f"reached_server={str(result.reached_server).lower()}, "
        f"cookie_sent={str(result.cookie_sent).lower()}, status={result.status}"
        + (
            f", reached_backends=[{', '.join(result.reached_backends)}]"
            if result.reached_backends is not None
            else ""
        ),
    ]
    if result.cookie_jar is not None:
        stored = {True: "true", False: "false", None: "unknown"}[result.cookie_stored]
        lines.append(f"cookie_stored={stored}; {result.cookie_jar.describe()}")
        lines.append(f"  read by {result.cookie_jar.read_by}")
    if result.readable_headers:
        lines.append("page could read: " + ", ".join(sorted(result.readable_headers)))
    if result.error:
        lines.append(f"browser error: {result.error}")
    lines += [f"console: {message}" for message in result.console]
    lines += spec_lines(result)
    lines.append(
        "evidence (as recorded on the server):"
        if result.evidence
        else "evidence: nothing reached the server"
    )
    for exchange in result.evidence:
        lines += _exchange(exchange)
    return "\n".join(lines)
