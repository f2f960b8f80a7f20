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
from cors_harness._exceptions import FixtureError
from cors_harness.frontend import create_frontend_app
from cors_harness.origins import Origins, endpoint, is_loopback
from cors_harness.portlock import fixed_ports
from cors_harness.recorder import Evidence, Recorder
from cors_harness.scenario import Backend, Cors, HeaderLayer, Scenario
from cors_harness.server import listen, serve_frontends, serve_on
from cors_harness.server_process import ServerProcess
from cors_harness.upstream import UpstreamProxy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from starlette.types import ASGIApp

    from cors_harness.network import RunNetwork


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


def upstream_app(upstream: str) -> AppFactory:
    """A running server, reached through the recording proxy; it answers for itself."""
    return lambda origins: UpstreamProxy(upstream)


@dataclass(frozen=True)
class UserApp:
    """A user's app, built from the run-time origins; `name` says which app it is, in errors."""

    name: str
    build: Callable[[Origins], ASGIApp]

    def __call__(self, origins: Origins) -> ASGIApp:
        return self.build(origins)


@contextmanager
def scenario_servers(
    scenario: Scenario, app: AppFactory | None = None, network: RunNetwork | None = None
) -> Iterator[tuple[Origins, Evidence]]:
    """Start the scenario's frontends and its recorded backend; stop both on every path.

    The backend is the fixture app configured by the scenario, in a child process, or
    `app(origins)` when given: a user's own application, in this process, behind the recorder,
    its lifespan started before this yields and shut down when the block ends. Origins on
    other names than loopback ones, and https, need the run's `network`: its proxy routes the
    names to the servers while the block runs, its authority signs their certificate.
    """
    backend = scenario.backend
    if app is None and backend.upstream is not None:
        app = upstream_app(backend.upstream)
    label = app.name if isinstance(app, UserApp) else f"{scenario.name}-backend"
    names = list(scenario.frontends)
    written = [
        (scenario.frontends[n].scheme, scenario.frontends[n].host, scenario.frontends[n].port)
        for n in names
    ]
    # With the run's proxy every origin, a fixed port on a loopback name too, is routed to a
    # port chosen now; without one, a fixed loopback port is bound for real.
    direct = network is None
    wanted = [
        (port if direct and port is not None and is_loopback(host) else 0, scheme == "https")
        for scheme, host, port in written
    ]
    needs_network = backend.scheme == "https" or any(
        scheme == "https" or not is_loopback(host)
        for scheme, host, _ in [*written, (backend.scheme, backend.host, backend.port)]
    )
    if needs_network and network is None:
        raise FixtureError(
            f"{scenario.name}: https and host names other than localhost, 127.0.0.1 and "
            "NAME.localhost need the run's network: run the scenario through a Harness"
        )
    certificate = None
    if any(tls for _, tls in wanted) or backend.scheme == "https":
        assert network is not None
        certificate = network.certificate({backend.host, *(host for _, host, _ in written)})
    backend_fixed = (
        backend.port if direct and backend.port is not None and is_loopback(backend.host) else 0
    )
    with ExitStack() as stack:
        # Fixed ports bound for real (no proxy); another process of the run (an xdist worker)
        # waits for its turn instead of failing to bind.
        bound = sorted({p for p, _ in wanted if p} | ({backend_fixed} if backend_fixed else set()))
        stack.enter_context(fixed_ports(bound))
        if app is None:
            child = stack.enter_context(ServerProcess())
            ports, backend_port = child.open(
                scenario.name,
                wanted,
                backend_tls=backend.scheme == "https",
                certificate=certificate,
                backend_port=backend_fixed,
            )
        else:
            ports = stack.enter_context(
                serve_frontends(
                    create_frontend_app(),
                    wanted,
                    name=f"{scenario.name}-frontends",
                    certificate=certificate,
                )
            )
            # The app is built from the origins, so its port is bound before it can be served.
            sockets = stack.enter_context(listen([backend_fixed], name=label))
            backend_port = sockets[0].getsockname()[1]
        origins = Origins(
            backend_endpoint=endpoint(backend.scheme, backend.host, backend.port, backend_port),
            frontend_endpoints={
                name: endpoint(scheme, host, port, local)
                for name, (scheme, host, port), local in zip(names, written, ports, strict=True)
            },
        )
        if network is not None:
            stack.enter_context(network.routes(origins.endpoints()))
        evidence: Evidence
        if app is None:
            cors = backend.cors
            layers, routes = backend_layers(backend, origins)
            child.configure(None if cors is None else cors_kwargs(cors, origins), layers, routes)
            evidence = child
        else:
            evidence = recorder = Recorder(app(origins))
            stack.enter_context(
                serve_on(
                    recorder,
                    sockets,
                    name=label,
                    lifespan=True,
                    certificate=certificate if backend.scheme == "https" else None,
                )
            )
        yield origins, evidence


__all__ = [
    "AppFactory",
    "Origins",
    "UserApp",
    "backend_layers",
    "cors_kwargs",
    "scenario_servers",
]
