"""Comparing a cell with the expectation its scenario gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cors_harness.results import Result
    from cors_harness.scenario import Facts


def mismatches(facts: Facts, result: Result, read_headers: list[str]) -> list[str]:
    """Each fact that does not hold, as 'field: expected X, observed Y'; empty when all hold."""
    found: list[str] = []

    def check(name: str, expected: object, observed: object) -> None:
        if expected is not None and expected != observed:
            found.append(f"{name}: expected {_show(expected)}, observed {_show(observed)}")

    check("outcome", facts.outcome, result.outcome)
    check("preflight_sent", facts.preflight_sent, result.preflight_sent)
    check("reached_server", facts.reached_server, result.reached_server)
    check("reached_backends", facts.reached_backends, result.reached_backends)
    check("cookie_sent", facts.cookie_sent, result.cookie_sent)
    check("cookie_stored", facts.cookie_stored, result.cookie_stored)
    check("status", facts.status, result.status)
    if facts.readable_headers is not None:
        readable = {h.lower() for h in read_headers if h.lower() in result.readable_headers}
        check(
            "readable_headers", sorted(h.lower() for h in facts.readable_headers), sorted(readable)
        )
    # A cookie that did not go may never have been stored, or be in another site's partition.
    if result.cookie_jar is not None:
        found = [
            f"{line} ({result.cookie_jar.describe()})" if line.startswith("cookie_") else line
            for line in found
        ]
    return found


def _show(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
