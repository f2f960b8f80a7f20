"""`cors_observe`: a user's own FastAPI app, behind the recorder, in all three real browsers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cors_harness._exceptions import HarnessError
from cors_harness.scenario import BROWSERS
from tests.userapp.main import create_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from cors_harness.userapp import Observations

REQUESTS = [
    {
        "name": "me",
        "frontend": "spa",
        "path": "/api/me",
        "headers": {"Authorization": "Bearer t"},
        "credentials": "include",
    },
    {"name": "forget-me", "frontend": "spa", "method": "DELETE", "path": "/api/me"},
    {"name": "from-elsewhere", "frontend": "elsewhere", "path": "/api/me"},
]


def test_app_factory_gets_the_run_time_origins(
    cors_observe: Callable[..., Observations],
) -> None:
    cells = cors_observe(
        app_factory=lambda origins: create_app([origins["spa"]]),
        frontends={"spa": {"host": "localhost"}, "elsewhere": {"host": "127.0.0.1"}},
        requests=REQUESTS,
    )
    assert {b for _, b in cells} == set(BROWSERS)
    for browser in BROWSERS:
        me = cells["me", browser]
        assert (me.outcome, me.preflight_sent, me.status) == ("allowed", True, 200)
        assert me.evidence[0].access_control_request_headers == "authorization"
        assert cells["forget-me", browser].outcome == "blocked-preflight"
        assert cells["from-elsewhere", browser].outcome == "blocked-response"


def test_import_path_with_the_fixed_origin_it_allows(
    cors_observe: Callable[..., Observations],
) -> None:
    cells = cors_observe(
        "tests.userapp.main:app",
        frontends={"spa": {"host": "localhost", "port": 38517}},
        requests=REQUESTS[:1],
        browsers=["firefox"],
    )
    (result,) = cells.values()
    assert result.outcome == "allowed"
    assert result.frontend_origin == "http://localhost:38517"


def test_bad_import_path_says_what_to_write(cors_observe: Callable[..., Observations]) -> None:
    with pytest.raises(HarnessError, match=r"write it as 'package\.module:attribute'"):
        cors_observe(
            "tests.userapp.main",
            frontends={"spa": {"host": "localhost"}},
            requests=REQUESTS[:1],
            browsers=["chromium"],
        )
