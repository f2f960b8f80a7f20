"""Launch profiles: how close to its shipped defaults each browser runs, and what differs.

`shipped` (the default) drives each engine as a user's browser runs for everything that touches
CORS, cookies, storage partitioning, HTTPS upgrades and redirects:

- Chromium: none of Playwright's default switches (its `--disable-features=` list turns off
  ThirdPartyStoragePartitioning, HttpsUpgrades, BlockOriginHeaderModificationOnRedirect and
  AvoidCorsURLLoaderRestartOnRedirect, and `--disable-field-trial-config` the build's field trial
  configuration); only what the harness needs to drive and isolate it is passed (SHIPPED_CHROMIUM).
- Firefox: Playwright always writes its preferences into the profile; the one of them that changes
  what these scenarios see, `dom.security.https_first=false`, is set back to Firefox's default
  (HTTPS-First has been on by default since Firefox 136).
- WebKit: WebKitGTK's MiniBrowser runs with Intelligent Tracking Prevention, as Safari does
  (`--enable-itp`); MiniBrowser's own default is without it.

`automation` is what Playwright and MiniBrowser do by themselves: kept for comparison
(`--profile automation`), since a verdict that changes between the two is an artifact of the
automation profile.

What each browser actually ran with is read back after launch (its command line from /proc, and
for Firefox the preferences file in its profile) and reported in results.json and by doctor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from cors_harness._exceptions import HarnessError
from cors_harness.results import LaunchProfile

if TYPE_CHECKING:
    from cors_harness.network import BrowserNetwork
    from cors_harness.scenario import Browser

Profile = Literal["shipped", "automation"]
PROFILES: tuple[Profile, ...] = get_args(Profile)
DEFAULT_PROFILE: Profile = "shipped"

ENV = "CORS_HARNESS_PROFILE"


def chosen_profile(given: str | None = None, environ: dict[str, str] | None = None) -> Profile:
    """`given`, else $CORS_HARNESS_PROFILE, else `shipped`; HarnessError for any other word."""
    value = given if given is not None else (environ or dict(os.environ)).get(ENV) or None
    if value is None:
        return DEFAULT_PROFILE
    for profile in PROFILES:
        if value == profile:
            return profile
    source = "profile" if given is not None else ENV
    raise HarnessError(f"{source}: {value!r} is not a profile; use shipped or automation")


# Each switch is there to drive the browser, isolate it or keep it off the network; none of them
# changes how it treats requests, cookies or storage.
SHIPPED_CHROMIUM = [
    # Playwright speaks to the browser over this pipe.
    "--remote-debugging-pipe",
    # No window in the default context: each session opens a context of its own.
    "--no-startup-window",
    "--no-first-run",
    "--no-default-browser-check",
    # No keyring on these machines: passwords (unused) in the profile itself.
    "--password-store=basic",
    "--use-mock-keychain",
    # Background fetches (updates, variations, components) would only be refused by the proxy.
    "--disable-background-networking",
    "--disable-component-update",
]

# What each engine does with a cookie of another site, under each profile. These are the
# engines' policies as configured; `profile_comparison.yaml` measures them.
THIRD_PARTY_COOKIES: dict[tuple[str, Profile], str] = {
    ("chromium", "shipped"): "blocked: this build's default cookie controls block third-party "
    "cookies in every context",
    ("chromium", "automation"): "blocked: this build's default cookie controls block "
    "third-party cookies in every context",
    ("firefox", "shipped"): "partitioned (Total Cookie Protection, cookieBehavior 5): a "
    "cookie set by a site's own page is not sent from another site's page",
    ("firefox", "automation"): "partitioned (Total Cookie Protection, cookieBehavior 5): a "
    "cookie set by a site's own page is not sent from another site's page",
    ("webkit", "shipped"): "blocked (Intelligent Tracking Prevention, as in Safari)",
    ("webkit", "automation"): "MiniBrowser's default without ITP (no-third-party): a "
    "third-party context cannot set a cookie, but one set by the site's own page is sent",
}


def chromium_shipped_args(
    headless: bool, user_data_dir: str, network: BrowserNetwork | None
) -> list[str]:
    """Every switch a `shipped` Chromium gets: Playwright's defaults are all dropped, so the
    proxy, the profile directory and headless mode are given here."""
    args = [*SHIPPED_CHROMIUM, f"--user-data-dir={user_data_dir}"]
    if headless:
        args.append("--headless")
    if os.geteuid() == 0:
        # Chromium's sandbox cannot start as root.
        args.append("--no-sandbox")
    if network is not None:
        # Loopback names are proxied too unless listed; the later rule wins, so the listed
        # names come after the one that takes loopback out of the implicit bypass.
        bypass = ["<-loopback>", *network.bypass]
        args += [
            f"--proxy-server={network.proxy_url}",
            f"--proxy-bypass-list={';'.join(bypass)}",
            f"--ignore-certificate-errors-spki-list={network.authority_spki_sha256}",
        ]
    return args


def firefox_prefs(profile: Profile) -> dict[str, object]:
    """Preferences that put back what Playwright's profile changes, for `shipped`."""
    if profile == "automation":
        return {}
    return {"dom.security.https_first": True}


def minibrowser_args(profile: Profile) -> list[str]:
    return ["--enable-itp"] if profile == "shipped" else []


def command_line(pid: int | None) -> list[str]:
    """A running process's arguments, as the kernel has them; empty when unknown."""
    if pid is None:
        return []
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def firefox_user_prefs(argv: list[str]) -> list[str]:
    """The preferences Playwright wrote for this Firefox (`user.js` in the profile it passed)."""
    if "--profile" not in argv[:-1]:
        return []
    user_js = Path(argv[argv.index("--profile") + 1]) / "user.js"
    try:
        lines = user_js.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    prefs = []
    for line in lines:
        # Playwright writes `user_pref(<JSON name>, <JSON value>);`, one per line.
        if line.startswith("user_pref(") and line.endswith(");"):
            try:
                name, value = json.loads(f"[{line[len('user_pref(') : -2]}]")
            except (ValueError, TypeError):
                continue
            prefs.append(f"{name}={json.dumps(value)}")
    return prefs


def launch_profile(
    browser: Browser, profile: Profile, argv: list[str], extra_args: list[str] | None = None
) -> LaunchProfile:
    """What differs from the browser's defaults: every switch it was started with (Playwright's
    and the harness's), and for Firefox every preference written into its profile."""
    switches = [a for a in argv[1:] if a.startswith("-")] or list(extra_args or [])
    prefs = firefox_user_prefs(argv) if browser == "firefox" else []
    return LaunchProfile(
        name=profile,
        switches=switches,
        preferences=prefs,
        third_party_cookies=THIRD_PARTY_COOKIES[browser, profile],
    )
