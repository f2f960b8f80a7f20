"""A server the harness starts (`command:`), behind the recording proxy: nginx, a Django or Node
server, anything that listens on the port it is given."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from cors_harness._exceptions import FixtureError
from cors_harness.backends.asgi import AsgiBackend
from cors_harness.origins import LOOPBACK
from cors_harness.upstream import UpstreamProxy

if TYPE_CHECKING:
    from contextlib import ExitStack

    from cors_harness.origins import Origins
    from cors_harness.scenario import Backend
    from cors_harness.tls import ServerCertificate

# A command's own placeholders: its port and its directory of files.
COMMAND_PLACEHOLDER = re.compile(r"\{(port|dir)\}")
# Where servers are installed that a user's PATH may leave out (nginx is in /usr/sbin).
SERVER_DIRECTORIES = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# How to get a command the harness knows a scenario of its own needs.
INSTALL_HINTS = {"nginx": "install Debian's nginx (apt-get install nginx; scripts/setup does)"}
# How long a stopping command may take before it is killed, and how much of its output is kept.
STOP_S = 5.0
LAST_LINES = 3


class CommandBackend(AsgiBackend):
    """A server the harness starts: the command listens on 127.0.0.1 at a port chosen now (in
    $PORT and `{port}`); the browser reaches it through the recording proxy, served where the
    browser expects the backend. Stopped (its whole process group) on every path."""

    def __init__(self, name: str, spec: Backend, label: str, directory: str) -> None:
        super().__init__(name, spec, label, self._proxy)
        assert spec.command is not None
        self.command = spec.command
        self.directory = directory or os.getcwd()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._output: Any = None

    def _proxy(self, origins: Origins) -> UpstreamProxy:
        return UpstreamProxy(f"http://{LOOPBACK}:{self.port}")

    def bind(self, stack: ExitStack, port: int) -> int:
        # The command binds its own port: one the OS has just handed out is free in practice.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            self.port = probe.getsockname()[1]
        return super().bind(stack, port)

    def start(
        self, stack: ExitStack, origins: Origins, certificate: ServerCertificate | None
    ) -> None:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cors-harness-"))
        values = {"port": str(self.port), "dir": workdir}

        def render(text: str) -> str:
            return origins.substitute(COMMAND_PLACEHOLDER.sub(lambda m: values[m[1]], text))

        for file_name, text in self.spec.files.items():
            Path(workdir, file_name).write_text(render(text))
        argv = [render(arg) for arg in self.command]
        executable = find_command(argv[0], self.directory)
        if executable is None:
            hint = INSTALL_HINTS.get(Path(argv[0]).name)
            where = "PATH"
            if SERVER_DIRECTORIES:
                where += f" or in {', '.join(SERVER_DIRECTORIES)}"
            raise FixtureError(
                f"{self.label}: command {argv[0]!r} not found on {where}"
                + (f"; {hint}" if hint else "")
            )
        env = {**os.environ, "PORT": str(self.port)}
        env.update({key: render(value) for key, value in self.spec.env.items()})
        self._output = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [executable, *argv[1:]],
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                # Its own group, stopped whole: servers fork workers (nginx), and a Ctrl-C in the
                # terminal reaches the harness, which stops it, rather than the server alone.
                start_new_session=True,
            )
        except OSError as exc:
            raise FixtureError(f"{self.label}: cannot start {argv[0]!r}: {exc.strerror}") from None
        stack.callback(self._stop)
        self._wait_ready()
        super().start(stack, origins, certificate)

    def _wait_ready(self) -> None:
        ready = self.spec.ready
        url = f"http://{LOOPBACK}:{self.port}{ready.path}"
        deadline = time.monotonic() + ready.timeout
        with httpx.Client(trust_env=False, timeout=1.0) as client:
            while True:
                status = self.process.poll() if self.process is not None else None
                if status is not None:
                    raise FixtureError(
                        f"{self.label}: {self.command[0]!r} exited with status {status} before "
                        f"it was ready{self._last_words()}"
                    )
                try:
                    client.get(url)
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise FixtureError(
                            f"{self.label}: {self.command[0]!r} did not answer GET {ready.path} "
                            f"on {LOOPBACK}:{self.port} (its $PORT) within {ready.timeout:g} s"
                            f"{self._last_words()}"
                        ) from None
                    time.sleep(0.05)
                else:
                    return

    def _last_words(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        lines = [
            line.strip()
            for line in self._output.read().decode(errors="replace").splitlines()
            if line.strip()
        ]
        return f"; last output: {' | '.join(lines[-LAST_LINES:])}" if lines else "; no output"

    def _stop(self) -> None:
        process = self.process
        if process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, STOP_S), (signal.SIGKILL, STOP_S)):
            if process.poll() is not None:
                break
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait_s)
        # Workers it forked into its group and left behind.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    @property
    def failure(self) -> str | None:
        if self.process is None or self.process.poll() is None:
            return None
        return (
            f"{self.label}: {self.command[0]!r} exited with status {self.process.returncode} "
            f"during the scenario{self._last_words()}"
        )


def find_command(command: str, directory: str = ".") -> str | None:
    """Where `command` is: relative to `directory` when it has a /, else on PATH or in
    SERVER_DIRECTORIES; None when it is not there."""
    if "/" in command:
        path = Path(directory, command)
        return str(path) if os.access(path, os.X_OK) else None
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SERVER_DIRECTORIES])
    return shutil.which(command, path=search)


__all__ = ["INSTALL_HINTS", "CommandBackend", "find_command"]
