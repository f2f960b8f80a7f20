"""A scenario's servers: its frontends and its recorded backends, and the origins they answer on.

The fixture apps a scenario configures run in a child process of its own (`server_process`), with
its frontends, so that nothing they are configured with can stall the harness. Every other kind
of backend (`backends`) is bound, then started once the origins are known, the same way: this
module only decides where each listens and in which order they start.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from cors_harness._backend.layers import LayerSpec, RawAnswer, RawRouteSpec
from cors_harness._exceptions import FixtureError
from cors_harness.backends import (
    AsgiBackend,
    FixtureBackend,
    ScenarioBackend,
    ScenarioEvidence,
    scenario_backend,
)
from cors_harness.frontend import create_frontend_app
from cors_harness.origins import LOOPBACK, Origins, endpoint, is_loopback
from cors_harness.portlock import fixed_ports
from cors_harness.scenario import Backend, Cors, HeaderLayer, Scenario
from cors_harness.server import serve_frontends
from cors_harness.server_process import ServerPool, ServerProcess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from starlette.types import ASGIApp

    from cors_harness.network import RunNetwork
    from cors_harness.recorder import Evidence


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


def _fixture_configuration(
    backend: Backend,
) -> Callable[[Origins], tuple[dict[str, Any] | None, list[LayerSpec], list[RawRouteSpec]]]:
    def configuration(
        origins: Origins,
    ) -> tuple[dict[str, Any] | None, list[LayerSpec], list[RawRouteSpec]]:
        cors = None if backend.cors is None else cors_kwargs(backend.cors, origins)
        return (cors, *backend_layers(backend, origins))

    return configuration


def _tls(backend: Backend) -> bool:
    return backend.scheme == "https" and not backend.internal


# Fixture apps and apps first, so that a command in front of one (nginx) finds it answering.
_START_ORDER = {"fixture": 0, "app": 0, "command": 1, "upstream": 2}


@contextmanager
def scenario_servers(
    scenario: Scenario,
    app: AppFactory | None = None,
    network: RunNetwork | None = None,
    pool: ServerPool | None = None,
) -> Iterator[tuple[Origins, Evidence]]:
    """Start the scenario's frontends and its recorded backends; stop them on every path.

    Each backend is what the scenario declares (`backends`): the fixture app configured by the
    scenario runs in a child process with the frontends; the others in this process or their
    own (a command). `app(origins)`, when given, replaces the default backend: a user's own
    application, in this process, behind the recorder, its lifespan started before this yields
    and shut down when the block ends. Origins on other names than loopback ones, and https,
    need the run's `network`: its proxy routes the names to the servers while the block runs,
    its authority signs their certificate. With a `pool`, the child process comes from it and
    goes back to it.
    """
    specs = scenario.backend_specs()
    default = scenario.default_backend
    names = list(scenario.frontends)
    written = [
        (scenario.frontends[n].scheme, scenario.frontends[n].host, scenario.frontends[n].port)
        for n in names
    ]
    reached = {n: b for n, b in specs.items() if not b.internal}
    servers = [*written, *((b.scheme, b.host, b.port) for b in reached.values())]
    # With the run's proxy every origin, a fixed port on a loopback name too, is routed to a
    # port chosen now; without one, a fixed loopback port is bound for real.
    direct = network is None

    def local(host: str, port: int | None) -> int:
        return port if direct and port is not None and is_loopback(host) else 0

    wanted = [(local(host, port), scheme == "https") for scheme, host, port in written]
    if network is None and any(s == "https" or not is_loopback(h) for s, h, _ in servers):
        raise FixtureError(
            f"{scenario.name}: https and host names other than localhost, 127.0.0.1 and "
            "NAME.localhost need the run's network: run the scenario through a Harness"
        )
    certificate = None
    if any(scheme == "https" for scheme, _, _ in servers):
        assert network is not None
        certificate = network.certificate({host for _, host, _ in servers})
    ports = {n: 0 if b.internal else local(b.host, b.port) for n, b in specs.items()}

    def label(name: str) -> str:
        if app is not None and name == default:
            return app.name if isinstance(app, UserApp) else f"{scenario.name}-backend"
        if scenario.backend is not None:
            return f"{scenario.name}: the backend"
        return f"{scenario.name}: backend {name!r}"

    replaced = default if app is not None else None
    fixtures = [n for n, b in specs.items() if b.kind == "fixture" and n != replaced]
    with ExitStack() as stack:
        # Fixed ports bound for real (no proxy); another process of the run (an xdist worker)
        # waits for its turn instead of failing to bind.
        fixed = {p for p, _ in wanted if p} | {p for p in ports.values() if p}
        stack.enter_context(fixed_ports(sorted(fixed)))
        backends: dict[str, ScenarioBackend] = {}
        if fixtures:
            child = stack.enter_context(pool.child() if pool is not None else ServerProcess())
            frontend_ports, fixture_ports = child.open(
                scenario.name,
                wanted,
                [(ports[n], _tls(specs[n])) for n in fixtures],
                certificate=certificate,
            )
            for index, (name, port) in enumerate(zip(fixtures, fixture_ports, strict=True)):
                backends[name] = FixtureBackend(
                    name,
                    specs[name],
                    label(name),
                    child,
                    index,
                    port,
                    _fixture_configuration(specs[name]),
                )
        else:
            frontend_ports = stack.enter_context(
                serve_frontends(
                    create_frontend_app(),
                    wanted,
                    name=f"{scenario.name}-frontends",
                    certificate=certificate,
                )
            )
        for name, spec in specs.items():
            if name in backends:
                continue
            if app is not None and name == default:
                backends[name] = AsgiBackend(name, spec, label(name), app)
            else:
                backends[name] = scenario_backend(name, spec, label(name), scenario.directory)
        bound = {name: backend.bind(stack, ports[name]) for name, backend in backends.items()}
        origins = Origins(
            backend_endpoints={
                name: endpoint(spec.scheme, spec.host, spec.port, bound[name])
                if not spec.internal
                else endpoint("http", LOOPBACK, None, bound[name])
                for name, spec in specs.items()
            },
            frontend_endpoints={
                name: endpoint(scheme, host, port, local_port)
                for name, (scheme, host, port), local_port in zip(
                    names, written, frontend_ports, strict=True
                )
            },
            default_backend=default,
            internal=frozenset(n for n, b in specs.items() if b.internal),
        )
        if network is not None:
            stack.enter_context(network.routes(origins.endpoints()))
        for name in sorted(backends, key=lambda n: _START_ORDER[specs[n].kind]):
            backends[name].start(stack, origins, certificate)
        evidence: Evidence = ScenarioEvidence(backends)
        yield origins, evidence


__all__ = [
    "AppFactory",
    "Origins",
    "UserApp",
    "backend_layers",
    "cors_kwargs",
    "scenario_servers",
]
