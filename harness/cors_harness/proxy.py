"""A forward proxy that sends each host a browser asks for to the local port serving it.

Scenarios name origins as in production (`https://app.example.com`, `http://localhost:3000`),
while the run's servers listen on loopback ports chosen at run time. The browsers of a run are
pointed at one `MappingProxy`, whose table says which (host, port) is served where; everything
else is refused, which also keeps the browsers' background traffic from leaving the machine.

- `CONNECT host:port` (https, and WebSockets): a tunnel to the mapped port, bytes spliced both
  ways unread. The TLS runs end to end between the browser and our server.
- Absolute-form requests (`GET http://app.example.com/x HTTP/1.1`, plain http): each request
  goes to its host's port with an origin-form target; its head is otherwise as the browser
  wrote it, less the two headers addressed to the proxy, and the answer comes back byte for
  byte. CORS verdicts are only evidence when no header was added, dropped or rewritten.

httptools says where each message begins and ends; what is forwarded is cut from the bytes
received, never re-serialised from what the parser reported.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

import httptools

from cors_harness._exceptions import FixtureError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

LOOPBACK = "127.0.0.1"
START_S = 5
STOP_S = 5
CONNECT_S = 5
# A connection silent both ways this long is closed; a browser then opens a new one, as it does
# when a server ends an idle connection.
IDLE_S = 60
# Far above any head a browser sends (cookies included); only a runaway client reaches it.
MAX_HEAD_BYTES = 256 * 1024
READ_BYTES = 65536

# Hop-by-hop headers addressed to the proxy itself: a direct connection would not carry them,
# so the server must not see them either. Everything else goes on as received.
_PROXY_HEADERS = frozenset({b"proxy-connection", b"proxy-authorization"})
_CONNECTED = b"HTTP/1.1 200 Connection Established\r\n\r\n"
# The authority of an absolute URL, after its "scheme://".
_AUTHORITY = re.compile(rb"[^/?#]*")


class MappingProxy:
    """A forward proxy on 127.0.0.1:<port chosen at run time> for the browsers of one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, int], int] = {}
        self._refused: list[tuple[str, int]] = []
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: str | None = None

    @property
    def port(self) -> int:
        """Where it listens, on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("MappingProxy is not started: use it in a `with` block")
        return self._port

    @property
    def refused(self) -> list[tuple[str, int]]:
        """Every (host, port) a browser asked for that is not mapped, in order (diagnostics)."""
        with self._lock:
            return list(self._refused)

    def map(self, host: str, port: int, local_port: int) -> None:
        """Send what browsers ask of `host`:`port` (any letter case) to 127.0.0.1:`local_port`."""
        _check_port(port, f"port of {host!r}")
        _check_port(local_port, f"local port for {host}:{port}")
        if not host:
            raise ValueError("cannot map an empty host name")
        with self._lock:
            self._routes[host.lower(), port] = local_port

    def unmap(self, host: str, port: int) -> None:
        """Refuse `host`:`port` from now on (connections already open stay where they are)."""
        with self._lock:
            self._routes.pop((host.lower(), port), None)

    def _route(self, host: str, port: int) -> int | None:
        with self._lock:
            local_port = self._routes.get((host, port))
            if local_port is None:
                self._refused.append((host, port))
            return local_port

    def __enter__(self) -> MappingProxy:
        if self._socket is not None:
            raise RuntimeError("MappingProxy is already started; a proxy serves one run")
        try:
            self._socket = socket.create_server((LOOPBACK, 0))
        except OSError as exc:
            raise FixtureError(f"mapping proxy: cannot listen on {LOOPBACK}: {exc}") from None
        self._port = self._socket.getsockname()[1]
        self._socket.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="cors-harness-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_S) or self._failure is not None:
            why = self._failure or f"not listening within {START_S} s"
            self._stop()
            raise FixtureError(f"mapping proxy on {LOOPBACK}:{self.port} did not start: {why}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()
        # A stop problem would hide the error that ended the block; alone, it is the error.
        if exc_type is not None:
            return
        assert self._thread is not None
        if self._thread.is_alive():
            raise FixtureError(
                f"mapping proxy on {LOOPBACK}:{self.port} did not stop within {STOP_S} s"
            )
        if self._failure is not None:
            raise FixtureError(f"mapping proxy on {LOOPBACK}:{self.port} failed: {self._failure}")

    def _stop(self) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None:
            # RuntimeError: the loop has already ended (it failed), nothing left to tell.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(STOP_S)
        assert self._socket is not None
        self._socket.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        assert self._socket is not None
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        connections: dict[asyncio.Task[None], _Connection] = {}
        accepting = asyncio.create_task(self._accept(self._socket, connections))
        stopping = asyncio.create_task(self._stopping.wait())
        self._ready.set()
        await asyncio.wait({accepting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        open_now = dict(connections)
        for task in (accepting, stopping, *open_now):
            task.cancel()
        await asyncio.wait({accepting, stopping, *open_now})
        # A connection whose task was cancelled before it ran has closed nothing yet.
        for connection in open_now.values():
            connection.abort()
        # Aborted sockets are closed by callbacks the loop runs next.
        await asyncio.sleep(0)
        self._socket.close()
        # Accepting only ends by itself when it failed: the run hears of it as the proxy stops.
        if not accepting.cancelled():
            accepting.result()

    async def _accept(
        self, listener: socket.socket, connections: dict[asyncio.Task[None], _Connection]
    ) -> None:
        # Accepted by hand rather than by asyncio.start_server: in Python 3.11 a connection
        # accepted just as such a server closes is left open (its transport fails to attach).
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(listener)
            try:
                # As for the servers (server.listen): without it each answer relayed on a
                # kept-alive connection waits 40 ms for the browser's delayed ACK.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader, writer = await asyncio.open_connection(sock=conn)
            except BaseException:
                conn.close()
                raise
            connection = _Connection(reader, writer, self._route)
            task = asyncio.create_task(connection.serve())
            connections[task] = connection
            task.add_done_callback(connections.pop)


def _check_port(port: int, what: str) -> None:
    if not 1 <= port <= 65535:
        raise ValueError(f"{what}: {port} is not a TCP port (1 to 65535)")


class _Refusal(Exception):
    """The proxy answers this request itself, then closes the connection."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def answer(self) -> bytes:
        body = f"cors-harness proxy: {self.reason}\n".encode()
        head = (
            f"HTTP/1.1 {self.status.value} {self.status.phrase}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body


class _Closed(Exception):
    """The connection is closing: nothing more is forwarded on it."""


@dataclass(frozen=True)
class _Head:
    """A request's head has been read (it ends where the line being parsed ends)."""

    url: bytes
    method: bytes
    keep_alive: bool
    upgrade: bool


@dataclass(frozen=True)
class _End:
    """A request has been read: after `body_bytes` bytes of the piece, or where it ends (None)."""

    body_bytes: int | None


@dataclass(frozen=True)
class _Malformed:
    reason: str


class _Requests:
    """httptools' events for what a browser sends, in the order of the bytes.

    It is fed one line at a time, so that every event can be placed in the bytes: a head ends
    where a line does, and so does a chunked body; a sized body ends after the body bytes the
    line carried, which start the line.
    """

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[_Head | _End | _Malformed] = []
        self._url = b""
        self._chunked = False
        self._body_bytes = 0

    def feed(self, piece: bytes) -> list[_Head | _End | _Malformed]:
        self._events = []
        self._body_bytes = 0
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            pass  # the head said so (CONNECT, Upgrade): what follows is not HTTP
        except httptools.HttpParserError as exc:
            self._events.append(_Malformed(str(exc) or type(exc).__name__))
        return self._events

    def on_message_begin(self) -> None:
        self._url = b""
        self._chunked = False
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._events.append(
            _Head(
                self._url, parser.get_method(), parser.should_keep_alive(), parser.should_upgrade()
            )
        )

    def on_chunk_header(self) -> None:
        self._chunked = True

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        self._events.append(_End(None if self._chunked else self._body_bytes))


class _Response:
    """Where the upstream's answer to one request ends, as httptools reads it."""

    def __init__(self, head_only: bool) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self.done = False
        self.keep_alive = False

    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # Not an answer the proxy can follow (or a 101 nobody asked for): the browser has
            # what came, and the connection ends, as the browser itself would end it.
            self.done = True
            self.keep_alive = False

    def on_headers_complete(self) -> None:
        # An answer to HEAD has no body, whatever its Content-Length says; httptools cannot be
        # told so, so the answer ends with its head.
        if self._head_only:
            self._end()

    def on_message_complete(self) -> None:
        self._end()

    def _end(self) -> None:
        # A 1xx is an interim answer: the real one follows on the same connection.
        if not self.done and self._parser.get_status_code() >= 200:
            self.done = True
            self.keep_alive = self._parser.should_keep_alive()


@dataclass
class _Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class _Connection:
    """One browser connection: its requests forwarded one at a time, or a tunnel.

    Answers go back in the order of the requests: a request is only sent once the answer to
    the one before it is complete.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        route: Callable[[str, int], int | None],
    ) -> None:
        self._reader = reader
        self._client = writer
        self._route = route
        self._requests = _Requests()
        self._head = bytearray()
        # Where the body of the request being read goes.
        self._body: asyncio.StreamWriter | None = None
        # Once CONNECTed (or upgraded): where everything the browser sends goes.
        self._tunnel: asyncio.StreamWriter | None = None
        self._upstreams: dict[int, _Upstream] = {}
        # Brings back the answer to the last request (or the tunnel's other direction).
        self._back: asyncio.Task[None] | None = None
        self._active = time.monotonic()

    async def serve(self) -> None:
        try:
            await self._run()
            await self._finish()
        except (OSError, TimeoutError):
            pass  # the browser or a server went away, or both fell silent: nothing to tell
        finally:
            await self._stop_back()
            self.abort()

    async def _run(self) -> None:
        try:
            await self._forward()
        except _Refusal as refusal:
            with suppress(_Closed):
                await self._answered()
                self._client.write(refusal.answer())
        except _Closed:
            pass

    async def _forward(self) -> None:
        while data := await self._read(self._reader):
            if self._tunnel is None:
                data = await self._forward_requests(data)
            if self._tunnel is not None and data:
                await _send(self._tunnel, data)
        # The browser closed its side: what it asked for still comes back.
        if self._tunnel is not None and self._tunnel.can_write_eof():
            self._tunnel.write_eof()
        await self._answered()

    async def _forward_requests(self, data: bytes) -> bytes:
        """Forward the requests in `data`; the bytes left once it becomes a tunnel."""
        offset = 0
        for piece in _lines(data):
            offset += len(piece)
            if await self._forward_piece(piece):
                return data[offset:]
        return b""

    async def _forward_piece(self, piece: bytes) -> bool:
        """Forward one line's worth of bytes; True once the connection is a tunnel."""
        pos = 0
        for event in self._requests.feed(piece):
            if isinstance(event, _Head):
                head = bytes(self._head) + piece[pos:]
                self._head.clear()
                pos = len(piece)
                # Empty lines between requests are allowed, and belong to no request.
                if await self._start(head.lstrip(b"\r\n"), event):
                    return True
            elif isinstance(event, _End):
                end = len(piece) if event.body_bytes is None else pos + event.body_bytes
                await self._send_body(piece[pos:end])
                self._body = None
                pos = end
            else:
                raise _Refusal(HTTPStatus.BAD_REQUEST, f"malformed request: {event.reason}")
        if self._body is not None:
            await self._send_body(piece[pos:])
        else:
            self._head += piece[pos:]
            if len(self._head) > MAX_HEAD_BYTES:
                raise _Refusal(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"request head longer than {MAX_HEAD_BYTES} bytes",
                )
        return False

    async def _send_body(self, data: bytes) -> None:
        if data and self._body is not None:
            await _send(self._body, data)

    async def _start(self, head: bytes, request: _Head) -> bool:
        """Send a request on its way; True when the connection becomes a tunnel."""
        await self._answered()
        if request.method == b"CONNECT":
            upstream = await self._upstream(*_authority(request.url))
            await _send(self._client, _CONNECTED)
            self._splice(upstream)
            return True
        host, port, target = _absolute(request.url)
        upstream = await self._upstream(host, port)
        await _send(upstream.writer, _origin_form(head, request.url, target))
        if request.upgrade:
            # An upgraded connection speaks another protocol: from here on it is a tunnel to
            # this server, answer and all. (WebKit's WebSocket handshakes come this way, as
            # `GET ws://...`; Chromium and Firefox open them through CONNECT.)
            self._splice(upstream)
            return True
        self._body = upstream.writer
        self._back = asyncio.create_task(self._bring_answer(upstream, request))
        return False

    def _splice(self, upstream: _Upstream) -> None:
        self._tunnel = upstream.writer
        self._back = asyncio.create_task(self._bring_tunnel(upstream))

    async def _upstream(self, host: str, port: int) -> _Upstream:
        local_port = self._route(host, port)
        if local_port is None:
            raise _Refusal(HTTPStatus.FORBIDDEN, f"{host}:{port} is not part of this run")
        upstream = self._upstreams.get(local_port)
        if upstream is not None:
            if not (upstream.reader.at_eof() or upstream.writer.is_closing()):
                return upstream
            upstream.writer.close()  # the server ended it while idle, as servers do
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, local_port), CONNECT_S
            )
        except TimeoutError:
            raise _Refusal(
                HTTPStatus.GATEWAY_TIMEOUT,
                f"{host}:{port} is served on {LOOPBACK}:{local_port}, which did not accept "
                f"a connection within {CONNECT_S} s",
            ) from None
        except OSError as exc:
            raise _Refusal(
                HTTPStatus.BAD_GATEWAY,
                f"{host}:{port} is served on {LOOPBACK}:{local_port}, which refused the "
                f"connection ({exc.strerror or exc})",
            ) from None
        self._upstreams[local_port] = upstream = _Upstream(reader, writer)
        return upstream

    async def _bring_answer(self, upstream: _Upstream, request: _Head) -> None:
        """The upstream's answer to one request, to the browser as it arrives, to its end."""
        response = _Response(head_only=request.method == b"HEAD")
        try:
            while not response.done:
                data = await self._read(upstream.reader)
                if not data:
                    break  # an answer ended by closing, or cut short: the browser sees that
                response.feed(data)
                await _send(self._client, data)
        except (OSError, TimeoutError):
            self.abort()
            return
        if not (response.done and response.keep_alive and request.keep_alive):
            upstream.writer.close()
            self._client.close()

    async def _bring_tunnel(self, upstream: _Upstream) -> None:
        """The tunnel's bytes from the upstream to the browser, until the upstream ends them."""
        try:
            while data := await self._read(upstream.reader):
                await _send(self._client, data)
            # Half-closed, as the upstream did: the browser may still be sending.
            if self._client.can_write_eof():
                self._client.write_eof()
        except (OSError, TimeoutError):
            self.abort()

    async def _answered(self) -> None:
        """Wait until the last request's answer is back; _Closed if the connection ended."""
        if self._back is not None:
            await self._back
        if self._client.is_closing():
            raise _Closed

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """The next bytes from either side; TimeoutError once both fell silent for IDLE_S."""
        while True:
            left = self._active + IDLE_S - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection idle for {IDLE_S} s")
            try:
                data = await asyncio.wait_for(reader.read(READ_BYTES), left)
            except TimeoutError:
                continue  # the other direction may have moved meanwhile
            self._active = time.monotonic()
            return data

    def _writers(self) -> list[asyncio.StreamWriter]:
        return [self._client, *(u.writer for u in self._upstreams.values())]

    async def _finish(self) -> None:
        """Close every socket once what was written to it has gone (bounded)."""
        writers = self._writers()
        for writer in writers:
            writer.close()
        for writer in writers:
            with suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), IDLE_S)

    async def _stop_back(self) -> None:
        if self._back is None:
            return
        self._back.cancel()
        with suppress(asyncio.CancelledError, _Closed):
            await self._back

    def abort(self) -> None:
        """Close every socket now, dropping what was not sent yet."""
        for writer in self._writers():
            writer.transport.abort()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    if writer.is_closing():
        raise _Closed
    writer.write(data)
    # A peer that stops reading is dropped like a silent one.
    await asyncio.wait_for(writer.drain(), IDLE_S)


