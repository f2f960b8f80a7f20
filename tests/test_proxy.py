"""The mapping proxy: production host names to local ports, every byte as sent both ways."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
import urllib.request
from contextlib import ExitStack, suppress
from typing import TYPE_CHECKING

import pytest

from cors_harness import proxy as proxy_module
from cors_harness.proxy import STOP_S, MappingProxy
from cors_harness.server import serve

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    from starlette.types import ASGIApp, Receive, Scope, Send

CONNECTED = b"HTTP/1.1 200 Connection Established\r\n\r\n"
# Long enough for anything on loopback, short enough that a hang fails the test quickly.
WAIT_S = 5


@pytest.fixture
def proxy() -> Iterator[MappingProxy]:
    with MappingProxy() as proxy:
        yield proxy


def client(proxy: MappingProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_S)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection closed after {len(data)} of {size} bytes: {data!r}"
        data += chunk
    return data


def direct(request: bytes, origin: bytes = b"http://app.example.com") -> bytes:
    """`request` as a direct connection carries it: the target in origin-form."""
    return request.replace(origin, b"", 1)


def recv_all(sock: socket.socket) -> bytes:
    """Everything until the other side closes."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class RawUpstream:
    """A server on one connection that answers with exactly the bytes given.

    For each (request, answer) it waits until it has received the request's length in all,
    then writes the answer; `received` is the whole stream, to compare with what was meant.
    With `close`, it closes after the last answer; otherwise it reads until the peer closes.
    """

    def __init__(self, exchanges: Sequence[tuple[bytes, bytes]], *, close: bool = False) -> None:
        self.exchanges = exchanges
        self.close = close
        self.received = b""
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT_S)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawUpstream:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.thread.join(WAIT_S)
        self.listener.close()
        assert not self.thread.is_alive(), "the upstream connection was not closed"

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(WAIT_S)
            expected = 0
            for request, answer in self.exchanges:
                expected += len(request)
                while len(self.received) < expected:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.received += chunk
                conn.sendall(answer)
            if self.close:
                return
            # The proxy aborts connections it shuts down: a reset is an end too.
            with suppress(ConnectionResetError):
                while chunk := conn.recv(65536):
                    self.received += chunk


class Echo:
    """A TCP server that sends back what it receives and says "bye" once its peer is done."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT_S)
        self.port: int = self.listener.getsockname()[1]
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Echo:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join(WAIT_S)
        self.listener.close()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(WAIT_S)
            # The proxy aborts connections it shuts down or finds idle: that is an end too.
            with suppress(ConnectionError):
                while chunk := conn.recv(65536):
                    conn.sendall(chunk)
                conn.sendall(b"bye")
        self.ended.set()


def echo_app(name: str) -> ASGIApp:
    """An app that answers with what it received, as JSON, and which server it is."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answer = {
            "server": name,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode(),
            "client_port": scope["client"][1],
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    return app


def header(answer: dict[str, object], name: str) -> list[str]:
    headers = answer["headers"]
    assert isinstance(headers, list)
    return [value for key, value in headers if key == name]


def test_connect_splices_bytes_both_ways_and_passes_the_half_close_on(
    proxy: MappingProxy,
) -> None:
    payload = bytes(range(256)) * 1024  # every byte value, many reads' worth
    with Echo() as echo, client(proxy) as sock:
        proxy.map("API.example.com", 443, echo.port)
        sock.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
        assert recv_exactly(sock, len(CONNECTED)) == CONNECTED
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        assert recv_exactly(sock, len(payload)) == payload
        sender.join(WAIT_S)
        sock.shutdown(socket.SHUT_WR)
        # The echo server saw the browser's half-close, answered after it, and closed.
        assert recv_all(sock) == b"bye"
        assert echo.ended.wait(WAIT_S)
    assert proxy.refused == []


