"""An Xvfb display owned by the run, for engines that need a window (WebKitGTK's MiniBrowser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from typing import TYPE_CHECKING

from harness._exceptions import EngineUnavailable, FixtureError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display number it picks itself; yield ':N'; stop it on every path."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise EngineUnavailable("Xvfb is not installed; fix: sudo apt-get install -y xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip()
        if not number:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise FixtureError(f"Xvfb did not start: {stderr.strip()[-300:]}")
        yield f":{number.decode()}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