def _lines(data: bytes) -> Iterator[bytes]:
    """`data` cut after each LF; the last piece may be part of a line."""
    start = 0
    while (end := data.find(b"\n", start) + 1) > 0:
        yield data[start:end]
        start = end
    if start < len(data):
        yield data[start:]


def _authority(url: bytes) -> tuple[str, int]:
    """The (host, port) of a CONNECT target (`host:port`, `[v6]:port`), host in lower case."""
    text = url.decode("latin-1")
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise _Refusal(HTTPStatus.BAD_REQUEST, f"CONNECT target {text!r} is not host:port")
    return host.lower(), int(port)


def _absolute(url: bytes) -> tuple[str, int, bytes]:
    """The host, port and origin-form target of an absolute-form http:// target (or ws://,
    which WebKit's libsoup sends for a WebSocket handshake instead of a CONNECT)."""
    shown = url.decode("latin-1")
    try:
        parsed = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        raise _Refusal(HTTPStatus.BAD_REQUEST, f"request target {shown!r} is not a URL") from None
    if parsed.schema is None or parsed.host is None:
        raise _Refusal(
            HTTPStatus.BAD_REQUEST,
            f"request target {shown!r} is not absolute: this is a forward proxy, "
            "it needs http://host/path",
        )
    if parsed.schema.lower() not in {b"http", b"ws"}:
        raise _Refusal(
            HTTPStatus.BAD_REQUEST,
            f"request target {shown!r}: only http:// and ws:// are forwarded; https and wss go "
            "through CONNECT",
        )
    # The path and query exactly as written: parse_url, for one, loses an empty query ("/x?").
    after_scheme = url.partition(b"://")[2]
    authority = _AUTHORITY.match(after_scheme)
    assert authority is not None  # it matches the empty string too
    target = after_scheme[authority.end() :]
    if not target.startswith(b"/"):
        target = b"/" + target
    return parsed.host.decode("latin-1").lower(), parsed.port or 80, target


def _origin_form(head: bytes, url: bytes, target: bytes) -> bytes:
    """The head as a direct connection would carry it: origin-form target, no Proxy-* headers.

    Every other byte is the browser's: names, values, order, duplicates, line ends.
    """
    request_line, *fields = _lines(head)
    # The method is a token: the URL cannot start inside it.
    kept = [f for f in fields if f.split(b":", 1)[0].lower() not in _PROXY_HEADERS]
    return b"".join([request_line.replace(url, target, 1), *kept])


__all__ = ["MappingProxy"]