def test_a_real_client_speaks_http_through_a_connect_tunnel(proxy: MappingProxy) -> None:
    with serve(echo_app("api"), name="api") as [port]:
        proxy.map("api.example.com", 8443, port)
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=WAIT_S)
        conn.set_tunnel("api.example.com", 8443)
        try:
            conn.request("GET", "/tunnelled?x=1", headers={"Origin": "https://app.example.com"})
            answer = json.loads(conn.getresponse().read())
        finally:
            conn.close()
    assert (answer["server"], answer["path"], answer["query"]) == ("api", "/tunnelled", "x=1")
    assert header(answer, "host") == ["api.example.com:8443"]
    assert header(answer, "origin") == ["https://app.example.com"]


def test_connect_to_a_host_not_in_the_run_is_refused_and_recorded(proxy: MappingProxy) -> None:
    with client(proxy) as sock:
        sock.sendall(b"CONNECT Telemetry.example.net:443 HTTP/1.1\r\n\r\n")
        answer = recv_all(sock)
    assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert answer.endswith(
        b"\r\n\r\ncors-harness proxy: telemetry.example.net:443 is not part of this run\n"
    )
    assert proxy.refused == [("telemetry.example.net", 443)]


def test_a_mapped_port_nobody_serves_is_a_bad_gateway_naming_both(proxy: MappingProxy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as unused:
        free = unused.getsockname()[1]
    proxy.map("api.example.com", 443, free)
    with client(proxy) as sock:
        sock.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
        answer = recv_all(sock)
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert f"api.example.com:443 is served on 127.0.0.1:{free}, which refused".encode() in answer
    assert proxy.refused == []


def test_requests_to_two_hosts_share_one_browser_connection(proxy: MappingProxy) -> None:
    with serve(echo_app("app"), name="app") as [app], serve(echo_app("api"), name="api") as [api]:
        proxy.map("app.example.com", 80, app)
        proxy.map("localhost", 3000, api)
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=WAIT_S)
        answers = []
        try:
            for method, url, body in [
                ("GET", "http://app.example.com/one?q=1", None),
                ("POST", "http://localhost:3000/two", b"sized body"),
                ("POST", "http://app.example.com/three", iter([b"chunked ", b"body"])),
            ]:
                conn.request(method, url, body=body, headers={"Origin": "http://localhost:3000"})
                response = conn.getresponse()
                answers.append(json.loads(response.read()))
                if method == "GET":
                    first_socket = conn.sock
            # http.client opens a new connection whenever one is closed: this is the first.
            assert conn.sock is first_socket
        finally:
            conn.close()
    one, two, three = answers
    assert [(a["server"], a["method"], a["path"]) for a in answers] == [
        ("app", "GET", "/one"),
        ("api", "POST", "/two"),
        ("app", "POST", "/three"),
    ]
    assert one["query"] == "q=1"
    assert [header(a, "host") for a in answers] == [
        ["app.example.com"],
        ["localhost:3000"],
        ["app.example.com"],
    ]
    assert all(header(a, "origin") == ["http://localhost:3000"] for a in answers)
    assert (two["body"], header(two, "content-length")) == ("sized body", ["10"])
    assert (three["body"], header(three, "transfer-encoding")) == ("chunked body", ["chunked"])
    # One connection to the app's server, kept alive across the request to the other.
    assert one["client_port"] == three["client_port"]


