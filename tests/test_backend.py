"""The recorded backend on a real uvicorn: what the recorder keeps, exactly as sent."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from cors_harness.loading import parse_scenario
from cors_harness.servers import scenario_servers

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cors_harness.origins import Origins
    from cors_harness.recorder import Evidence

SCENARIO = """\
backend:
  cors:
    allow_origins: ["{frontend:app}"]
    allow_credentials: true
    expose_headers: [X-Total-Count]
frontends: {app: {host: localhost}}
requests: [{name: r, frontend: app}]
"""


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Origins, Evidence]]:
    with scenario_servers(parse_scenario(SCENARIO, "inline.yaml")) as found:
        yield found


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers)


def test_ports_are_chosen_at_run_time_on_loopback(servers: tuple[Origins, Evidence]) -> None:
    origins, _ = servers
    assert origins.backend.startswith("http://localhost:")
    assert origins.frontends["app"].startswith("http://localhost:")
    assert origins.backend != origins.frontends["app"]


def test_frontend_serves_the_probe_page(servers: tuple[Origins, Evidence]) -> None:
    origins, _ = servers
    status, _ = fetch(origins.frontends["app"] + "/probe.js")
    assert status == 200


def test_placeholder_became_the_real_origin(servers: tuple[Origins, Evidence]) -> None:
    origins, recorder = servers
    app = origins.frontends["app"]
    status, headers = fetch(f"{origins.backend}/items/?cors_probe=p1", Origin=app)
    assert status == 200
    assert headers["access-control-allow-origin"] == app
    (exchange,) = recorder.for_probe("p1")
    assert exchange.origin == app
    assert exchange.response_header("x-total-count") == ["2"]
    assert exchange.response_header("access-control-expose-headers") == ["X-Total-Count"]


def test_unhandled_exception_is_recorded_with_its_500(servers: tuple[Origins, Evidence]) -> None:
    origins, recorder = servers
    status, headers = fetch(
        f"{origins.backend}/error?cors_probe=p2", Origin=origins.frontends["app"]
    )
    assert status == 500
    # The 500 comes from Starlette's outermost error layer, outside CORSMiddleware.
    assert "access-control-allow-origin" not in {k.lower() for k in headers}
    # Starlette raises only after its 500 has left; the exchange is final only after that.
    (exchange,) = recorder.for_probe("p2")
    assert exchange.status == 500
    assert exchange.send_error is None
    assert exchange.server_exception is not None
    assert "DeliberateFailure" in exchange.server_exception


def test_preflight_and_cookie_are_recognised(servers: tuple[Origins, Evidence]) -> None:
    origins, recorder = servers
    request = urllib.request.Request(
        f"{origins.backend}/items/1?cors_probe=p3",
        method="OPTIONS",
        headers={
            "Origin": origins.frontends["app"],
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
            "Cookie": "a=1; b=2",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    info.value.close()
    assert info.value.code == 400
    (exchange,) = recorder.for_probe("p3")
    assert exchange.preflight
    assert exchange.access_control_request_method == "PUT"
    assert exchange.access_control_request_headers == "content-type"
    assert exchange.cookies_sent == ["a", "b"]


def test_cookie_route_writes_the_attributes_asked_for(servers: tuple[Origins, Evidence]) -> None:
    origins, recorder = servers
    fetch(f"{origins.backend}/cookies/set?name=sid&samesite=none&secure=true&cors_probe=p4")
    (exchange,) = recorder.for_probe("p4")
    assert exchange.response_header("set-cookie") == [
        "sid=1; Path=/; SameSite=None; Secure; HttpOnly"
    ]
    fetch(f"{origins.backend}/cookies/set?name=plain&httponly=false&cors_probe=p5")
    assert recorder.for_probe("p5")[0].response_header("set-cookie") == ["plain=1; Path=/"]


def test_redirect_keeps_the_probe_id(servers: tuple[Origins, Evidence]) -> None:
    origins, recorder = servers
    status, _ = fetch(f"{origins.backend}/redirect?to=/items/&cors_probe=p6")
    assert status == 200
    assert [(e.path, e.status) for e in recorder.for_probe("p6")] == [
        ("/redirect", 307),
        ("/items/", 200),
    ]
