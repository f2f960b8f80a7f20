"""What a scenario configures cannot stall the run, and evidence the server could not send is
no CORS outcome: real browsers against the servers' child process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import parse_scenario

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from cors_harness.origins import Origins
    from cors_harness.runner import Harness

# Catastrophic backtracking on this origin: `(a+)+` tries every split of the 30 a's before the
# missing `b` fails the match, and Python's re holds the interpreter all along.
BACKTRACKING = """\
backend:
  cors: {allow_origin_regex: 'http://(a+)+b\\.localhost:\\d+'}
frontends: {app: {host: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.localhost}}
requests: [{name: get, frontend: app, path: /items/, timeout: 2}]
"""
AFTER = """\
backend: {cors: {allow_origins: ["{frontend:app}"]}}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /items/, expect: allowed}]
"""
PLAIN = """\
backend: {cors: null}
frontends: {app: {host: localhost}}
requests: [{name: get, frontend: app, path: /bad}]
"""


def unsendable(origins: Origins) -> ASGIApp:
    """An app whose answer carries a header value uvicorn will not write (a control character);
    a scenario file cannot say that (it is refused at load time), a user's own app can."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"access-control-allow-origin", b"*"), (b"x-bad", b"a\x01b")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


@pytest.mark.browser
def test_a_backend_spinning_in_a_regex_gives_errors_and_the_run_goes_on(
    harness: Harness,
) -> None:
    started = time.monotonic()
    stalled = harness.run_scenario(parse_scenario(BACKTRACKING, "backtracking.yaml"))
    elapsed = time.monotonic() - started
    assert {r.outcome for r in stalled} == {"error"}
    # Each browser's fetch gives up after its 2 s, the servers' child is asked, does not
    # answer within 8 s, and is killed; then nothing waits on it any more.
    assert elapsed < 40
    reasons = {r.browser: r.error or "" for r in stalled}
    assert any("did not answer" in reason for reason in reasons.values()), reasons
    after = harness.run_scenario(parse_scenario(AFTER, "after.yaml"))
    assert [r.outcome for r in after] == ["allowed"] * len(harness.browsers.names)


@pytest.mark.browser
def test_a_head_the_server_could_not_send_is_an_error_with_its_reason(harness: Harness) -> None:
    cells = harness.run_scenario(parse_scenario(PLAIN, "unsendable.yaml"), unsendable)
    assert len(cells) == len(harness.browsers.names)
    for cell in cells:
        assert cell.outcome == "error", cell
        assert cell.error is not None
        assert "could not send its GET response" in cell.error
        assert "Invalid HTTP header value" in cell.error
        # A browser may retry a request whose connection closed without an answer.
        assert cell.evidence
        assert all(e.send_error is not None for e in cell.evidence)
