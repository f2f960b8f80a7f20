"""How long a browser, its driver or Xvfb may take to answer before the engine counts as broken.

A broken engine is killed, the cells it owed are errors, and it is launched again for the next
scenario. Each value can be set in the environment, e.g. `CORS_HARNESS_LAUNCH_TIMEOUT=60`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from cors_harness._exceptions import HarnessError

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class EngineTimeouts:
    """Seconds per kind of call; a probe batch may take its longest fetch timeout more."""

    launch_s: float = 30.0  # a browser, WebKitWebDriver, Xvfb or Playwright's driver starting
    session_s: float = 30.0  # a new browser context, or a WebDriver session (starts MiniBrowser)
    navigation_s: float = 15.0  # a page loading
    command_s: float = 10.0  # any other call
    close_s: float = 10.0  # anything closing, before its processes are killed

    def __post_init__(self) -> None:
        for f in fields(self):
            if not _seconds(getattr(self, f.name)):
                raise ValueError(
                    f"EngineTimeouts.{f.name} must be seconds > 0, not {getattr(self, f.name)!r}"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EngineTimeouts:
        values: dict[str, float] = {}
        for f in fields(cls):
            name = env_name(f.name)
            raw = environ.get(name, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not _seconds(value):
                raise HarnessError(
                    f"{name}={raw!r}: not a number of seconds > 0; fix: e.g. {name}="
                    f"{getattr(cls(), f.name):g}, or unset it for the default"
                )
            values[f.name] = value
        return cls(**values)

    def __str__(self) -> str:
        return ", ".join(f"{f.name[:-2]} {getattr(self, f.name):g} s" for f in fields(self))


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def env_name(field_name: str) -> str:
    """`launch_s` -> `CORS_HARNESS_LAUNCH_TIMEOUT`."""
    return f"CORS_HARNESS_{field_name.removesuffix('_s').upper()}_TIMEOUT"


__all__ = ["EngineTimeouts", "env_name"]
