"""A scenario's servers in a child process of their own, so nothing a scenario configures can
stall the harness.

The backend runs what the scenario configures: an `allow_origin_regex` that backtracks
catastrophically is legitimate configuration, and Python's `re` holds the interpreter while it
matches. In the harness's own process that would stop every timer and every browser call of the
run; in a child process it only stops that child, which the harness kills when it does not answer
in time (the scenario's cells become `error`), and the next scenario gets a fresh one.

Parent and child speak JSON lines over the child's stdin and stdout. The child exits when its
stdin closes, so it cannot outlive the harness even when the harness is killed.

    python -m cors_harness.server_process     (the child; started by `ServerProcess`)
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cors_harness._exceptions import FixtureError
from cors_harness.results import Exchange

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    from cors_harness._backend.layers import LayerSpec, RawRouteSpec
    from cors_harness.tls import ServerCertificate

# Longer than the recorder's wait for a response head to settle (recorder.SETTLE_S).
ANSWER_TIMEOUT_S = 8.0
START_TIMEOUT_S = 20.0


class ServerProcess:
    """The parent's handle on one child: start, ask, and kill it, each bounded in time.

    It is the scenario's evidence too (`for_probe`, `all`): once the child stops answering,
    `failure` says why, and the cells that needed it become `error`.
    """

    def __init__(self, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.answer_timeout_s = answer_timeout_s
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cors_harness.server_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            # Its own session: a Ctrl-C in the terminal reaches the harness, which stops the
            # child itself, instead of killing it in the middle of an answer.
            start_new_session=True,
        )
        self._buffer = b""
        # The browsers ask for their evidence from threads of their own: one question at a time.
        self._asking = threading.Lock()
        self.failure: str | None = None
        self._started = False

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def open(
        self,
        name: str,
        frontends: Sequence[tuple[int, bool]],
        backends: Sequence[tuple[int, bool]] = (),
        certificate: ServerCertificate | None = None,
    ) -> tuple[list[int], list[int]]:
        """Bind the frontends and the fixture backends, each (port, over TLS), 0 for a port
        chosen now; return their ports. TLS servers use `certificate`."""
        answer = self._ask(
            {
                "op": "open",
                "name": name,
                "frontends": [list(f) for f in frontends],
                "backends": [list(b) for b in backends],
                "certificate": None
                if certificate is None
                else [str(certificate.key_file), str(certificate.chain_file)],
            },
            START_TIMEOUT_S if not self._started else self.answer_timeout_s,
        )
        self._started = True
        return [int(p) for p in answer["frontend_ports"]], [int(p) for p in answer["backend_ports"]]

    def configure(
        self,
        cors: dict[str, Any] | None,
        layers: Sequence[LayerSpec],
        routes: Sequence[RawRouteSpec],
        backend: int = 0,
    ) -> None:
        """Build fixture backend number `backend` with real origins in place of placeholders."""
        self._ask(
            {
                "op": "configure",
                "backend": backend,
                "cors": cors,
                "layers": [[la.kind, la.placement, la.header, la.value] for la in layers],
                "routes": [
                    {
                        "path": r.path,
                        "preflight": [r.preflight.status, r.preflight.headers],
                        "response": [r.response.status, r.response.headers],
                    }
                    for r in routes
                ],
            },
            self.answer_timeout_s,
        )

    def close_servers(self) -> bool:
        """Stop the servers `open` started and forget what they recorded, keeping the process
        (its imports done) for the next scenario; False when it cannot be trusted with one."""
        if self.failure is not None or self.process.poll() is not None:
            return False
        try:
            self._ask({"op": "close"}, self.answer_timeout_s)
        except FixtureError:
            return False
        return True

    def for_probe(self, probe: str, backend: int = 0) -> list[Exchange]:
        return self._exchanges({"op": "for_probe", "probe": probe, "backend": backend})

    def all(self, backend: int = 0) -> list[Exchange]:
        return self._exchanges({"op": "all", "backend": backend})

    def _exchanges(self, command: dict[str, Any]) -> list[Exchange]:
        if self.failure is not None:
            return []
        try:
            answer = self._ask(command, self.answer_timeout_s)
        except FixtureError:
            return []
        return [Exchange.model_validate(e) for e in answer["exchanges"]]

    def stop(self) -> None:
        """Ask the child to stop its servers and exit; kill it if it does not within a second."""
        if self.process.poll() is None and self.failure is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._stderr.close()

    def _kill(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def _fail(self, reason: str) -> FixtureError:
        """Kill a child that cannot be trusted any more; every later question fails at once."""
        if self.failure is None:
            self.failure = reason
        self._kill()
        return FixtureError(self.failure)

    def _ask(self, command: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self._asking:
            return self._ask_alone(command, timeout_s)

    def _ask_alone(self, command: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if self.failure is not None:
            raise FixtureError(self.failure)
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            raise self._fail(f"the scenario's servers exited: {self._last_words()}") from None
        line = self._read_line(timeout_s, command["op"])
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise FixtureError(str(answer["error"]))
        return answer

    def _read_line(self, timeout_s: float, op: str) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise self._fail(
                        f"the scenario's servers did not answer {op!r} within {timeout_s:g} s "
                        "(a handler or an allow_origin_regex holding the interpreter?)"
                    )
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise self._fail(f"the scenario's servers exited: {self._last_words()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _last_words(self) -> str:
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        status = self.process.poll()
        return f"exit status {status}" + (f"; {lines[-1].strip()}" if lines else "")


class ServerPool:
    """Children kept from one scenario to the next, so that each scenario does not pay for a new
    interpreter and its imports (about half a second of CPU): a child whose scenario ended is
    asked to close its servers and, if it answers in time, serves the next one; one that does
    not is killed. One spare is started ahead, while the browsers launch."""

    def __init__(self, spare: bool = True, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.answer_timeout_s = answer_timeout_s
        self._idle: list[ServerProcess] = []
        self._lock = threading.Lock()
        self._closed = False
        if spare:
            self._idle.append(ServerProcess(answer_timeout_s))

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def child(self) -> Iterator[ServerProcess]:
        """A child for one scenario's servers; back to the pool when the block ends."""
        with self._lock:
            child = self._idle.pop() if self._idle else None
        if child is None:
            child = ServerProcess(self.answer_timeout_s)
        try:
            yield child
        finally:
            kept = child.close_servers()
            with self._lock:
                if kept and not self._closed:
                    self._idle.append(child)
                    child = None
            if child is not None:
                child.stop()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.stop()


