"""The outermost ASGI layer: records every exchange on the wire, matched to probes by query id."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from harness.results import Exchange

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A query parameter does not change what is CORS-safelisted; a custom header would.
PROBE_PARAM = "cors_probe"


def probe_id_of(query_string: bytes) -> str | None:
    values = parse_qs(query_string.decode("latin-1")).get(PROBE_PARAM)
    return values[0] if values else None


@dataclass
class Recorder:
    """Wraps an ASGI app; every request and response it sees is kept, in order of arrival."""

    app: ASGIApp
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        request_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        status: int | None = None
        response_headers: list[tuple[str, str]] = []

        async def recording_send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
            await send(message)

        failure: str | None = None
        try:
            await self.app(scope, receive, recording_send)
        except Exception as exc:
            # Starlette re-raises after it has sent its 500; the exchange is complete, keep it.
            failure = "".join(traceback.format_exception_only(exc)).strip()
            if status is None:
                raise
        finally:
            exchange = Exchange.from_wire(
                probe=probe_id_of(scope.get("query_string", b"")),
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                request_headers=request_headers,
                status=status,
                response_headers=response_headers,
                server_exception=failure,
                elapsed_ms=round((time.monotonic() - started) * 1000, 2),
            )
            with self._lock:
                self.exchanges.append(exchange)

    def for_probe(self, probe: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.probe == probe]

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)
