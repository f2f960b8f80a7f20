"""A real uvicorn server in a thread, on loopback sockets bound to port 0."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn

from cors_harness._exceptions import FixtureError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = "127.0.0.1"


class Deferred:
    """An ASGI app filled in once the server's port is known (origins name the backend port)."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Receive, Send], Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "backend app not set"
        await self.app(scope, receive, send)


@contextmanager
def serve(
    app: ASGIApp, *, ports: Sequence[int] = (0,), name: str = "server"
) -> Iterator[list[int]]:
    """Serve `app` on loopback, one socket per port (0: the OS picks); yield the ports bound.

    Stops on every path. A fixed port is only bound when a user asks for one.
    """
    with ExitStack() as stack:
        bound: list[socket.socket] = []
        for port in ports:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            # As uvicorn does: a fixed port whose last connections are in TIME_WAIT can be reused.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, port))
            except OSError as exc:
                raise FixtureError(
                    f"{name}: cannot listen on {LOOPBACK}:{port}: {exc.strerror}"
                ) from None
            sock.listen(128)
            bound.append(sock)
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # httptools writes header names and values exactly as given (h11 refuses whitespace
            # around a value, an edge case the Fetch standard's tests use), and without Date or
            # Server of its own the recorded headers are what went over the wire.
            http="httptools",
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": bound}, name=f"uvicorn-{name}", daemon=True
        )
        thread.start()

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=5)

        stack.callback(stop)
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise FixtureError(f"uvicorn for {name} did not start on {LOOPBACK}")
            time.sleep(0.002)
        yield [sock.getsockname()[1] for sock in bound]
