"""A scenario's servers: its frontends and its recorded backend, and the origins they answer on.

The fixture app a scenario configures runs in a child process of its own (`server_process`), so
that nothing it is configured with can stall the harness. A user's own app (an object, or a
factory of the run-time origins) cannot be sent to another process: it is served in this one,
behind the same recorder.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from cors_harness._backend.layers import LayerSpec, RawAnswer, RawRouteSpec
from cors_harness.frontend import create_frontend_app
from cors_harness.recorder import Evidence, Recorder
from cors_harness.scenario import PLACEHOLDER, Backend, Cors, HeaderLayer, Scenario
from cors_harness.server import listen, serve, serve_on
from cors_harness.server_process import ServerProcess

if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterator

    from starlette.types import ASGIApp


@dataclass(frozen=True)
class Origins:
    """Where one scenario's servers listen, once their ports are known."""

    backend: str
    frontends: dict[str, str]

    def substitute(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            kind, name, part = match.groups()
            origin = self.backend if kind == "backend" else self.frontends[name]
            scheme, rest = origin.split("://", 1)
            host, port = rest.rsplit(":", 1)
            return {"scheme": scheme, "host": host, "port": port}.get(part or "", origin)

        return PLACEHOLDER.sub(replace, text)


def cors_kwargs(cors: Cors, origins: Origins) -> dict[str, Any]:
    """CORSMiddleware's keyword arguments with frontend placeholders replaced by real origins."""
    kwargs = cors.model_dump()
    kwargs["allow_origins"] = [origins.substitute(o) for o in cors.allow_origins]
    if cors.allow_origin_regex is not None:
        kwargs["allow_origin_regex"] = origins.substitute(cors.allow_origin_regex)
    return kwargs


def backend_layers(
    backend: Backend, origins: Origins
) -> tuple[list[LayerSpec], list[RawRouteSpec]]:
    """The scenario's extra layers and raw routes, placeholders replaced by real origins."""
    layers = [
        LayerSpec(layer.kind, layer.placement, layer.header, origins.substitute(layer.value))
        if isinstance(layer, HeaderLayer)
        else LayerSpec(layer.kind, layer.placement)
        for layer in backend.middleware
    ]
    routes = [
        RawRouteSpec(
            route.path,
            *(
                RawAnswer(answer.status, [(k, origins.substitute(v)) for k, v in answer.headers])
                for answer in (route.preflight, route.response)
            ),
        )
        for route in backend.routes
    ]
    return layers, routes


# Builds the backend once the origins, with their run-time ports, are known.
AppFactory: TypeAlias = "Callable[[Origins], ASGIApp]"


@dataclass(frozen=True)
class UserApp:
    """A user's app, built from the run-time origins; `name` says which app it is, in errors."""

    name: str
    build: Callable[[Origins], ASGIApp]

    def __call__(self, origins: Origins) -> ASGIApp:
        return self.build(origins)


@contextmanager
def scenario_servers(
    scenario: Scenario, app: AppFactory | None = None
) -> Iterator[tuple[Origins, Evidence]]:
    """Start the scenario's frontends and its recorded backend; stop both on every path.

    The backend is the fixture app configured by the scenario, in a child process, or
    `app(origins)` when given: a user's own application, in this process, behind the recorder,
    its lifespan started before this yields and shut down when the block ends.
    """
    label = app.name if isinstance(app, UserApp) else f"{scenario.name}-backend"
    names = list(scenario.frontends)
    wanted = [scenario.frontends[name].port or 0 for name in names]
    with ExitStack() as stack:
        if app is None:
            child = stack.enter_context(ServerProcess())
            ports, backend_port = child.open(scenario.name, wanted)
        else:
            ports = stack.enter_context(
                serve(create_frontend_app(), ports=wanted, name=f"{scenario.name}-frontends")
            )
            # The app is built from the origins, so its port is bound before it can be served.
            sockets = stack.enter_context(listen([0], name=label))
            backend_port = sockets[0].getsockname()[1]
        origins = Origins(
            backend=f"http://{scenario.backend.host}:{backend_port}",
            frontends={
                name: f"{scenario.frontends[name].scheme}://{scenario.frontends[name].host}:{port}"
                for name, port in zip(names, ports, strict=True)
            },
        )
        evidence: Evidence
        if app is None:
            cors = scenario.backend.cors
            layers, routes = backend_layers(scenario.backend, origins)
            child.configure(None if cors is None else cors_kwargs(cors, origins), layers, routes)
            evidence = child
        else:
            evidence = recorder = Recorder(app(origins))
            stack.enter_context(serve_on(recorder, sockets, name=label, lifespan=True))
        yield origins, evidence


__all__ = [
    "AppFactory",
    "Origins",
    "UserApp",
    "backend_layers",
    "cors_kwargs",
    "scenario_servers",
]
