"""A real uvicorn server in a thread, on loopback sockets bound to port 0."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, Any

import uvicorn

from cors_harness._exceptions import FixtureError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from cors_harness.tls import ServerCertificate

LOOPBACK = "127.0.0.1"
# How long a server may take to start (an app's lifespan start-up included) and to stop.
START_S = 10
STOP_S = 5


class Deferred:
    """An ASGI app filled in once the server's port is known (origins name the backend port)."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Receive, Send], Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "backend app not set"
        await self.app(scope, receive, send)


class _Lifespan:
    """Runs the app's lifespan under uvicorn's lifespan="on", keeping why it failed.

    uvicorn's "auto" takes any exception in the lifespan for "protocol unsupported" and serves
    on without the app's start-up, so every request that needs it fails (a 500, read as a
    blocked response); "on" stops at a failed start-up but only logs why. An app without a
    lifespan says so by raising on the scope before it receives anything: for it, this layer
    answers the protocol itself, as "auto" would.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.started = False
        self.stopped = False
        self.startup_failure: str | None = None
        self.shutdown_failure: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        received = False

        async def receiving() -> Message:
            nonlocal received
            received = True
            return await receive()

        async def sending(message: Message) -> None:
            kind = message["type"]
            self.started = self.started or kind == "lifespan.startup.complete"
            self.stopped = self.stopped or kind == "lifespan.shutdown.complete"
            if kind.endswith(".failed"):
                lines = str(message.get("message") or kind).strip().splitlines()
                self._failed(lines[-1] if lines else kind)
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception as exc:
            if not received:
                await self._without_lifespan(receive, sending)
                return
            # Starlette sends the traceback, then re-raises: the exception says it in one line.
            lines = str(exc).strip().splitlines()
            self._failed(f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)
            raise

    def _failed(self, reason: str) -> None:
        if self.started:
            self.shutdown_failure = reason
        else:
            self.startup_failure = reason

    @staticmethod
    async def _without_lifespan(receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})


@contextmanager
def listen(ports: Sequence[int], *, name: str) -> Iterator[list[socket.socket]]:
    """Loopback sockets, one per port (0: the OS picks), listening; closed on every path.

    A fixed port is only bound when a user asks for one.
    """
    with ExitStack() as stack:
        bound: list[socket.socket] = []
        for port in ports:
            # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY)
            # only on sockets whose proto says TCP. With it on, uvicorn's body, written after
            # the headers, waits for the browser's delayed ACK: 40 ms per keep-alive response.
            sock = stack.enter_context(
                socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            )
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
        yield bound


@contextmanager
def serve_on(
    app: ASGIApp,
    sockets: Sequence[socket.socket],
    *,
    name: str,
    lifespan: bool = False,
    certificate: ServerCertificate | None = None,
    wait: bool = True,
) -> Iterator[None]:
    """Serve `app` on `sockets` until the block ends, on every path.

    Without `wait`, the end of the block tells the server to stop and does not wait for it (up
    to uvicorn's 0.1 s poll and the close of its connections): for servers on ports of their
    own, which nothing will bind again, several of which stop together.

    With `lifespan`, the app's start-up completes before this yields and its shutdown runs when
    the block ends; a start-up that fails or does not finish is a FixtureError naming `name`
    and the app's exception, as is a shutdown that fails when the block itself did not.
    """
    guard = _Lifespan(app) if lifespan else None
    config = uvicorn.Config(
        guard or app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        # httptools writes header names and values exactly as given (h11 refuses whitespace
        # around a value, an edge case the Fetch standard's tests use), and without Date or
        # Server of its own the recorded headers are what went over the wire.
        http="httptools",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=1,
        # https: the run's certificate for the scenario's host names (`tls`).
        ssl_keyfile=str(certificate.key_file) if certificate else None,
        ssl_certfile=str(certificate.chain_file) if certificate else None,
    )
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn ends a failed start-up with sys.exit(); in this thread that is only its end.
        with suppress(SystemExit):
            server.run(sockets=list(sockets))

    thread = threading.Thread(target=run, name=f"uvicorn-{name}", daemon=True)
    thread.start()

    def stop(exc_type: type[BaseException] | None, *_: object) -> None:
        server.should_exit = True
        if not wait and guard is None:
            return
        thread.join(timeout=STOP_S)
        # A shutdown problem would hide the error that ended the block; alone, it is the error.
        if guard is None or exc_type is not None:
            return
        if guard.shutdown_failure is not None:
            raise FixtureError(f"{name}: lifespan shutdown failed: {guard.shutdown_failure}")
        if thread.is_alive() and not guard.stopped:
            raise FixtureError(f"{name}: lifespan shutdown did not finish within {STOP_S} s")

    with ExitStack() as stack:
        stack.push(stop)
        deadline = time.monotonic() + START_S
        while not server.started:
            if guard is not None and guard.startup_failure is not None:
                raise FixtureError(f"{name}: lifespan startup failed: {guard.startup_failure}")
            if not thread.is_alive():
                raise FixtureError(f"uvicorn for {name} did not start on {LOOPBACK}")
            if time.monotonic() > deadline:
                if guard is not None and not guard.started:
                    raise FixtureError(
                        f"{name}: lifespan startup did not finish within {START_S} s"
                    )
                raise FixtureError(f"uvicorn for {name} did not start on {LOOPBACK}")
            time.sleep(0.002)
        yield


@contextmanager
def serve(
    app: ASGIApp,
    *,
    ports: Sequence[int] = (0,),
    name: str = "server",
    certificate: ServerCertificate | None = None,
    wait: bool = True,
) -> Iterator[list[int]]:
    """Serve `app` on loopback, one socket per port (0: the OS picks); yield the ports bound.

    Over TLS with `certificate`. Stops on every path (see `serve_on` for `wait`). The app's
    lifespan does not run.
    """
    with (
        listen(ports, name=name) as sockets,
        serve_on(app, sockets, name=name, certificate=certificate, wait=wait),
    ):
        yield [sock.getsockname()[1] for sock in sockets]


@contextmanager
def serve_frontends(
    app: ASGIApp,
    wanted: Sequence[tuple[int, bool]],
    *,
    name: str,
    certificate: ServerCertificate | None,
    wait: bool = True,
) -> Iterator[list[int]]:
    """Serve the frontend pages on each (port, over TLS) wanted; yield the ports, in order.

    One server for the plain ones and one for the TLS ones: uvicorn's TLS is per server.
    """
    ports: list[int] = [0] * len(wanted)
    with ExitStack() as stack:
        for tls in (False, True):
            indexes = [i for i, (_, secure) in enumerate(wanted) if secure is tls]
            if not indexes:
                continue
            if tls and certificate is None:
                raise FixtureError(f"{name}: an https frontend needs the run's certificate")
            bound = stack.enter_context(
                serve(
                    app,
                    ports=[wanted[i][0] for i in indexes],
                    name=f"{name}-{'https' if tls else 'http'}",
                    certificate=certificate if tls else None,
                    wait=wait,
                )
            )
            for i, port in zip(indexes, bound, strict=True):
                ports[i] = port
        yield ports