# Odd but legal on the way in: whitespace around values, letter case, repeated names, a sized
# body directly followed by the next request, chunk extensions and a trailer.
BROWSER_SENDS = [
    b"GET http://api.example.com/data?x=1&y=%20 HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Proxy-Connection: keep-alive\r\n"
    b"origin:  https://app.example.com \t\r\n"
    b"Cookie: a=1\r\n"
    b"COOKIE: b=2\r\n"
    b"PROXY-AUTHORIZATION: Basic Zm9vOmJhcg==\r\n"
    b"Access-Control-Request-Headers: x-one,  X-Two\r\n"
    b"\r\n",
    b"POST http://api.example.com/form HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Origin: https://app.example.com\r\n"
    b"Content-Length: 12\r\n"
    b"\r\n"
    b"a=1\r\nb=2\r\n\r\n",
    b"PUT http://api.example.com/chunks? HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"proxy-connection: keep-alive\r\n"
    b"\r\n"
    b"5;name=value\r\nhello\r\n"
    b"0\r\nX-Trailer: done\r\n\r\n",
]
SERVER_RECEIVES = [
    b"GET /data?x=1&y=%20 HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"origin:  https://app.example.com \t\r\n"
    b"Cookie: a=1\r\n"
    b"COOKIE: b=2\r\n"
    b"Access-Control-Request-Headers: x-one,  X-Two\r\n"
    b"\r\n",
    b"POST /form HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Origin: https://app.example.com\r\n"
    b"Content-Length: 12\r\n"
    b"\r\n"
    b"a=1\r\nb=2\r\n\r\n",
    b"PUT /chunks? HTTP/1.1\r\n"
    b"Host: api.example.com\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
    b"5;name=value\r\nhello\r\n"
    b"0\r\nX-Trailer: done\r\n\r\n",
]
# And on the way out.
SERVER_ANSWERS = [
    b"HTTP/1.1 200 OK\r\n"
    b"access-control-allow-origin: https://app.example.com\r\n"
    b"Access-Control-Allow-Origin:  \thttps://app.example.com \t\r\n"
    b"ACCESS-CONTROL-ALLOW-CREDENTIALS: true\r\n"
    b"Set-Cookie: a=1; Secure; SameSite=None\r\n"
    b"set-cookie: b=2; Path=/\r\n"
    b"Vary: Origin\r\n"
    b"vary:  Cookie \r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"hello",
    b"HTTP/1.1 201 Made Up Reason\r\nAccess-Control-Expose-Headers: *\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"\r\n"
    b"3;x=y\r\nabc\r\n"
    b"0\r\nServer-Timing: t;dur=1\r\n\r\n",
]


def test_every_byte_goes_through_as_sent_apart_from_the_target_and_proxy_headers(
    proxy: MappingProxy,
) -> None:
    exchanges = list(zip(SERVER_RECEIVES, SERVER_ANSWERS, strict=True))
    with RawUpstream(exchanges) as upstream:
        proxy.map("api.example.com", 80, upstream.port)
        with client(proxy) as sock:
            # All three at once (pipelined): each still reaches the server whole, in turn.
            sock.sendall(b"".join(BROWSER_SENDS))
            answers = recv_exactly(sock, len(b"".join(SERVER_ANSWERS)))
    assert answers == b"".join(SERVER_ANSWERS)
    assert upstream.received == b"".join(SERVER_RECEIVES)


def test_an_answer_ended_by_closing_arrives_whole_and_closes(proxy: MappingProxy) -> None:
    request = b"GET http://app.example.com/stream HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n\r\nuntil the end\r\n"
    with RawUpstream([(direct(request), answer)], close=True) as up:
        proxy.map("app.example.com", 80, up.port)
        with client(proxy) as sock:
            sock.sendall(request)
            assert recv_all(sock) == answer


