"""ASGI apps served in the harness's process behind the recorder: a user's own app (given to
`cors_observe`, or named by `app:`), and a running server reached through the recording proxy
(`upstream:`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cors_harness._exceptions import FixtureError, HarnessError
from cors_harness.backends.base import ScenarioBackend
from cors_harness.recorder import Recorder
from cors_harness.server import listen, serve_on
from cors_harness.upstream import UpstreamProxy

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from contextlib import ExitStack

    from starlette.types import ASGIApp

    from cors_harness.origins import Origins
    from cors_harness.results import Exchange
    from cors_harness.scenario import Backend
    from cors_harness.tls import ServerCertificate


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


class AsgiBackend(ScenarioBackend):
    """An ASGI app built from the origins, served in this process behind the recorder; its
    lifespan starts before the scenario's first probe and shuts down when it ends."""

    def __init__(
        self, name: str, spec: Backend, label: str, build: Callable[[Origins], ASGIApp]
    ) -> None:
        super().__init__(name, spec, label)
        self.build = build
        self.recorder: Recorder | None = None
        self._sockets: list[socket.socket] = []

    def bind(self, stack: ExitStack, port: int) -> int:
        self._sockets = stack.enter_context(listen([port], name=self.label))
        port_bound: int = self._sockets[0].getsockname()[1]
        return port_bound

    def start(
        self, stack: ExitStack, origins: Origins, certificate: ServerCertificate | None
    ) -> None:
        self.recorder = Recorder(self.build(origins))
        stack.enter_context(
            serve_on(
                self.recorder,
                self._sockets,
                name=self.label,
                lifespan=True,
                certificate=certificate if self.tls else None,
            )
        )

    def for_probe(self, probe: str) -> list[Exchange]:
        return [] if self.recorder is None else self.recorder.for_probe(probe)

    def all(self) -> list[Exchange]:
        return [] if self.recorder is None else self.recorder.all()


def upstream_backend(name: str, spec: Backend, label: str) -> AsgiBackend:
    """A server that already runs, reached through the recording proxy; it answers for itself."""
    assert spec.upstream is not None
    upstream = spec.upstream
    return AsgiBackend(name, spec, label, lambda origins: UpstreamProxy(upstream))


def app_backend(name: str, spec: Backend, label: str) -> AsgiBackend:
    """The ASGI app `spec.app` names, imported when the scenario starts."""
    assert spec.app is not None
    target = spec.app

    def build(origins: Origins) -> ASGIApp:
        app = load_app(target)
        if not spec.factory:
            return app
        try:
            made: ASGIApp = app()  # type: ignore[call-arg,assignment]
        except Exception as exc:
            raise FixtureError(f"{label}: factory {target!r} failed: {exc}") from exc
        return made

    return AsgiBackend(name, spec, label, build)


__all__ = ["AsgiBackend", "app_backend", "load_app", "upstream_backend"]
