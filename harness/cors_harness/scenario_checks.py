"""What one field of a scenario cannot check alone: names that must exist, values that must
differ, limits that depend on the whole scenario (slow, the backend a WebSocket reaches), login
steps and claims. `loading.parse_scenario` runs them after the model has validated each field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness.scenario import (
    BACKEND_KINDS,
    INTERVAL_S,
    PLACEHOLDER,
    SLOW_SPAN_S,
    SPAN_S,
    HeaderLayer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import NoReturn

    from cors_harness.scenario import Backend, Frontend, Loc, RawAnswer, Request, Scenario


def _placeholders(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """Every value that may hold placeholders, with where it is written."""
    for name, backend in scenario.backend_specs().items():
        at = scenario.backend_loc(name)
        cors = backend.cors
        if cors is not None:
            for index, origin in enumerate(cors.allow_origins):
                yield (*at, "cors", "allow_origins", index), origin
            if cors.allow_origin_regex is not None:
                yield (*at, "cors", "allow_origin_regex"), cors.allow_origin_regex
        for index, layer in enumerate(backend.middleware):
            if isinstance(layer, HeaderLayer):
                yield (*at, "middleware", index, "value"), layer.value
        for index, route in enumerate(backend.routes):
            for part in ("preflight", "response"):
                answer: RawAnswer = getattr(route, part)
                for pair, (_, value) in enumerate(answer.headers):
                    yield (*at, "routes", index, part, "headers", pair, 1), value
        for index, arg in enumerate(backend.command or []):
            yield (*at, "command", index), arg
        for key, value in backend.env.items():
            yield (*at, "env", key), value
        for key, value in backend.files.items():
            yield (*at, "files", key), value
    for index, request in enumerate(scenario.requests):
        yield ("requests", index, "path"), request.path


def is_loopback(host: str) -> bool:
    """Whether every engine sends `host` to this machine by itself (no proxy needed):
    localhost, 127.0.0.1 and NAME.localhost (checked in Chromium, Firefox and WebKitGTK)."""
    return host in {"localhost", "127.0.0.1"} or host.endswith(".localhost")


def check_references(scenario: Scenario, fail: Callable[[Loc, str], NoReturn]) -> None:
    """What one field cannot check alone: names that must exist, values that must differ.

    `fail` raises the error for a location in the scenario and a problem.
    """
    for i, request in enumerate(scenario.requests):
        served_by = scenario.backend_specs().get(scenario.backend_of(request))
        proxied = served_by is not None and served_by.kind in {"command", "upstream"}
        if request.kind == "websocket" and served_by is not None and proxied:
            fail(
                ("requests", i, "kind"),
                f"a WebSocket reaches a fixture or app backend only; the recording proxy in "
                f"front of a {served_by.kind} backend speaks HTTP alone",
            )
        repeat = request.repeat
        if repeat is None or scenario.slow:
            if repeat is not None and repeat.span_s() > SLOW_SPAN_S:
                fail(
                    ("requests", i, "repeat"),
                    f"repeats may span at most {SLOW_SPAN_S:g} seconds, even in a slow scenario",
                )
            continue
        if repeat.interval > INTERVAL_S:
            fail(
                ("requests", i, "repeat", "interval"),
                f"at most {INTERVAL_S:g} seconds; longer waits need `slow: true` on the "
                "scenario, which then runs only when asked (--slow)",
            )
        if repeat.span_s() > SPAN_S:
            fail(
                ("requests", i, "repeat"),
                f"repeats may span at most {SPAN_S:g} seconds; longer needs `slow: true` on the "
                "scenario, which then runs only when asked (--slow)",
            )
    declared = ", ".join(sorted(scenario.frontends))
    specs = scenario.backend_specs()
    backends = ", ".join(specs)
    for loc, text in _placeholders(scenario):
        for match in PLACEHOLDER.finditer(text):
            kind, name, part = match.groups()
            if kind == "frontend" and name not in scenario.frontends:
                fail(loc, f"placeholder {match.group(0)!r} names no frontend; declared: {declared}")
            if kind == "backend" and name is not None and name not in specs:
                fail(loc, f"placeholder {match.group(0)!r} names no backend; declared: {backends}")
            target = specs[name or scenario.default_backend] if kind == "backend" else None
            if target is not None and target.internal and part != "address":
                fail(
                    loc,
                    f"placeholder {match.group(0)!r}: an internal backend has no origin; "
                    "{backend:NAME.address} is where other backends reach it",
                )
    if specs[scenario.default_backend].internal:
        fail(
            (*scenario.backend_loc(scenario.default_backend), "internal"),
            "the first backend is the one requests call by default: list an internal one later",
        )
    for index, request in enumerate(scenario.requests):
        if request.backend is not None and request.backend not in specs:
            fail(
                ("requests", index, "backend"),
                f"unknown backend {request.backend!r}; declared: {backends}",
            )
        target_name = scenario.backend_of(request)
        target = specs[target_name]
        if target.internal:
            fail(
                ("requests", index, "backend"),
                f"backend {target_name!r} is internal: the browser cannot reach it; call the "
                "backend in front of it",
            )
        if request.cookies and target.kind != "fixture":
            fail(
                ("requests", index, "cookies"),
                f"set up through the fixture backend's /cookies/set, which "
                f"{BACKEND_KINDS[target.kind]} does not have; log in with a request to it "
                "instead (sets_cookies: [NAME]) and give the requests that need the cookie "
                "after: its name",
            )
    # One server per (host, port) the browser asks for: the run's proxy routes by that pair
    # (loopback names too), whatever the scheme.
    claimed: dict[tuple[str, int], str] = {}
    servers: list[tuple[Loc, str, Backend | Frontend]] = [
        *(
            (
                (*scenario.backend_loc(n), "port"),
                "the backend" if scenario.backend is not None else f"backend {n!r}",
                b,
            )
            for n, b in specs.items()
            if not b.internal
        ),
        *((("frontends", n, "port"), f"frontend {n!r}", f) for n, f in scenario.frontends.items()),
    ]
    for loc, who, server in servers:
        if server.port is None:
            continue
        key = (server.host, server.port)
        if key in claimed:
            fail(
                loc,
                f"{claimed[key]} is on {server.host} port {server.port} already; each origin "
                "has a server of its own",
            )
        claimed[key] = who
    names: set[str] = set()
    for index, request in enumerate(scenario.requests):
        if request.name in names:
            fail(("requests", index, "name"), f"request name {request.name!r} is used twice")
        names.add(request.name)
        if request.frontend is not None and request.frontend not in scenario.frontends:
            fail(
                ("requests", index, "frontend"),
                f"unknown frontend {request.frontend!r}; declared: {declared}",
            )
    for index, browser in enumerate(scenario.browsers):
        if browser in scenario.browsers[:index]:
            fail(("browsers", index), f"{browser} is listed twice")
    for name, backend in specs.items():
        paths: set[str] = set()
        for index, route in enumerate(backend.routes):
            if route.path in paths:
                fail(
                    (*scenario.backend_loc(name), "routes", index, "path"),
                    f"raw route {route.path!r} is declared twice",
                )
            paths.add(route.path)
    _check_steps(scenario, fail)
    _check_claims(scenario, fail)


def _check_steps(scenario: Scenario, fail: Callable[[Loc, str], NoReturn]) -> None:
    by_name = {r.name: r for r in scenario.requests}
    declared = ", ".join(by_name)
    needed = {r.after for r in scenario.requests}
    for index, request in enumerate(scenario.requests):
        loc: Loc = ("requests", index)
        if request.after is not None:
            if request.after not in by_name:
                fail((*loc, "after"), f"unknown request {request.after!r}; declared: {declared}")
            chain = [request.name]
            step: Request | None = by_name[request.after]
            while step is not None and step.name not in chain:
                chain.append(step.name)
                step = by_name.get(step.after) if step.after is not None else None
            if step is not None and step.name == request.name:
                fail(
                    (*loc, "after"),
                    f"{request.name!r} would run after itself: {' -> '.join([*chain, step.name])}; "
                    "one of them must run first",
                )
            first = by_name[request.after]
            if first.cookies != request.cookies:
                fail(
                    (*loc, "cookies"),
                    f"differ from the cookies of {first.name!r}, which this request runs after: "
                    "requests linked by after share one browser context, whose cookies are set "
                    "up before the first of them; give both the same cookies",
                )
    # After the names are known to be right: a misspelt after is the problem, not sets_cookies.
    for index, request in enumerate(scenario.requests):
        if request.sets_cookies and request.name not in needed:
            fail(
                ("requests", index, "sets_cookies"),
                f"no request runs after {request.name!r}; sets_cookies checks a step for the "
                f"requests that need it: give them after: {request.name}",
            )


def _check_claims(scenario: Scenario, fail: Callable[[Loc, str], NoReturn]) -> None:
    requests = ", ".join(r.name for r in scenario.requests)
    ids: set[str] = set()
    for index, claim in enumerate(scenario.claims):
        if claim.id in ids:
            fail(("claims", index, "id"), f"claim id {claim.id!r} is used twice")
        ids.add(claim.id)
        for number, prediction in enumerate(claim.predicts):
            loc: Loc = ("claims", index, "predicts", number)
            if prediction.request not in {r.name for r in scenario.requests}:
                fail(
                    (*loc, "request"),
                    f"unknown request {prediction.request!r}; declared: {requests}",
                )
            if not prediction.model_dump(exclude_none=True, exclude={"request"}):
                fail(loc, "predicts nothing; give an outcome, allowed or another fact")
            if prediction.readable_headers is not None:
                read = {h.lower() for h in scenario.request(prediction.request).read_headers}
                unread = [h for h in prediction.readable_headers if h.lower() not in read]
                if unread:
                    fail(
                        (*loc, "readable_headers"),
                        f"{', '.join(unread)} not in the request's read_headers; add it there",
                    )


__all__ = ["check_references", "is_loopback"]
