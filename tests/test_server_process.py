"""The scenario's servers in their own process: exact bytes on the wire, failures as evidence,
and a backend that spins cannot stall the harness."""

from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.request

from cors_harness._backend.layers import RawAnswer, RawRouteSpec
from cors_harness.server_process import ServerPool, ServerProcess


def raw_get(port: int, target: str, origin: str) -> bytes:
    """The response exactly as it arrived on the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: {origin}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_raw_route_sends_whitespace_around_values_exactly() -> None:
    origin = "http://localhost:1"
    route = RawRouteSpec(
        "/raw/ws",
        RawAnswer(204, []),
        RawAnswer(200, [("Access-Control-Allow-Origin", f" {origin}\t"), ("X-Two", "a ,  b ")]),
    )
    with ServerProcess() as child:
        _, (port,) = child.open("ws", [(0, False)], [(0, False)])
        child.configure(None, [], [route])
        wire = raw_get(port, "/raw/ws?cors_probe=w1", origin)
        (exchange,) = child.for_probe("w1")
    head = wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 200 OK"
    # Header names go out lower-cased; the values byte for byte, whitespace included.
    assert f"access-control-allow-origin:  {origin}\t".encode() in head
    assert b"x-two: a ,  b " in head
    assert exchange.send_error is None
    assert exchange.response_header("access-control-allow-origin") == [f" {origin}\t"]


def test_a_head_the_server_cannot_send_is_recorded_as_not_sent() -> None:
    route = RawRouteSpec("/raw/bad", RawAnswer(204, []), RawAnswer(200, [("X-Bad", "a\x01b")]))
    with ServerProcess() as child:
        _, (port,) = child.open("bad", [(0, False)], [(0, False)])
        child.configure(None, [], [route])
        wire = raw_get(port, "/raw/bad?cors_probe=b1", "http://localhost:1")
        (exchange,) = child.for_probe("b1")
    assert b"x-bad" not in wire.lower()
    assert exchange.send_error is not None
    assert "Invalid HTTP header value" in exchange.send_error


def test_a_backtracking_regex_stalls_only_the_child() -> None:
    # Catastrophic backtracking: Python's re holds the interpreter for as long as it matches.
    cors = {
        "allow_origins": [],
        "allow_origin_regex": r"(a+)+$",
        "allow_methods": ["GET"],
        "allow_headers": [],
        "allow_credentials": False,
        "allow_private_network": False,
        "expose_headers": [],
        "max_age": 600,
    }
    started = time.monotonic()
    with ServerProcess(answer_timeout_s=2) as child:
        _, (port,) = child.open("regex", [(0, False)], [(0, False)])
        child.configure(cors, [], [])
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/?cors_probe=r1", headers={"Origin": "a" * 40 + "!"}
        )
        try:
            urllib.request.urlopen(request, timeout=1).close()
        except (TimeoutError, urllib.error.URLError):
            pass
        else:
            raise AssertionError("the spinning backend answered")
        # This process kept running its own timers; the child is asked, gives no answer in
        # time, and is killed.
        assert child.for_probe("r1") == []
        assert child.failure is not None
        assert "did not answer 'for_probe' within 2 s" in child.failure
        pid = child.process.pid
        assert child.process.poll() is not None
    assert time.monotonic() - started < 10
    assert not os.path.exists(f"/proc/{pid}")


def test_a_pooled_child_serves_the_next_scenario_and_a_broken_one_is_replaced() -> None:
    with ServerPool(spare=False) as pool:
        with pool.child() as first:
            _, (port,) = first.open("one", [(0, False)], [(0, False)])
            first.configure(None, [], [])
        with pool.child() as second:
            # The same process, its servers closed and opened anew.
            assert second is first
            _, (again,) = second.open("two", [(0, False)], [(0, False)])
            second.configure(None, [], [])
            assert again != port
            assert second.all() == []
            # The first scenario's backend is gone, shortly: its server was not waited for.
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except ConnectionRefusedError:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"port {port} still accepts connections")
            second._kill()
        with pool.child() as third:
            assert third is not first
            assert first.process.poll() is not None
