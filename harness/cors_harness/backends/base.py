"""What every kind of backend offers the scenario's servers, and their evidence as one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import ExitStack

    from cors_harness.origins import Origins
    from cors_harness.results import Exchange
    from cors_harness.scenario import Backend
    from cors_harness.tls import ServerCertificate


class ScenarioBackend(ABC):
    """One backend of a scenario: `bind`, then `start` with the origins; its evidence."""

    def __init__(self, name: str, spec: Backend, label: str) -> None:
        self.name = name
        self.spec = spec
        self.label = label

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def tls(self) -> bool:
        """Whether the browser reaches it over https (the run's certificate)."""
        return self.spec.scheme == "https" and not self.spec.internal

    @abstractmethod
    def bind(self, stack: ExitStack, port: int) -> int:
        """Listen where the browser will reach it (`port`, 0 for one chosen now); its port."""

    @abstractmethod
    def start(
        self, stack: ExitStack, origins: Origins, certificate: ServerCertificate | None
    ) -> None:
        """Serve, configured with the run's origins, until `stack` closes."""

    @abstractmethod
    def for_probe(self, probe: str) -> list[Exchange]: ...

    @abstractmethod
    def all(self) -> list[Exchange]: ...

    @property
    def failure(self) -> str | None:
        """Why its record cannot be trusted any more, once it cannot."""
        return None


class ScenarioEvidence:
    """Every backend's record, as one: each exchange marked with its backend, in order of arrival.

    Exchanges an internal backend received came from the server in front of it, not from the
    browser: they are kept, marked `internal`, for the evidence, and left out of the outcome.
    """

    def __init__(self, backends: Mapping[str, ScenarioBackend]) -> None:
        self.backends = dict(backends)

    @property
    def failure(self) -> str | None:
        failures = dict.fromkeys(b.failure for b in self.backends.values() if b.failure)
        return "; ".join(failures) or None

    def _marked(self, found: Callable[[ScenarioBackend], list[Exchange]]) -> list[Exchange]:
        exchanges = [
            e.model_copy(update={"backend": name, "internal": backend.spec.internal})
            for name, backend in self.backends.items()
            for e in found(backend)
        ]
        # Stable: within one backend, the recorder's order of arrival stays.
        return sorted(exchanges, key=lambda e: e.received_at or 0.0)

    def for_probe(self, probe: str) -> list[Exchange]:
        return self._marked(lambda backend: backend.for_probe(probe))

    def all(self) -> list[Exchange]:
        return self._marked(lambda backend: backend.all())


__all__ = ["ScenarioBackend", "ScenarioEvidence"]