def _child() -> None:
    """The child's loop: one command per stdin line, one JSON answer per stdout line."""
    from cors_harness._backend.app import create_app
    from cors_harness._backend.layers import LayerSpec, RawAnswer, RawRouteSpec
    from cors_harness.frontend import create_frontend_app
    from cors_harness.recorder import Recorder
    from cors_harness.server import Deferred, serve, serve_frontends
    from cors_harness.tls import ServerCertificate

    out = sys.stdout.buffer
    # Nothing else may write to the channel.
    sys.stdout = sys.stderr
    # One recorder per fixture backend, each around an app built once the origins are known.
    deferred: list[Deferred] = []
    recorders: list[Recorder] = []
    # One scenario's servers at a time; "close" ends them and the process serves the next.
    stack = ExitStack()
    with ExitStack() as process:
        process.callback(lambda: stack.close())
        for raw in sys.stdin.buffer:
            command = json.loads(raw)
            op = command["op"]
            answer: dict[str, Any] = {}
            try:
                if op == "open":
                    name = command["name"]
                    paths = command["certificate"]
                    certificate = None if paths is None else ServerCertificate(*map(Path, paths))
                    # Ports chosen now are never bound again: their servers stop without being
                    # waited for. A fixed port is, by the next scenario: wait for its release.
                    fixed = any(port for port, _ in [*command["frontends"], *command["backends"]])
                    answer["frontend_ports"] = stack.enter_context(
                        serve_frontends(
                            create_frontend_app(),
                            [(port, tls) for port, tls in command["frontends"]],
                            name=f"{name}-frontends",
                            certificate=certificate,
                            wait=fixed,
                        )
                    )
                    answer["backend_ports"] = []
                    for index, (port, tls) in enumerate(command["backends"]):
                        deferred.append(Deferred())
                        recorders.append(Recorder(deferred[-1]))
                        (bound,) = stack.enter_context(
                            serve(
                                recorders[-1],
                                ports=[port],
                                name=f"{name}-backend-{index}",
                                certificate=certificate if tls else None,
                                wait=fixed,
                            )
                        )
                        answer["backend_ports"].append(bound)
                elif op == "configure":
                    layers = [LayerSpec(*la) for la in command["layers"]]
                    routes = [
                        RawRouteSpec(
                            r["path"],
                            RawAnswer(r["preflight"][0], [tuple(h) for h in r["preflight"][1]]),
                            RawAnswer(r["response"][0], [tuple(h) for h in r["response"][1]]),
                        )
                        for r in command["routes"]
                    ]
                    deferred[command["backend"]].app = create_app(command["cors"], layers, routes)
                elif op == "close":
                    stack.close()
                    stack = ExitStack()
                    deferred.clear()
                    recorders.clear()
                elif op == "for_probe":
                    found = recorders[command["backend"]].for_probe(command["probe"])
                    answer["exchanges"] = [e.model_dump(mode="json") for e in found]
                elif op == "all":
                    found = recorders[command["backend"]].all()
                    answer["exchanges"] = [e.model_dump(mode="json") for e in found]
                else:
                    answer["error"] = f"unknown command {op!r}"
            except Exception as exc:
                answer = {"error": f"{op}: {type(exc).__name__}: {exc}"}
            out.write(json.dumps(answer).encode() + b"\n")
            out.flush()


if __name__ == "__main__":
    try:
        _child()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["ServerPool", "ServerProcess"]
