"""The run's own network: a proxy that sends production host names to the run's servers, and a
certificate authority the run's browsers trust, so that `https://app.example.com` is served here.

Nothing outside the run changes: no /etc/hosts entry, no system trust store. Each browser is
launched pointing at the proxy for every name, loopback names included (so that
`http://localhost:3000` needs no port 3000 on the machine), and told about the run's authority
in the way its engine allows (`engines`).
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cors_harness.tls import RunAuthority, ServerCertificate

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

    from cors_harness.origins import Endpoint
    from cors_harness.proxy import MappingProxy

# No name bypasses the proxy: loopback origins are routed like any other, to the ports their
# servers really listen on. (A name listed here would reach its server directly.)
BYPASS: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrowserNetwork:
    """What a browser is launched with: the proxy, the names that bypass it, and the run's
    authority (its certificate file, and its key's SHA-256 for Chromium's SPKI list)."""

    proxy_port: int
    bypass: tuple[str, ...]
    authority_pem: bytes
    authority_spki_sha256: str

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"


class RunNetwork:
    """Owns the proxy and the authority for one run; both end with it, on every path."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.proxy: MappingProxy | None = None
        self.authority: RunAuthority | None = None

    def __enter__(self) -> RunNetwork:
        from cors_harness.proxy import MappingProxy

        with ExitStack() as stack:
            self.authority = stack.enter_context(RunAuthority())
            self.proxy = stack.enter_context(MappingProxy())
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def for_browsers(self) -> BrowserNetwork:
        assert self.proxy is not None, "RunNetwork not entered"
        assert self.authority is not None, "RunNetwork not entered"
        return BrowserNetwork(
            proxy_port=self.proxy.port,
            bypass=BYPASS,
            authority_pem=self.authority.pem,
            authority_spki_sha256=self.authority.spki_sha256,
        )

    def certificate(self, hosts: Iterable[str]) -> ServerCertificate:
        """A certificate for the https servers of a scenario, valid for each of `hosts`."""
        assert self.authority is not None, "RunNetwork not entered"
        return self.authority.issue(hosts)

    @contextmanager
    def routes(self, endpoints: Iterable[Endpoint]) -> Iterator[None]:
        """The proxy sends each endpoint to its server while the block runs."""
        assert self.proxy is not None, "RunNetwork not entered"
        routed = list(endpoints)
        for e in routed:
            self.proxy.map(e.host, e.port, e.local_port)
        try:
            yield
        finally:
            for e in routed:
                self.proxy.unmap(e.host, e.port)


__all__ = ["BYPASS", "BrowserNetwork", "RunNetwork"]
