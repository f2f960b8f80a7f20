"""Observing a user's own ASGI application, served behind the recorder, in real browsers."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cors_harness._exceptions import HarnessError
from cors_harness.scenario import Scenario

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from starlette.types import ASGIApp

    from cors_harness.results import Result
    from cors_harness.runner import Harness
    from cors_harness.scenario import Browser
    from cors_harness.servers import Origins

Observations = dict[tuple[str, str], "Result"]


def load_app(target: str) -> ASGIApp:
    """Import `"package.module:attribute"`, as uvicorn does."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise HarnessError(f"app {target!r}: write it as 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HarnessError(f"app {target!r}: cannot import {module_name!r}: {exc}") from None
    try:
        app: ASGIApp = getattr(module, attribute)
    except AttributeError:
        raise HarnessError(f"app {target!r}: module {module_name!r} has no {attribute!r}") from None
    return app


def observe_app(
    harness: Harness,
    app: ASGIApp | str | None = None,
    *,
    frontends: Mapping[str, Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    app_factory: Callable[[dict[str, str]], ASGIApp] | None = None,
    backend_host: str = "localhost",
    browsers: Iterable[Browser] | None = None,
    name: str = "app",
) -> Observations:
    """Run `requests` from `frontends` against the user's app; cells keyed (request, browser).

    Give `app` (an ASGI app or an import path) when its CORS origins are fixed, with frontends on
    the matching fixed `port`; give `app_factory` to build the app from the frontends' run-time
    origins ({name: "http://localhost:PORT"}), as an app that reads its settings would.
    """
    if (app is None) == (app_factory is None):
        raise HarnessError("give either app (an ASGI app or 'module:attribute') or app_factory")
    data: dict[str, Any] = {
        "name": name,
        "backend": {"host": backend_host, "cors": None},
        "frontends": {key: dict(value) for key, value in frontends.items()},
        "requests": [dict(r) for r in requests],
    }
    if browsers is not None:
        data["browsers"] = list(browsers)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise HarnessError(f"observe_app: {where}: {error['msg']}") from None

    def build(origins: Origins) -> ASGIApp:
        if app_factory is not None:
            return app_factory(dict(origins.frontends))
        return load_app(app) if isinstance(app, str) else app  # type: ignore[return-value]

    found = harness.run_scenario(scenario, build)
    return {(r.request, r.browser): r for r in found}
