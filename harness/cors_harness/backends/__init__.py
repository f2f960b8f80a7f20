"""A scenario's backends, each kind behind one interface.

Every backend is bound to a loopback port before the run's origins are known (the origins name
the ports), then started once they are (placeholders in its settings name the origins), keeps
the exchanges the browser had with it, and stops when the scenario's stack closes, on every path:

- `FixtureBackend`: the fixture FastAPI app with the scenario's `cors`, in the child process that
  serves the scenario's pages (`server_process`), so that nothing it is configured with can stall
  the harness;
- `AsgiBackend`: an ASGI app in this process, behind the recorder (a user's own app, given to
  `cors_observe` or named by `app:`), its lifespan run; `upstream:` is one too, the app being the
  recording proxy (`upstream.UpstreamProxy`) to the running server;
- `CommandBackend`: a server the harness starts (`command:`), reached through the recording
  proxy, so that its evidence is what it sent, whatever it is written in.

`ScenarioEvidence` puts their records together, each exchange marked with its backend, in order
of arrival: a redirect from one backend to another shows every hop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness.backends.asgi import AsgiBackend, app_backend, load_app, upstream_backend
from cors_harness.backends.base import ScenarioBackend, ScenarioEvidence
from cors_harness.backends.command import INSTALL_HINTS, CommandBackend, find_command
from cors_harness.backends.fixture import FixtureBackend

if TYPE_CHECKING:
    from cors_harness.scenario import Backend


def scenario_backend(name: str, spec: Backend, label: str, directory: str) -> ScenarioBackend:
    """The backend a scenario file declares, other than the fixture app."""
    if spec.kind == "command":
        return CommandBackend(name, spec, label, directory)
    if spec.kind == "upstream":
        return upstream_backend(name, spec, label)
    if spec.kind == "app":
        return app_backend(name, spec, label)
    raise ValueError(f"{label}: the fixture app is served by the scenario's child process")


__all__ = [
    "INSTALL_HINTS",
    "AsgiBackend",
    "CommandBackend",
    "FixtureBackend",
    "ScenarioBackend",
    "ScenarioEvidence",
    "find_command",
    "load_app",
    "scenario_backend",
]