FOLLOW_UP = b"GET http://app.example.com/next HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
FOLLOW_UP_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nVary: Origin\r\n\r\n"),
        ("GET", b'HTTP/1.1 304 Not Modified\r\nETag: "1"\r\nContent-Length: 5\r\n\r\n'),
        ("DELETE", b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n"),
        (
            "GET",
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        ),
    ],
    ids=["HEAD", "304", "204", "103-then-200"],
)
def test_answers_without_a_body_end_where_http_says(
    proxy: MappingProxy, method: str, answer: bytes
) -> None:
    request = f"{method} http://app.example.com/x HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
    exchanges = [
        (direct(request.encode()), answer),
        (direct(FOLLOW_UP), FOLLOW_UP_ANSWER),
    ]
    with RawUpstream(exchanges) as upstream:
        proxy.map("app.example.com", 80, upstream.port)
        with client(proxy) as sock:
            sock.sendall(request.encode())
            assert recv_exactly(sock, len(answer)) == answer
            # Had the proxy waited for a body, this would never reach the server.
            sock.sendall(FOLLOW_UP)
            assert recv_exactly(sock, len(FOLLOW_UP_ANSWER)) == FOLLOW_UP_ANSWER


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (b"garbage\r\n\r\n", b"malformed request: Invalid method encountered"),
        (b"GET / HTTP/1.1\nHost: app.example.com\n\n", b"malformed request: Expected CRLF"),
        (
            b"POST http://app.example.com/ HTTP/1.1\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"malformed request: Transfer-Encoding can't be present with Content-Length",
        ),
        (
            b"GET /index.html HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
            b"request target '/index.html' is not absolute: this is a forward proxy",
        ),
        (
            b"GET https://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
            b"only http:// and ws:// are forwarded; https and wss go through CONNECT",
        ),
        (b"CONNECT app.example.com HTTP/1.1\r\n\r\n", b"'app.example.com' is not host:port"),
    ],
    ids=["not-http", "bare-lf", "length-and-chunked", "origin-form", "https-target", "no-port"],
)
def test_a_request_the_proxy_cannot_forward_is_a_400_then_closed(
    proxy: MappingProxy, request_bytes: bytes, reason: bytes
) -> None:
    proxy.map("app.example.com", 80, 9)  # never reached
    with client(proxy) as sock:
        sock.sendall(request_bytes)
        answer = recv_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nConnection: close\r\n" in answer
    assert reason in answer
    assert proxy.refused == []


def test_a_body_held_back_for_100_continue_follows_it(proxy: MappingProxy) -> None:
    head = (
        b"POST http://app.example.com/upload HTTP/1.1\r\nHost: app.example.com\r\n"
        b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    )
    go_on = b"HTTP/1.1 100 Continue\r\n\r\n"
    done = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with RawUpstream([(direct(head), go_on), (b"data", done)]) as upstream:
        proxy.map("app.example.com", 80, upstream.port)
        with client(proxy) as sock:
            sock.sendall(head)
            # The interim answer comes back while the request is still open.
            assert recv_exactly(sock, len(go_on)) == go_on
            sock.sendall(b"data")
            assert recv_exactly(sock, len(done)) == done


def test_an_upgrade_turns_the_connection_into_a_tunnel(proxy: MappingProxy) -> None:
    head = (
        b"GET http://app.example.com/socket HTTP/1.1\r\nHost: app.example.com\r\n"
        b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    switched = (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    )
    frames = bytes(range(256))  # not HTTP in either direction
    with RawUpstream([(direct(head), switched), (frames, frames[::-1])]) as upstream:
        proxy.map("app.example.com", 80, upstream.port)
        with client(proxy) as sock:
            sock.sendall(head)
            assert recv_exactly(sock, len(switched)) == switched
            sock.sendall(frames)
            assert recv_exactly(sock, len(frames)) == frames[::-1]
    assert upstream.received == direct(head) + frames


def test_a_connection_silent_both_ways_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy_module, "IDLE_S", 0.2)
    with Echo() as echo, MappingProxy() as proxy, client(proxy) as sock:
        proxy.map("api.example.com", 443, echo.port)
        sock.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
        assert recv_exactly(sock, len(CONNECTED)) == CONNECTED
        started = time.monotonic()
        assert sock.recv(1) == b""
        assert time.monotonic() - started < WAIT_S
        assert echo.ended.wait(WAIT_S)


