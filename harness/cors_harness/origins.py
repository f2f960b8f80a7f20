"""Origins as browsers see them, and where the run's servers really listen.

A scenario writes the origins it deploys with (`https://app.example.com`, `http://localhost:3000`).
Every name, loopback ones included, is routed by the run's proxy (`network`): the browser asks for
`app.example.com:443` or `localhost:3000`, the proxy connects it to the loopback port that serves
it (chosen at run time), and the page's origin is exactly the one written, default port left out.
Without a proxy (servers started on their own), a fixed port on a loopback name is bound for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cors_harness.scenario import PLACEHOLDER, is_loopback

if TYPE_CHECKING:
    import re
    from collections.abc import Mapping

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Endpoint:
    """One server as the browser addresses it (`scheme`, `host`, `port`) and where it listens."""

    scheme: str
    host: str
    port: int
    local_port: int

    @property
    def origin(self) -> str:
        """The serialized origin: the default port of the scheme is not written."""
        if DEFAULT_PORTS[self.scheme] == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def endpoint(scheme: str, host: str, fixed_port: int | None, local_port: int) -> Endpoint:
    """Where a server written as (scheme, host, port or none) is reached, once it listens."""
    return Endpoint(scheme, host, fixed_port or local_port, local_port)


@dataclass(frozen=True)
class Origins:
    """Where one scenario's servers are reached, once their ports are known."""

    backend_endpoint: Endpoint
    frontend_endpoints: Mapping[str, Endpoint]

    @property
    def backend(self) -> str:
        """The backend's origin."""
        return self.backend_endpoint.origin

    @property
    def frontends(self) -> dict[str, str]:
        """Each frontend's origin, by name."""
        return {name: e.origin for name, e in self.frontend_endpoints.items()}

    def endpoints(self) -> list[Endpoint]:
        return [self.backend_endpoint, *self.frontend_endpoints.values()]

    def substitute(self, text: str) -> str:
        """`text` with `{frontend:NAME}`, `{backend}` and their `.host`, `.port`, `.scheme`
        replaced; `.port` is the port the browser uses, the scheme's default included."""

        def replace(match: re.Match[str]) -> str:
            kind, name, part = match.groups()
            found = self.backend_endpoint if kind == "backend" else self.frontend_endpoints[name]
            parts = {"scheme": found.scheme, "host": found.host, "port": str(found.port)}
            return parts.get(part or "", found.origin)

        return PLACEHOLDER.sub(replace, text)


__all__ = ["DEFAULT_PORTS", "Endpoint", "Origins", "endpoint", "is_loopback"]
