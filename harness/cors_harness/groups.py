"""Which requests of a scenario share a browser context, and the cookies each is meant to send."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cors_harness.results import CookieJar
    from cors_harness.scenario import Request, Scenario


def cookie_groups(scenario: Scenario) -> list[list[Request]]:
    """Requests that can share one browser context, in order of first appearance.

    Requests with the same cookie set-up cannot disturb each other's cookies, so they share a
    context and run concurrently; one that calls a cookie-setting route gets a context of its own.
    So do the requests linked by `after` (a login and what needs its cookie), all in one, each
    listed after the request it runs after.
    """
    linked = {r.after for r in scenario.requests} | {r.name for r in scenario.requests if r.after}
    groups: dict[object, list[Request]] = {}
    for request in scenario.requests:
        # Cookies are set up on the backend the request calls.
        key: object = ()
        if request.cookies:
            key = (scenario.backend_of(request), tuple(request.cookies))
        if request.name in linked:
            steps = scenario.steps_before(request.name)
            key = ("after", steps[-1].name if steps else request.name)
        elif request.path.startswith("/cookies/set"):
            key = ("own", request.name)
        groups.setdefault(key, []).append(request)
    return [
        sorted(group, key=lambda r: len(scenario.steps_before(r.name))) for group in groups.values()
    ]


def expected_cookies(scenario: Scenario, request: Request) -> list[str]:
    """The cookies `request` is meant to send: its set-up's, and those its login steps set."""
    return [c.name for c in request.cookies] + [
        name for step in scenario.steps_before(request.name) for name in step.sets_cookies
    ]


def cookie_stored(scenario: Scenario, request: Request, jar: CookieJar | None) -> bool | None:
    """Whether the jar held every cookie `request` is meant to send; None when it has none to
    send or the reading cannot tell (a cookie missing from a reading that does not show other
    sites' partitions may be in one, unless a top-level visit set it, which is first-party)."""
    names = expected_cookies(scenario, request)
    if not names or jar is None or jar.unreadable is not None:
        return None
    if set(names) <= jar.names():
        return True
    first_party = all(c.set_by == "navigation" for c in request.cookies) and not any(
        step.sets_cookies for step in scenario.steps_before(request.name)
    )
    return False if jar.sees_partitions or first_party else None


__all__ = ["cookie_groups", "cookie_stored", "expected_cookies"]
