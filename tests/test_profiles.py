"""Launch profiles: choosing one, what the shipped profile passes, and reading it back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cors_harness._exceptions import HarnessError
from cors_harness.cells import moved_page
from cors_harness.engines.profiles import (
    chosen_profile,
    chromium_shipped_args,
    firefox_user_prefs,
    launch_profile,
)
from cors_harness.network import BrowserNetwork

if TYPE_CHECKING:
    from pathlib import Path

    from cors_harness.runner import Harness


def test_the_profile_is_shipped_unless_chosen() -> None:
    assert chosen_profile(None, {}) == "shipped"
    assert chosen_profile(None, {"CORS_HARNESS_PROFILE": "automation"}) == "automation"
    assert chosen_profile("shipped", {"CORS_HARNESS_PROFILE": "automation"}) == "shipped"


def test_an_unknown_profile_is_one_line_naming_its_source() -> None:
    with pytest.raises(HarnessError) as caught:
        chosen_profile(None, {"CORS_HARNESS_PROFILE": "stock"})
    assert str(caught.value) == (
        "CORS_HARNESS_PROFILE: 'stock' is not a profile; use shipped or automation"
    )


def test_shipped_chromium_gets_no_playwright_switch_and_proxies_loopback_only_where_told() -> None:
    network = BrowserNetwork(
        proxy_port=4711,
        bypass=("localhost", "127.0.0.1", "*.localhost"),
        authority_pem=b"",
        authority_spki_sha256="c3BraQ==",
    )
    args = chromium_shipped_args(True, "/tmp/profile", network)
    assert "--disable-field-trial-config" not in args
    assert not any(a.startswith(("--disable-features", "--enable-automation")) for a in args)
    assert {"--remote-debugging-pipe", "--user-data-dir=/tmp/profile", "--headless"} <= set(args)
    assert "--proxy-server=http://127.0.0.1:4711" in args
    # The later rule wins: the listed loopback names must follow <-loopback> to bypass.
    assert "--proxy-bypass-list=<-loopback>;localhost;127.0.0.1;*.localhost" in args
    assert "--ignore-certificate-errors-spki-list=c3BraQ==" in args


def test_firefox_preferences_are_read_from_the_profile(tmp_path: Path) -> None:
    (tmp_path / "user.js").write_text(
        'user_pref("dom.security.https_first", true);\n'
        'user_pref("browser.startup.homepage", "about:blank");\n'
        "// a comment\n"
        'user_pref("broken", );\n',
        encoding="utf-8",
    )
    argv = ["firefox-esr", "--remote-debugging-port=0", "--profile", str(tmp_path)]
    assert firefox_user_prefs(argv) == [
        "dom.security.https_first=true",
        'browser.startup.homepage="about:blank"',
    ]
    profile = launch_profile("firefox", "shipped", argv)
    assert profile.switches == ["--remote-debugging-port=0", "--profile"]
    assert profile.preferences[0] == "dom.security.https_first=true"
    assert firefox_user_prefs(["firefox-esr"]) == []


@pytest.mark.parametrize(
    ("declared", "seen", "why"),
    [
        ("https://app.example.com", "https://app.example.com", None),
        ("http://app.example.com", None, None),
        (
            "http://app.example.com",
            "https://app.example.com",
            "the browser upgraded the page http://app.example.com to https://app.example.com "
            "(HTTPS upgrades), since that host serves https too; in this browser no page on the "
            "http origin can be reached",
        ),
        (
            "http://app.example.com",
            "http://other.example.com",
            "the browser showed the page as http://other.example.com, not http://app.example.com",
        ),
    ],
)
def test_a_page_off_its_origin(declared: str, seen: str | None, why: str | None) -> None:
    assert moved_page(declared, seen) == why


@pytest.mark.browser
def test_each_browser_reports_the_shipped_profile_it_runs(harness: Harness) -> None:
    profiles = {b.name: b.profile for b in harness.environment().browsers}
    assert set(profiles) == {"chromium", "firefox", "webkit"}
    chromium, firefox, webkit = profiles["chromium"], profiles["firefox"], profiles["webkit"]
    assert chromium is not None
    assert firefox is not None
    assert webkit is not None
    assert {chromium.name, firefox.name, webkit.name} == {"shipped"}
    # Read from the running Chromium's command line: none of Playwright's switches.
    assert "--remote-debugging-pipe" in chromium.switches
    assert not any(s.startswith("--disable-features") for s in chromium.switches)
    assert "--disable-field-trial-config" not in chromium.switches
    # Read from the preferences file of the running Firefox's profile.
    assert "dom.security.https_first=true" in firefox.preferences
    assert "--enable-itp" in webkit.switches
