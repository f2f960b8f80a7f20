"""Observing a user's own ASGI application, served behind the recorder, in real browsers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from pydantic import ValidationError

from cors_harness._exceptions import HarnessError
from cors_harness._yaml import field
from cors_harness.backends.asgi import load_app
from cors_harness.scenario import Loc, Scenario
from cors_harness.scenario_checks import check_references
from cors_harness.servers import UserApp

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.types import ASGIApp

    from cors_harness.origins import Origins
    from cors_harness.results import Result
    from cors_harness.runner import Harness
    from cors_harness.scenario import Browser

Observations = dict[tuple[str, str], "Result"]


def frontend_fields(
    name: str, frontend: object, where: str = "frontends", label: str = "observe_app"
) -> object:
    """A frontend (or the backend) as given to observe_app: its fields, or an origin as the
    app's CORS settings list it (`"http://localhost:3000"`), which stands for its scheme, host
    and port; the model judges them as it judges fields."""
    if not isinstance(frontend, str):
        return frontend
    shape = "write an origin as 'SCHEME://HOST:PORT', or give {'host': ..., 'port': ...}"
    parts = urlsplit(frontend)
    try:
        port = parts.port
    except ValueError:
        raise HarnessError(
            f"{label}: {where}{name}: {frontend!r}: bad port; {shape}"
        ) from None
    if (
        not parts.scheme
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise HarnessError(f"{label}: {where}{name}: {frontend!r} is not an origin; {shape}")
    # An origin without a port has its scheme's own.
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return {"scheme": parts.scheme, "host": parts.hostname, "port": port or default}


def _mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise HarnessError(f"observe_app: backend: expected an origin or a mapping, got {value!r}")
    return dict(value)


def scenario_from_mapping(data: Mapping[str, Any], label: str) -> Scenario:
    """A scenario built in code (not read from a file), checked as a file would be; the first
    problem is a HarnessError of one line, `LABEL: field: problem`."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise HarnessError(f"{label}: {field(error['loc'])}: {error['msg']}") from None

    def fail(loc: Loc, problem: str) -> NoReturn:
        raise HarnessError(f"{label}: {field(loc)}: {problem}")

    check_references(scenario, fail)
    return scenario


def observe_app(
    harness: Harness,
    app: ASGIApp | str | None = None,
    *,
    frontends: Mapping[str, Mapping[str, Any] | str],
    requests: Iterable[Mapping[str, Any]],
    app_factory: Callable[[dict[str, str]], ASGIApp] | None = None,
    backend_host: str = "localhost",
    browsers: Iterable[Browser] | None = None,
    name: str = "app",
    backend: str | Mapping[str, Any] | None = None,
) -> Observations:
    """Run `requests` from `frontends` against the user's app; cells keyed (request, browser).

    Give `app` (an ASGI app or an import path) when its CORS origins are fixed, with frontends on
    the matching fixed `port`; give `app_factory` to build the app from the frontends' run-time
    origins ({name: "http://localhost:PORT"}), as an app that reads its settings would.
    `backend` is the app's own origin when it matters (`"https://api.example.com"`, or its
    scheme, host and port); by default `http://{backend_host}` on a run-time port.
    """
    if (app is None) == (app_factory is None):
        raise HarnessError("give either app (an ASGI app or 'module:attribute') or app_factory")
    data: dict[str, Any] = {
        "name": name,
        "backend": {
            **(
                {"host": backend_host}
                if backend is None
                else _mapping(frontend_fields("", backend, where="backend"))
            ),
            "cors": None,
        },
        # What is not a mapping is left to the model, which says what it expected.
        "frontends": (
            {key: frontend_fields(f".{key}", value) for key, value in frontends.items()}
            if isinstance(frontends, Mapping)
            else frontends
        ),
        "requests": list(requests),
    }
    if browsers is not None:
        data["browsers"] = list(browsers)
    scenario = scenario_from_mapping(data, "observe_app")

    def fail(loc: Loc, problem: str) -> NoReturn:
        raise HarnessError(f"observe_app: {field(loc)}: {problem}")

    for index, request in enumerate(scenario.requests):
        if request.cookies:
            fail(
                ("requests", index, "cookies"),
                "set up through the fixture backend's /cookies/set, which your app does not "
                "have; log in with a request to your app instead (sets_cookies: [NAME]) and give "
                "the requests that need the cookie after: its name",
            )

    def build(origins: Origins) -> ASGIApp:
        if app_factory is not None:
            return app_factory(dict(origins.frontends))
        return load_app(app) if isinstance(app, str) else app  # type: ignore[return-value]

    found = harness.run_scenario(scenario, UserApp(_app_name(app, app_factory), build))
    return {(r.request, r.browser): r for r in found}


def _app_name(app: object, app_factory: Callable[..., object] | None) -> str:
    """How errors name the app: as the caller wrote it."""
    if isinstance(app, str):
        return f"app {app!r}"
    if app_factory is not None:
        module = getattr(app_factory, "__module__", None)
        qualname = getattr(app_factory, "__qualname__", repr(app_factory))
        return f"app_factory {module}.{qualname}" if module else f"app_factory {qualname}"
    return f"app {app!r}"
