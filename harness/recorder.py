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
        query = scope.get("query_string", b"")
        request_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        recorded: Exchange | None = None

        def record(status: int | None, response_headers: list[tuple[str, str]]) -> Exchange:
            exchange = Exchange.from_wire(
                probe=probe_id_of(query),
                method=scope["method"],
                path=scope["path"],
                query=query.decode("latin-1"),
                request_headers=request_headers,
                status=status,
                response_headers=response_headers,
                server_exception=None,
                elapsed_ms=round((time.monotonic() - started) * 1000, 2),
            )
            with self._lock:
                self.exchanges.append(exchange)
            return exchange

        async def recording_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                # Kept before the response leaves, so whoever sees the response finds the record.
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
                recorded = record(message["status"], headers)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception as exc:
            failure = "".join(traceback.format_exception_only(exc)).strip()
            if recorded is None:
                record(None, []).server_exception = failure
                raise
            # Starlette re-raises after it has sent its 500; the exchange is complete, keep it.
            recorded.server_exception = failure

    def for_probe(self, probe: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.probe == probe]

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)
