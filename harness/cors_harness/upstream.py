"""An ASGI app that forwards every request to any HTTP server: a recording reverse proxy.

Wrapped in `Recorder` and served by `cors_harness.server.serve_on`, it gives the same evidence
for nginx, a Django or Node server or a running staging server as for an ASGI app:

    recorder = Recorder(UpstreamProxy("http://127.0.0.1:8000"))

CORS verdicts are only evidence when nothing in between changed them, so the request goes on
as received and the answer comes back as sent: method, target, every header in order with its
duplicates (Host included), bytes never decoded. Only the hop-by-hop headers stay behind: they
describe one connection, and each side of the proxy has its own.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from starlette.requests import ClientDisconnect

from cors_harness._exceptions import FixtureError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from starlette.types import Receive, Scope, Send

# RFC 9110 section 7.6.1, plus the ones a Connection header names.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class UpstreamUnavailable(FixtureError):
    """The upstream server refused, timed out or broke the exchange; the message names it."""


class UpstreamProxy:
    """Forwards each HTTP request to `upstream` (`scheme://host:port`) and streams the answer."""

    def __init__(self, upstream: str, *, timeout_s: float = 10.0) -> None:
        url = httpx.URL(upstream)
        if (
            url.scheme not in ("http", "https")
            or not url.host
            or url.raw_path != b"/"
            or url.fragment
        ):
            raise ValueError(
                f"upstream {upstream!r}: give scheme://host:port only, such as "
                "http://127.0.0.1:8000; the path and query are the browser's"
            )
        self.upstream = upstream.rstrip("/")
        self.timeout_s = timeout_s
        self._url = url
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            # A 3xx and its Location are the browser's to follow, or to refuse under CORS.
            follow_redirects=False,
            # HTTP(S)_PROXY and the like would put one more hop between us and the upstream.
            trust_env=False,
            # Cookies are the browser's business: kept here, they would only pile up.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    def __repr__(self) -> str:
        return f"UpstreamProxy({self.upstream!r}, timeout_s={self.timeout_s})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise UpstreamUnavailable(
                f"upstream {self.upstream}: a {scope['type']} connection is not proxied, "
                "only plain HTTP requests"
            )
        target = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        headers = _end_to_end(scope["headers"])
        # The upstream reads the body as the browser framed it: by its Content-Length, left in
        # place, or chunked again when it came chunked.
        framed = any(name.lower() == b"content-length" for name, _ in headers)
        chunked = any(
            name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in scope["headers"]
        )
        if chunked and not framed:
            headers.append((b"transfer-encoding", b"chunked"))
        request = httpx.Request(
            scope["method"],
            self._url,
            content=_body(receive) if framed or chunked else None,
            # httpcore writes this target as is; httpx's URL would drop dot segments and
            # re-encode characters such as '"'.
            extensions={"target": target},
        )
        # Set after construction: httpx adds Content-Length: 0 to a POST without a body.
        request.headers = httpx.Headers(headers)
        where = f"{scope['method']} {target.decode('latin-1')}"
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc, where) from exc
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _end_to_end(response.headers.raw),
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            raise self._unavailable(exc, where) from exc
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _unavailable(self, exc: httpx.HTTPError, where: str) -> UpstreamUnavailable:
        return UpstreamUnavailable(f"upstream {self.upstream} {self._reason(exc)} ({where})")

    def _reason(self, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"did not accept the connection within {self.timeout_s} s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"did not answer within {self.timeout_s} s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"did not read the request within {self.timeout_s} s"
        if isinstance(exc, httpx.PoolTimeout):
            return f"had no connection free within {self.timeout_s} s"
        if isinstance(exc, httpx.ConnectError):
            return "refused the connection" if _refused(exc) else f"could not be reached: {exc}"
        return f"broke the exchange: {str(exc) or type(exc).__name__}"


def _end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    hop = set(_HOP_BY_HOP)
    for name, value in headers:
        if name.lower() == b"connection":
            hop.update(token.strip().lower() for token in value.split(b","))
    return [(name, value) for name, value in headers if name.lower() not in hop]


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Not the upstream's failure: the browser left before its body was complete.
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _refused(exc: BaseException) -> bool:
    # httpx says "All connection attempts failed"; the OS's reason is further down the chain.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


__all__ = ["UpstreamProxy", "UpstreamUnavailable"]
