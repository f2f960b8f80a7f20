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

from cors_harness.scenario import PLACEHOLDER
from cors_harness.scenario_checks import is_loopback

if TYPE_CHECKING:
    import re
    from collections.abc import Mapping

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = "127.0.0.1"


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
    """Where one scenario's servers are reached, once their ports are known.

    `default_backend` is the backend a request names by default and `{backend}` stands for;
    `internal` backends are reached by other backends only, at their local address.
    """

    backend_endpoints: Mapping[str, Endpoint]
    frontend_endpoints: Mapping[str, Endpoint]
    default_backend: str
    internal: frozenset[str] = frozenset()

    @property
    def backend(self) -> str:
        """The default backend's origin."""
        return self.backend_endpoints[self.default_backend].origin

    def backend_origin(self, name: str | None) -> str:
        return self.backend_endpoints[name or self.default_backend].origin

    @property
    def backends(self) -> dict[str, str]:
        """Each backend's origin, by name, internal ones left out."""
        return {n: e.origin for n, e in self.backend_endpoints.items() if n not in self.internal}

    @property
    def frontends(self) -> dict[str, str]:
        """Each frontend's origin, by name."""
        return {name: e.origin for name, e in self.frontend_endpoints.items()}

    def endpoints(self) -> list[Endpoint]:
        """What the browser reaches, for the run's proxy to route."""
        backends = [e for n, e in self.backend_endpoints.items() if n not in self.internal]
        return [*backends, *self.frontend_endpoints.values()]

    def substitute(self, text: str) -> str:
        """`text` with `{frontend:NAME}`, `{backend}`, `{backend:NAME}` and their `.host`,
        `.port`, `.scheme`, `.address` replaced; `.port` is the port the browser uses, the
        scheme's default included; `.address` is where the server listens on loopback, for
        another server to call (nginx's proxy_pass)."""

        def replace(match: re.Match[str]) -> str:
            kind, name, part = match.groups()
            found = (
                self.backend_endpoints[name or self.default_backend]
                if kind == "backend"
                else self.frontend_endpoints[name]
            )
            parts = {
                "scheme": found.scheme,
                "host": found.host,
                "port": str(found.port),
                "address": f"{LOOPBACK}:{found.local_port}",
            }
            return parts.get(part or "", found.origin)

        return PLACEHOLDER.sub(replace, text)


__all__ = ["DEFAULT_PORTS", "Endpoint", "Origins", "endpoint", "is_loopback"]