def test_unmap_refuses_the_host_from_then_on(proxy: MappingProxy) -> None:
    request = b"GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
    answer = b"HTTP/1.1 204 No Content\r\n\r\n"
    with RawUpstream([(direct(request), answer)]) as upstream:
        proxy.map("App.Example.COM", 80, upstream.port)
        with client(proxy) as sock:
            sock.sendall(request)
            assert recv_exactly(sock, len(answer)) == answer
    proxy.unmap("APP.example.com", 80)
    with client(proxy) as sock:
        sock.sendall(request)
        assert recv_all(sock).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert proxy.refused == [("app.example.com", 80)]


def test_shutdown_with_a_tunnel_open_and_an_answer_pending_is_prompt() -> None:
    request = b"GET http://slow.example.com/ HTTP/1.1\r\nHost: slow.example.com\r\n\r\n"
    # The server takes the request and never answers.
    silent = RawUpstream([(direct(request, b"http://slow.example.com"), b"")])
    with Echo() as echo, silent, ExitStack() as sockets:
        with MappingProxy() as proxy:
            proxy.map("api.example.com", 443, echo.port)
            proxy.map("slow.example.com", 80, silent.port)
            tunnel = sockets.enter_context(client(proxy))
            waiting = sockets.enter_context(client(proxy))
            tunnel.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\n\r\n")
            assert recv_exactly(tunnel, len(CONNECTED)) == CONNECTED
            tunnel.sendall(b"mid-transfer")
            assert recv_exactly(tunnel, 12) == b"mid-transfer"
            waiting.sendall(request)
            deadline = time.monotonic() + WAIT_S
            while len(silent.received) < len(request) - len(b"http://slow.example.com"):
                assert time.monotonic() < deadline, "the request never reached the server"
                time.sleep(0.01)
            started = time.monotonic()
        took = time.monotonic() - started
        assert tunnel.recv(1) == b""
        assert waiting.recv(1) == b""
        assert echo.ended.wait(WAIT_S)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_S)
    assert took < STOP_S


def test_a_real_client_reaches_a_production_host_name(
    proxy: MappingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # urllib would go direct (and fail to resolve the name) for a host listed in no_proxy.
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxy.port}"})
    )
    request = urllib.request.Request(
        "http://app.example.com/x?y=1", headers={"Origin": "http://localhost:3000"}
    )
    with serve(echo_app("app"), name="app") as [port]:
        proxy.map("app.example.com", 80, port)
        with opener.open(request, timeout=WAIT_S) as response:
            assert response.status == 200
            answer = json.loads(response.read())
    assert (answer["server"], answer["path"], answer["query"]) == ("app", "/x", "y=1")
    assert header(answer, "host") == ["app.example.com"]
    assert header(answer, "origin") == ["http://localhost:3000"]


def test_nothing_is_printed_or_logged(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request = b"GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
    answer = b"HTTP/1.1 204 No Content\r\n\r\n"
    with RawUpstream([(direct(request), answer)]) as upstream:
        with MappingProxy() as proxy:
            proxy.map("app.example.com", 80, upstream.port)
            with client(proxy) as sock:
                sock.sendall(request)
                assert recv_exactly(sock, len(answer)) == answer
            for refused in [b"CONNECT elsewhere.example:443 HTTP/1.1\r\n\r\n", b"nonsense\r\n\r\n"]:
                with client(proxy) as sock:
                    sock.sendall(refused)
                    recv_all(sock)
            # Left open: closed by the shutdown.
            open_connection = client(proxy)
        open_connection.close()
    assert capfd.readouterr() == ("", "")
    assert caplog.records == []


def test_map_refuses_what_is_not_a_port() -> None:
    proxy = MappingProxy()
    with pytest.raises(ValueError, match=r"^port of 'app\.example\.com': 0 is not a TCP port"):
        proxy.map("app.example.com", 0, 8000)
    with pytest.raises(ValueError, match=r"^local port for app\.example\.com:443: 70000 is not"):
        proxy.map("app.example.com", 443, 70000)
    with pytest.raises(RuntimeError, match="not started"):
        _ = proxy.port
