"""The outermost ASGI layer: records every exchange on the wire, matched to probes by query id.

An exchange counts as sent only once the server has written the response head: uvicorn refuses
some headers (control characters in a value), and then the browser never sees what the app meant
to send. Such an exchange keeps the server's reason in `send_error`, and the cell becomes `error`.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs

from cors_harness.results import Exchange

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A query parameter does not change what is CORS-safelisted; a custom header would.
PROBE_PARAM = "cors_probe"
# A page of the backend's origin that only the harness answers, never the app: WebDriver reads a
# browser's cookies for the document it shows, so WebKit's jar is read there. It sets nothing,
# and is not evidence of anything the app did.
JAR_PATH = "/.well-known/cors-harness/jar"
JAR_PAGE = b"<!doctype html><title>cookie jar</title>"
# How long a reader waits for a response head that is being written to become final.
SETTLE_S = 2.0


def probe_id_of(query_string: bytes) -> str | None:
    values = parse_qs(query_string.decode("latin-1")).get(PROBE_PARAM)
    return values[0] if values else None


class Evidence(Protocol):
    """What the runner reads: the exchanges a probe caused, once they are final.

    `failure` says why the evidence cannot be trusted any more (the servers stopped answering).
    """

    @property
    def failure(self) -> str | None: ...

    def for_probe(self, probe: str) -> list[Exchange]: ...

    def all(self) -> list[Exchange]: ...


@dataclass
class Recorder:
    """Wraps an ASGI app; every request and response it sees is kept, in order of arrival."""

    app: ASGIApp
    exchanges: list[Exchange] = field(default_factory=list)
    failure: str | None = None
    _pending: dict[int, Exchange] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _settled: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._settled = threading.Condition(self._lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        if scope["path"] == JAR_PATH:
            await _jar_page(send)
            return
        started = time.monotonic()
        received_at = time.time()
        query = scope.get("query_string", b"")
        request_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        recorded: Exchange | None = None

        def record(status: int | None, response_headers: list[tuple[str, str]]) -> Exchange:
            exchange = Exchange.from_wire(
                probe=probe_id_of(query),
                # A WebSocket handshake's scope has no method: it is a GET.
                method=scope.get("method", "GET"),
                path=scope["path"],
                query=query.decode("latin-1"),
                request_headers=request_headers,
                status=status,
                response_headers=response_headers,
                server_exception=None,
                elapsed_ms=round((time.monotonic() - started) * 1000, 2),
                received_at=round(received_at, 6),
            )
            with self._lock:
                self.exchanges.append(exchange)
                self._pending[id(exchange)] = exchange
            return exchange

        def settle(exchange: Exchange, server_exception: str | None = None) -> None:
            with self._settled:
                if server_exception is not None:
                    exchange.server_exception = server_exception
                self._pending.pop(id(exchange), None)
                self._settled.notify_all()

        async def recording_send(message: Message) -> None:
            nonlocal recorded
            if scope["type"] == "websocket":
                await _handshake(message)
                return
            if message["type"] != "http.response.start":
                await send(message)
                return
            headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            ]
            # Listed before the head is written, and final once the app has returned: a reader
            # waits for that, so it sees whether the server could write the head at all.
            recorded = record(message["status"], headers)
            try:
                await send(message)
            except Exception as exc:
                recorded.send_error = _one_line(exc)
                raise

        async def _handshake(message: Message) -> None:
            # A WebSocket handshake's answer is final once sent: 101 when the app accepts, 403
            # when it closes first (uvicorn's answer), or the app's own denial response.
            nonlocal recorded
            kind = message["type"]
            answer = {
                "websocket.accept": 101,
                "websocket.close": 403,
                "websocket.http.response.start": message.get("status"),
            }
            if recorded is None and kind in answer:
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                ]
                recorded = record(answer[kind], headers)
                try:
                    await send(message)
                finally:
                    settle(recorded)
                return
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception as exc:
            failure = _one_line(exc)
            if recorded is None:
                settle(record(None, []), server_exception=failure)
                raise
            # Starlette re-raises after it has sent its 500: the exchange is complete, keep it.
            # After a failed send the server closes the connection by itself.
            settle(recorded, server_exception=None if recorded.send_error else failure)
        else:
            if recorded is not None:
                settle(recorded)

    def _wait_settled(self, probe: str | None) -> None:
        deadline = time.monotonic() + SETTLE_S
        with self._settled:
            while any(probe is None or e.probe == probe for e in self._pending.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._settled.wait(left)

    def for_probe(self, probe: str) -> list[Exchange]:
        self._wait_settled(probe)
        with self._lock:
            return [e for e in self.exchanges if e.probe == probe]

    def all(self) -> list[Exchange]:
        self._wait_settled(None)
        with self._lock:
            return list(self.exchanges)


async def _jar_page(send: Send) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(JAR_PAGE)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": JAR_PAGE})


def _one_line(exc: BaseException) -> str:
    return " ".join("".join(traceback.format_exception_only(exc)).split())
