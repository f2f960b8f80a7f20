"""The recording reverse proxy: any HTTP server's headers, both ways, as they were sent.

The upstream is a raw-socket server whose bytes the test writes by hand, so that whatever the
browser side shows can be told apart from what the upstream said.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import socketserver
import threading
import time
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import pytest

from cors_harness.recorder import Recorder
from cors_harness.server import listen, serve_on
from cors_harness.upstream import UpstreamProxy, UpstreamUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

# Long enough for anything on loopback, short enough that a hang fails the test quickly.
WAIT_S = 5
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "x-upstream-hop"}

CORS_ANSWER = (
    b"HTTP/1.1 200 OK\r\n"
    b"Access-Control-Allow-Origin: https://app.example.com\r\n"
    b"Access-Control-Allow-Origin: https://other.example.com\r\n"
    b"Access-Control-Allow-Credentials: true\r\n"
    b"access-control-EXPOSE-headers: X-Total-Count\r\n"
    b"Vary: Origin\r\n"
    b"Set-Cookie: session=abc; Path=/; HttpOnly; SameSite=None; Secure\r\n"
    b"Set-Cookie: theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT\r\n"
    b"Content-Type: application/json\r\n"
    b"X-Total-Count: 42\r\n"
    b"Connection: close, X-Upstream-Hop\r\n"
    b"X-Upstream-Hop: for the proxy only\r\n"
    b"Content-Length: 2\r\n"
    b"\r\n"
    b"[]"
)


def parse_head(head: bytes) -> tuple[bytes, list[tuple[str, str]]]:
    """The start line and the header fields, in order, names and values as written."""
    start, *lines = head.split(b"\r\n")
    fields = []
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        fields.append((name, value.strip(" \t")))
    return start, fields


def field(fields: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in fields if k.lower() == name), None)


def read_message(sock: socket.socket) -> tuple[bytes, list[tuple[str, str]], bytes, bytes]:
    """One HTTP/1.1 message: start line, header fields, body (unchunked) and the raw bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed inside a head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    start, fields = parse_head(head)

    def more() -> None:
        nonlocal rest
        chunk = sock.recv(65536)
        assert chunk, f"connection closed inside a body: {rest!r}"
        rest += chunk

    length = field(fields, "content-length")
    if (field(fields, "transfer-encoding") or "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                more()
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                more()
            body, rest = body + rest[:size], rest[size + 2 :]
            if size == 0:
                break
    else:
        while len(rest) < int(length or 0):
            more()
        body = rest
    return start, fields, body, data + rest


class RawUpstream:
    """An HTTP/1.1 server that keeps each request's bytes and answers each path as told."""

    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers
        self.requests: list[tuple[bytes, list[tuple[str, str]], bytes]] = []
        upstream = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(WAIT_S)
                start, fields, body, _ = read_message(self.request)
                upstream.requests.append((start, fields, body))
                path = start.split(b" ")[1].partition(b"?")[0]
                self.request.sendall(upstream.answers[path])

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[RawUpstream]:
        # A short poll: shutdown() waits for the loop to look again.
        thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(WAIT_S)


@contextmanager
def recording_proxy(upstream: str, *, timeout_s: float = WAIT_S) -> Iterator[tuple[int, Recorder]]:
    """`Recorder(UpstreamProxy(upstream))` on a real uvicorn; its lifespan closes the client."""
    recorder = Recorder(UpstreamProxy(upstream, timeout_s=timeout_s))
    with ExitStack() as stack:
        sockets = stack.enter_context(listen([0], name="upstream-proxy"))
        stack.enter_context(serve_on(recorder, sockets, name="upstream-proxy", lifespan=True))
        yield sockets[0].getsockname()[1], recorder


def browse(port: int, request: bytes) -> tuple[bytes, list[tuple[str, str]], bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(request)
        return read_message(sock)


@pytest.fixture
def cors_upstream() -> Iterator[RawUpstream]:
    with RawUpstream({b"/items/": CORS_ANSWER}).running() as upstream:
        yield upstream


PREFLIGHT = (
    b"OPTIONS /items/?cors_probe=p1&next=%2Fa%22b HTTP/1.1\r\n"
    b"Host: api.example.com:8443\r\n"
    b"Connection: keep-alive, X-Browser-Hop\r\n"
    b"X-Browser-Hop: for the proxy only\r\n"
    b"Origin: https://app.example.com\r\n"
    b"Access-Control-Request-Method: PUT\r\n"
    b"Access-Control-Request-Headers: content-type,x-custom\r\n"
    b"Cookie: session=abc; theme=dark\r\n"
    b"X-Custom: One\r\n"
    b"X-Custom: two\r\n"
    b"Accept: */*\r\n"
    b"\r\n"
)


def test_the_browser_request_reaches_the_upstream_unchanged(cors_upstream: RawUpstream) -> None:
    with recording_proxy(cors_upstream.url) as (port, _):
        browse(port, PREFLIGHT)
    [(start, received, body)] = cors_upstream.requests
    sent_start, sent = parse_head(PREFLIGHT.removesuffix(b"\r\n\r\n"))
    assert start == sent_start
    # uvicorn hands the app lower-cased names; values, order and duplicates are the browser's.
    hop_by_hop = {"connection", "x-browser-hop"}
    # Equal lists: nothing added either (no User-Agent, Accept-Encoding, Via, X-Forwarded-*).
    assert received == [(k.lower(), v) for k, v in sent if k.lower() not in hop_by_hop]
    assert ("host", "api.example.com:8443") in received
    assert body == b""


def test_the_upstream_answer_reaches_the_browser_and_the_record(
    cors_upstream: RawUpstream,
) -> None:
    with recording_proxy(cors_upstream.url) as (port, recorder):
        start, headers, body, _ = browse(port, PREFLIGHT)
    _, answered = parse_head(CORS_ANSWER.partition(b"\r\n\r\n")[0])
    end_to_end = [(k, v) for k, v in answered if k.lower() not in HOP_BY_HOP]
    assert start == b"HTTP/1.1 200 OK"
    # The browser gets the same fields; only the names' case is the server layer's (see below).
    assert headers == [(k.lower(), v) for k, v in end_to_end]
    assert [v for k, v in headers if k == "access-control-allow-origin"] == [
        "https://app.example.com",
        "https://other.example.com",
    ]
    assert [v for k, v in headers if k == "set-cookie"] == [
        "session=abc; Path=/; HttpOnly; SameSite=None; Secure",
        "theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
    ]
    assert body == b"[]"
    [exchange] = recorder.all()
    assert exchange.probe == "p1"
    assert exchange.preflight
    assert exchange.status == 200
    assert exchange.response_headers == end_to_end
    assert exchange.server_exception is None


def test_the_target_goes_on_as_received() -> None:
    # httpx's URL would resolve the dot segment and percent-encode the quotes.
    target = b'/static/../items/?q="x"&y=%zz|{}'
    with (
        RawUpstream({b"/static/../items/": CORS_ANSWER}).running() as upstream,
        recording_proxy(upstream.url) as (port, _),
    ):
        browse(port, b"GET %b HTTP/1.1\r\nHost: api.example.com\r\n\r\n" % target)
    assert upstream.requests[0][0] == b"GET %b HTTP/1.1" % target


def test_a_redirect_is_passed_on_not_followed() -> None:
    answer = (
        b"HTTP/1.1 302 Found\r\n"
        b"Location: /landing?from=%2Flogin\r\n"
        b"Access-Control-Allow-Origin: *\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )
    with (
        RawUpstream({b"/login": answer, b"/landing": CORS_ANSWER}).running() as upstream,
        recording_proxy(upstream.url) as (port, _),
    ):
        start, headers, _, _ = browse(port, b"GET /login HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    assert start == b"HTTP/1.1 302 Found"
    assert headers[:2] == [
        ("location", "/landing?from=%2Flogin"),
        ("access-control-allow-origin", "*"),
    ]
    assert [r[0] for r in upstream.requests] == [b"GET /login HTTP/1.1"]


def test_a_gzip_body_arrives_byte_for_byte() -> None:
    content = gzip.compress(b'{"items": [1, 2, 3]}' * 200)
    answer = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n"
        b"\r\n%b" % (len(content), content)
    )
    request = b"GET /data HTTP/1.1\r\nHost: api.example.com\r\nAccept-Encoding: gzip, br\r\n\r\n"
    with (
        RawUpstream({b"/data": answer}).running() as upstream,
        recording_proxy(upstream.url) as (port, _),
    ):
        _, headers, body, _ = browse(port, request)
    assert body == content
    assert headers == [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
        ("content-length", str(len(content))),
    ]
    assert upstream.requests[0][1] == [("host", "api.example.com"), ("accept-encoding", "gzip, br")]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_request_body_is_forwarded_intact(chunked: bool) -> None:
    content = bytes(range(256)) * 64
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(content)
    payload = b"%x\r\n%b\r\n0\r\n\r\n" % (len(content), content) if chunked else content
    request = (
        b"POST /upload HTTP/1.1\r\nHost: api.example.com\r\n%b\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n%b" % (framing, payload)
    )
    answer = b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
    with (
        RawUpstream({b"/upload": answer}).running() as upstream,
        recording_proxy(upstream.url) as (port, _),
    ):
        start, _, _, _ = browse(port, request)
    assert start == b"HTTP/1.1 204 No Content"
    [(_, received, body)] = upstream.requests
    assert body == content
    # The body keeps its framing: Content-Length in place, or chunked again after the rest.
    content_type = ("content-type", "application/octet-stream")
    if chunked:
        assert received == [
            ("host", "api.example.com"),
            content_type,
            ("transfer-encoding", "chunked"),
        ]
    else:
        length = ("content-length", str(len(content)))
        assert received == [("host", "api.example.com"), length, content_type]


def test_a_refused_connection_is_the_exchange_server_exception() -> None:
    # Bound but not listening: the port is ours, and connecting to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        upstream = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with recording_proxy(upstream) as (port, recorder):
            start, _, _, _ = browse(port, b"GET /items/ HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    assert start == b"HTTP/1.1 500 Internal Server Error"
    [exchange] = recorder.all()
    assert exchange.status is None
    assert exchange.server_exception == (
        f"cors_harness.upstream.UpstreamUnavailable: upstream {upstream} refused the connection "
        "(GET /items/)"
    )


def test_a_silent_upstream_times_out() -> None:
    # Listening, never accepting: the kernel completes the handshake and nothing answers.
    with listen([0], name="silent") as [silent]:
        upstream = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with recording_proxy(upstream, timeout_s=0.5) as (port, recorder):
            started = time.monotonic()
            start, _, _, _ = browse(port, b"GET /slow HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            elapsed = time.monotonic() - started
    assert start == b"HTTP/1.1 500 Internal Server Error"
    assert 0.4 < elapsed < 2
    [exchange] = recorder.all()
    assert exchange.server_exception == (
        f"cors_harness.upstream.UpstreamUnavailable: upstream {upstream} did not answer within "
        "0.5 s (GET /slow)"
    )


def test_an_upstream_that_breaks_mid_body_is_the_exchange_server_exception() -> None:
    broken = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
    with (
        RawUpstream({b"/broken": broken}).running() as upstream,
        recording_proxy(upstream.url) as (port, recorder),
        socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock,
    ):
        sock.sendall(b"GET /broken HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    # The head was already out: the browser sees a body cut short, the record says why.
    assert received == b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b"
    [exchange] = recorder.all()
    assert exchange.status == 200
    assert exchange.server_exception is not None
    assert f"upstream {upstream.url} broke the exchange: peer closed connection" in (
        exchange.server_exception
    )


def test_what_the_server_layer_changes_on_the_way_to_the_browser() -> None:
    """uvicorn/httptools, not the proxy: lower-cased names, its own reason phrase and framing.

    The record keeps the upstream's names as sent; a browser compares names case-insensitively.
    """
    answer = (
        b"HTTP/1.1 200 Fine Thanks\r\n"
        b"ACCESS-CONTROL-ALLOW-ORIGIN: *\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    with (
        RawUpstream({b"/x": answer}).running() as upstream,
        recording_proxy(upstream.url) as (port, recorder),
    ):
        _, _, body, raw = browse(port, b"GET /x? HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    assert raw.partition(b"\r\n\r\n")[0] == (
        b"HTTP/1.1 200 OK\r\naccess-control-allow-origin: *\r\ntransfer-encoding: chunked"
    )
    assert body == b"ok"
    assert recorder.all()[0].response_headers == [("ACCESS-CONTROL-ALLOW-ORIGIN", "*")]
    # ASGI has no place for an empty query: "/x?" reaches the app, and the upstream, as "/x".
    assert upstream.requests[0][0] == b"GET /x HTTP/1.1"


def test_an_upstream_with_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="give scheme://host:port only"):
        UpstreamProxy("http://127.0.0.1:8000/api")


def test_a_websocket_is_not_proxied() -> None:
    async def never() -> dict[str, object]:
        raise AssertionError("not received")

    async def nowhere(message: object) -> None:
        raise AssertionError("not sent")

    proxy = UpstreamProxy("http://127.0.0.1:8000")
    with pytest.raises(UpstreamUnavailable, match="websocket connection is not proxied"):
        asyncio.run(proxy({"type": "websocket"}, never, nowhere))
    asyncio.run(proxy.aclose())
