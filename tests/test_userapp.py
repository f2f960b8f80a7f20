"""`cors_observe`: a user's own FastAPI app, behind the recorder, in all three real browsers
(one item per browser)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.userapp.main import create_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from cors_harness.plugin import Cells

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
    cors_observe: Callable[..., Cells], cors_browser: str
) -> None:
    cells = cors_observe(
        app_factory=lambda origins: create_app([origins["spa"]]),
        frontends={"spa": {"host": "localhost"}, "elsewhere": {"host": "127.0.0.1"}},
        requests=REQUESTS,
    )
    assert list(cells) == [(r["name"], cors_browser) for r in REQUESTS]
    me = cells["me"]
    assert (me.outcome, me.preflight_sent, me.status) == ("allowed", True, 200)
    assert me.evidence[0].access_control_request_headers == "authorization"
    assert cells["forget-me", cors_browser].outcome == "blocked-preflight"
    assert cells["from-elsewhere"].outcome == "blocked-response"


@pytest.mark.parametrize("cors_browser", ["firefox"])
def test_import_path_with_the_fixed_origin_it_allows(cors_observe: Callable[..., Cells]) -> None:
    cells = cors_observe(
        "tests.userapp.main:app", frontends={"spa": "http://localhost:38517"}, requests=REQUESTS[:1]
    )
    assert list(cells) == [("me", "firefox")]
    assert cells["me"].outcome == "allowed"
    assert cells["me"].frontend_origin == "http://localhost:38517"


@pytest.mark.parametrize("cors_browser", ["chromium"])
def test_bad_import_path_says_what_to_write(cors_observe: Callable[..., Cells]) -> None:
    wanted = r"^cors_observe: app 'tests\.userapp\.main': write it as 'package\.module:attribute'$"
    with pytest.raises(pytest.fail.Exception, match=wanted):
        cors_observe(
            "tests.userapp.main", frontends={"spa": {"host": "localhost"}}, requests=REQUESTS[:1]
        )
