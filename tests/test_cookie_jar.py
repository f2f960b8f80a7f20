"""What a browser's jar held: matching cookies to the backend, and the `cookie_stored` fact."""

from __future__ import annotations

import pytest

from cors_harness.baseline import Baseline, cell_of, dump
from cors_harness.engines.base import domain_matches, same_site, stored_for
from cors_harness.expect import mismatches
from cors_harness.groups import cookie_stored
from cors_harness.loading import parse_scenario
from cors_harness.results import CookieJar, StoredCookie
from cors_harness.scenario import Facts
from tests.test_classify import make_result

SCENARIO = """
description: jar
backend: {cors: {allow_origins: ["{frontend:app}"], allow_credentials: true}}
frontends: {app: {host: app.localhost}}
requests:
  - {name: visit-set, frontend: app, path: /cookies/, credentials: include,
     cookies: [{name: a}, {name: b, samesite: none, secure: true}]}
  - {name: fetch-set, frontend: app, path: /cookies/, credentials: include,
     cookies: [{name: f, set_by: fetch}]}
  - {name: login, frontend: app, method: POST, path: /login, credentials: include,
     sets_cookies: [session]}
  - {name: me, frontend: app, path: /me, credentials: include, after: login}
  - {name: plain, frontend: app, path: /items/}
"""


def cookie(name: str, **changes: object) -> StoredCookie:
    fields: dict[str, object] = {
        "name": name,
        "domain": "api.example.com",
        "path": "/",
        "secure": False,
        "httponly": True,
        "samesite": "unset",
    }
    fields.update(changes)
    return StoredCookie.model_validate(fields)


def jar(*names: str, sees_partitions: bool = True) -> CookieJar:
    return CookieJar(
        read_by="test", sees_partitions=sees_partitions, cookies=[cookie(n) for n in names]
    )


@pytest.mark.parametrize(
    ("host", "domain", "matches"),
    [
        ("api.example.com", "api.example.com", True),
        ("api.example.com", ".example.com", True),
        ("api.example.com", "example.com", True),
        ("API.example.com", "api.EXAMPLE.com", True),
        ("example.com", "api.example.com", False),
        # A suffix of the name is not its parent domain.
        ("evilexample.com", "example.com", False),
        ("example.com.evil.test", "example.com", False),
        ("localhost", "localhost", True),
    ],
)
def test_domain_match(host: str, domain: str, matches: bool) -> None:
    assert domain_matches(host, domain) is matches


def test_only_the_backends_cookies_are_kept() -> None:
    cookies = [cookie("api"), cookie("site", domain=".example.com"), cookie("app", domain="app.x")]
    kept = stored_for("https://api.example.com:8443", cookies)
    assert [c.name for c in kept] == ["api", "site"]


@pytest.mark.parametrize(
    ("raw", "word"),
    [("Lax", "lax"), ("STRICT", "strict"), ("None", "none"), (None, "unset"), ("", "unset")],
)
def test_same_site_words(raw: str | None, word: str) -> None:
    assert same_site(raw) == word


SCENARIO_PARSED = parse_scenario(SCENARIO, "jar.yaml")


@pytest.mark.parametrize(
    ("request_name", "found", "stored"),
    [
        ("visit-set", jar("a", "b"), True),
        ("visit-set", jar("a", "b", "other"), True),
        ("visit-set", jar("a"), False),
        # Set by a top-level visit: first-party, so any reading would show it.
        ("visit-set", jar("a", sees_partitions=False), False),
        # Set from the page: it may sit in a partition this reading cannot see.
        ("fetch-set", jar(sees_partitions=False), None),
        ("fetch-set", jar(), False),
        ("fetch-set", jar("f", sees_partitions=False), True),
        # After a login step: the step's cookies are the ones to find.
        ("me", jar("session"), True),
        ("me", jar(), False),
        ("me", jar(sees_partitions=False), None),
        # Nothing to send, or nothing read: no verdict.
        ("plain", jar(), None),
        ("visit-set", None, None),
        (
            "visit-set",
            CookieJar(read_by="", sees_partitions=True, cookies=[], unreadable="gone"),
            None,
        ),
    ],
)
def test_cookie_stored(request_name: str, found: CookieJar | None, stored: bool | None) -> None:
    request = SCENARIO_PARSED.request(request_name)
    assert cookie_stored(SCENARIO_PARSED, request, found) is stored


def test_a_cookie_mismatch_shows_the_jar() -> None:
    held = CookieJar(
        read_by="test",
        sees_partitions=True,
        cookies=[
            cookie("sid", samesite="none", secure=True, partition="https://partner.test"),
            cookie("pref", samesite=None),
        ],
    )
    result = make_result(cookie_sent=False, cookie_stored=True, cookie_jar=held)
    assert mismatches(Facts(cookie_sent=True, cookie_stored=False, status=200), result, []) == [
        "cookie_sent: expected true, observed false (jar: sid (SameSite=none, Secure, "
        "partition https://partner.test); pref (SameSite=lax or unset))",
        "cookie_stored: expected false, observed true (jar: sid (SameSite=none, Secure, "
        "partition https://partner.test); pref (SameSite=lax or unset))",
    ]


def test_an_unknown_stored_fact_does_not_meet_an_expectation() -> None:
    result = make_result(cookie_stored=None)
    assert mismatches(Facts(cookie_stored=True), result, []) == [
        "cookie_stored: expected true, observed unknown"
    ]


def test_baseline_keeps_cookie_stored_only_where_it_is_known() -> None:
    known = make_result(cookie_stored=False)
    unknown = make_result()
    baseline = Baseline(
        scenario="s",
        cells={"a": {"chromium": cell_of(known, [])}, "b": {"firefox": cell_of(unknown, [])}},
    )
    text = dump(baseline)
    assert "cookie_stored: false" in text.splitlines()[-3]
    assert "cookie_stored" not in text.splitlines()[-1]
