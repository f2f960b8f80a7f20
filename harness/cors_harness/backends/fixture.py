"""The fixture FastAPI app with a scenario's `cors`, served by the scenario's child process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cors_harness.backends.base import ScenarioBackend

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import ExitStack

    from cors_harness.origins import Origins
    from cors_harness.results import Exchange
    from cors_harness.scenario import Backend
    from cors_harness.server_process import ServerProcess
    from cors_harness.tls import ServerCertificate


class FixtureBackend(ScenarioBackend):
    """The fixture app, one of those the scenario's child process serves (bound by it)."""

    def __init__(
        self,
        name: str,
        spec: Backend,
        label: str,
        child: ServerProcess,
        index: int,
        port: int,
        configuration: Callable[[Origins], tuple[dict[str, Any] | None, list[Any], list[Any]]],
    ) -> None:
        super().__init__(name, spec, label)
        self.child = child
        self.index = index
        self.port = port
        self.configuration = configuration

    def bind(self, stack: ExitStack, port: int) -> int:
        return self.port

    def start(
        self, stack: ExitStack, origins: Origins, certificate: ServerCertificate | None
    ) -> None:
        cors, layers, routes = self.configuration(origins)
        self.child.configure(cors, layers, routes, backend=self.index)

    def for_probe(self, probe: str) -> list[Exchange]:
        return self.child.for_probe(probe, backend=self.index)

    def all(self) -> list[Exchange]:
        return self.child.all(backend=self.index)

    @property
    def failure(self) -> str | None:
        return self.child.failure


__all__ = ["FixtureBackend"]
