"""Errors raised by cors-harness.

HarnessError
├── ScenarioError        a scenario file is unreadable or invalid (exit status 2)
├── EngineUnavailable    no way to drive a requested browser here
└── FixtureError         a server, browser or display failed to start or answer
    └── EngineBroken     a browser or driver stopped answering; it is relaunched
                         (cors_harness.engines.base)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error cors-harness raises on purpose."""


class ScenarioError(HarnessError):
    """A scenario file that cannot be used; the message is `path:line: field: problem`."""

    def __init__(self, path: str, line: int | None, field: str, problem: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


class EngineUnavailable(HarnessError):
    """A browser cannot be driven on this machine; the message says why and how to fix it."""


class FixtureError(HarnessError):
    """A server, browser or display did not start or stopped answering."""
