"""An Xvfb display owned by the run, for engines that need a window (WebKitGTK's MiniBrowser)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from cors_harness._exceptions import EngineUnavailable, FixtureError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def virtual_display(start_s: float, stop_s: float) -> Iterator[str]:
    """Start Xvfb on a free display number it picks itself; yield ':N'; stop it on every path.

    Xvfb that has not told its display number within `start_s` is killed (FixtureError); at the
    end it has `stop_s` to exit before it is killed.
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise EngineUnavailable("Xvfb is not installed; fix: sudo apt-get install -y xvfb")
    # A file, not a pipe, for its messages: a pipe nobody reads fills up and blocks Xvfb.
    with tempfile.TemporaryFile() as stderr:
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [
                    xvfb,
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        try:
            number = _display_number(read_fd, start_s)
            if not number:
                _stop(process, stop_s)
                why = (
                    f"reported no display within {start_s:g} s"
                    if number is None
                    else f"exited with status {process.returncode}"
                )
                raise FixtureError(f"Xvfb {why}: {_tail(stderr)}")
            yield f":{number}"
        finally:
            os.close(read_fd)
            _stop(process, stop_s)


def _display_number(fd: int, timeout_s: float) -> str | None:
    """The number Xvfb writes to -displayfd once it listens: None if none comes in time, ""
    if Xvfb exits first."""
    given_up = time.monotonic() + timeout_s
    text = b""
    while not text.endswith(b"\n"):
        left = given_up - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 64)
        if not chunk:
            return ""
        text += chunk
    return text.strip().decode()


def _stop(process: subprocess.Popen[bytes], stop_s: float) -> None:
    process.terminate()
    try:
        process.wait(timeout=stop_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    lines = stderr.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "it printed nothing"
