"""What a run observed: exchanges on the wire, one result per cell, and the run's environment.

These models are the schema of `results.json` (`cors-harness schema results` prints it).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cors_harness.fetch_standard import SpecOutcome
from cors_harness.scenario import Browser, Outcome

Verdict = Literal["holds", "refuted", "inconclusive"]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Exchange(_Model):
    """One request the backend received and the response it sent, headers exactly as on the wire."""

    probe: str | None = Field(description="The probe id from the query string; None for set-up.")
    method: str
    path: str
    query: str
    origin: str | None
    cookies_sent: list[str] = Field(description="Names of the cookies in the Cookie header.")
    preflight: bool = Field(description="OPTIONS with Access-Control-Request-Method.")
    access_control_request_method: str | None
    access_control_request_headers: str | None
    request_headers: list[tuple[str, str]]
    status: int | None
    response_headers: list[tuple[str, str]]
    server_exception: str | None = None
    send_error: str | None = Field(
        default=None,
        description="Why the server could not write this response head; the browser never got "
        "the status and headers above, and the cell is `error`.",
    )
    elapsed_ms: float
    received_at: float | None = Field(
        default=None,
        description="When the request arrived (Unix seconds): orders the hops of a redirect "
        "across backends.",
    )
    backend: str | None = Field(
        default=None, description="The backend that received it, by the scenario's name."
    )
    internal: bool = Field(
        default=False,
        description="Received by an internal backend from the server in front of it (nginx): "
        "what that server passed on, not what the browser sent; not counted in the outcome.",
    )

    @classmethod
    def from_wire(
        cls,
        *,
        probe: str | None,
        method: str,
        path: str,
        query: str,
        request_headers: list[tuple[str, str]],
        status: int | None,
        response_headers: list[tuple[str, str]],
        server_exception: str | None,
        elapsed_ms: float,
        received_at: float | None = None,
    ) -> Exchange:
        def first(name: str) -> str | None:
            return next((v for k, v in request_headers if k.lower() == name), None)

        acrm = first("access-control-request-method")
        return cls(
            probe=probe,
            method=method,
            path=path,
            query=query,
            origin=first("origin"),
            cookies_sent=_cookie_names(first("cookie")),
            preflight=method == "OPTIONS" and acrm is not None,
            access_control_request_method=acrm,
            access_control_request_headers=first("access-control-request-headers"),
            request_headers=request_headers,
            status=status,
            response_headers=response_headers,
            server_exception=server_exception,
            elapsed_ms=elapsed_ms,
            received_at=received_at,
        )

    def response_header(self, name: str) -> list[str]:
        return [v for k, v in self.response_headers if k.lower() == name.lower()]

    def cookies_set(self) -> list[str]:
        """Names of the cookies this response's Set-Cookie headers set."""
        return [v.split("=", 1)[0].strip() for v in self.response_header("set-cookie")]


def _cookie_names(header: str | None) -> list[str]:
    if not header:
        return []
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return sorted({part.split("=", 1)[0].strip() for part in header.split(";") if part.strip()})
    return sorted(jar)


class PageResult(_Model):
    """What the page's fetch() returned, as the page saw it."""

    probe: str
    received: bool = Field(description="fetch() resolved with a response.")
    status: int | None = None
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers the page could read."
    )
    response_type: str | None = None
    redirected: bool | None = None
    error: str | None = Field(None, description="The browser's error text when fetch() rejected.")
    timed_out: bool = False
    harness_error: str | None = Field(None, description="Why the harness got no answer at all.")
    console: list[str] = Field(default_factory=list)
    secure_context: bool | None = Field(
        default=None, description="The page's window.isSecureContext when it made the request."
    )
    page_origin: str | None = Field(
        default=None, description="The origin of the page that made the request, as it saw it."
    )
    messages: list[str] | None = Field(
        default=None, description="A WebSocket's messages the page received; null for a fetch()."
    )
    close_code: int | None = Field(
        default=None, description="The code of a WebSocket's close event, when it closed."
    )


SameSite = Literal["strict", "lax", "none", "unset"]


class StoredCookie(_Model):
    """One cookie in a browser's jar, as the engine's own automation protocol reports it."""

    name: str
    domain: str = Field(description="As stored: a host-only cookie has the bare host.")
    path: str
    secure: bool
    httponly: bool
    samesite: SameSite | None = Field(
        description="As the engine keeps it: `unset` when the cookie gave none (Chromium applies "
        "Lax to those); null when the engine's driver does not tell Lax from unset."
    )
    partition: str | None = Field(
        default=None,
        description="The top-level site a partitioned cookie is keyed by; null for an "
        "unpartitioned cookie, or when the engine does not report partitions (see `read_by`).",
    )


class CookieJar(_Model):
    """What a browser context's cookie jar held for the backend before a request ran."""

    read_by: str = Field(description="How the jar was read, and what that reading cannot see.")
    sees_partitions: bool = Field(
        description="Cookies kept in another site's partition show in this reading."
    )
    cookies: list[StoredCookie]
    unreadable: str | None = Field(
        default=None, description="Why the jar could not be read; the cells stand regardless."
    )

    def names(self) -> set[str]:
        return {c.name for c in self.cookies}

    def describe(self) -> str:
        """One line, e.g. `jar: s (SameSite=none, Secure, partition https://a.test)`."""
        if self.unreadable is not None:
            return f"jar not read: {self.unreadable}"
        if not self.cookies:
            return "jar: no cookie for the backend"
        parts = []
        for cookie in self.cookies:
            attrs = [f"SameSite={cookie.samesite or 'lax or unset'}"]
            if cookie.secure:
                attrs.append("Secure")
            if cookie.partition:
                attrs.append(f"partition {cookie.partition}")
            parts.append(f"{cookie.name} ({', '.join(attrs)})")
        return "jar: " + "; ".join(parts)


class LaunchProfile(_Model):
    """How a browser was set up for the run, read back from the running browser."""

    name: Literal["shipped", "automation"] = Field(
        description="shipped: as close to the browser's own defaults as the engine allows; "
        "automation: as Playwright or MiniBrowser set it up by themselves."
    )
    switches: list[str] = Field(
        description="Every command-line switch the browser was started with."
    )
    preferences: list[str] = Field(
        default_factory=list,
        description="Firefox: every preference written into its profile, `name=value`.",
    )
    third_party_cookies: str = Field(description="The engine's policy for another site's cookies.")


class BrowserInfo(_Model):
    name: Browser
    version: str
    engine: str = Field(description="How it was driven, e.g. 'playwright-bundled', 'webdriver'.")
    executable: str | None = None
    profile: LaunchProfile | None = None


class Attempt(_Model):
    """One of a repeated request's fetch() calls, all to the same URL."""

    at_s: float = Field(description="Seconds after the first attempt started.")
    preflight_sent: bool = Field(description="A preflight reached the server for this attempt.")
    reached_server: bool
    received: bool = Field(description="The page could read the response.")


def _none_is_false(value: object) -> object:
    # Files written before cookie_sent was always a boolean have null for "no cookie set up".
    return False if value is None else value


class SpecVerdict(_Model):
    """What the Fetch standard makes of a cell's request and of the servers' actual answers."""

    outcome: SpecOutcome = Field(
        description="The standard's outcome; `unknown` when the browser sent nothing the "
        "standard sends, so that the server's answer to it was never recorded."
    )
    check: str = Field(
        description="The check that decided it, e.g. cors-ok, acao-missing, acao-mismatch, acac, "
        "preflight-status, method-not-allowed, header-not-allowed, authorization-not-covered."
    )
    reason: str
    section: str = Field(description="The section of the standard that decides it (a URL).")
    preflight_required: bool
    preflight_why: str | None = Field(
        default=None, description="What makes a preflight necessary (method, unsafe headers)."
    )
    readable_headers: list[str] | None = Field(
        default=None,
        description="For an allowed CORS response: the header names the page may read.",
    )
    departures: list[str] = Field(
        default_factory=list,
        description="Where the browser departs from the standard: requests it sent otherwise "
        "(Origin, preflights), an outcome or readable headers other than the standard's.",
    )
    browser_reason: str | None = Field(
        default=None, description="The browser's own reason for blocking, from its console."
    )
    browser_check: str | None = Field(
        default=None,
        description="The check the browser's reason names, when it can be told; where it is not "
        "`check`, the browser gives another reason than the standard's first failing check.",
    )


class Result(_Model):
    """One (scenario, request, browser) cell."""

    scenario: str
    request: str
    browser: Browser
    browser_version: str
    engine: str
    frontend_origin: str = Field(description="The page's origin; empty for a visit.")
    visit: bool = Field(
        default=False, description="A top-level navigation to the backend, not a fetch()."
    )
    kind: Literal["fetch", "websocket"] = Field(
        default="fetch", description="A fetch(), or a WebSocket the page opened."
    )
    messages: list[str] | None = Field(
        default=None,
        description="For a WebSocket: the messages the page received over it (it sends `ping`).",
    )
    url: str
    method: str
    credentials: str
    mode: str = "cors"
    redirect: str = "follow"
    response_type: str | None = Field(
        default=None,
        description="fetch()'s Response.type (basic, cors, opaque, opaqueredirect); null when "
        "fetch() failed or for a visit.",
    )
    outcome: Outcome
    preflight_sent: bool
    reached_server: bool
    reached_backends: list[str] | None = Field(
        default=None,
        description="In a scenario with several backends: each backend the actual request "
        "reached (preflights and internal hops left out), in order; null with one backend.",
    )
    cookie_sent: Annotated[bool, BeforeValidator(_none_is_false)] = Field(
        description="The actual request carried the request's set-up cookies (any cookie if none)."
    )
    cookie_stored: bool | None = Field(
        default=None,
        description="The browser's jar held every cookie the request was meant to send, before "
        "it ran; null when it has none to send, or when the jar reading cannot tell.",
    )
    cookie_jar: CookieJar | None = Field(
        default=None, description="The jar as read before the request ran; null if not read."
    )
    status: int | None
    readable_headers: dict[str, str]
    error: str | None = Field(description="The browser's error text, or why the harness failed.")
    console: list[str]
    expected: dict[str, Any] | None = None
    expectation_met: bool | None = None
    mismatches: list[str] = Field(default_factory=list)
    attempts: list[Attempt] = Field(
        default_factory=list, description="Each fetch() of a repeated request; empty otherwise."
    )
    secure_context: bool | None = Field(
        default=None,
        description="Whether the page making the request was a secure context (https, or a "
        "loopback origin); None for a visit or when the page gave no answer.",
    )
    spec: SpecVerdict | None = Field(
        default=None,
        description="The Fetch standard's verdict; null for a visit, an error cell, or a page "
        "the browser moved to another origin.",
    )
    deviates_from_spec: bool | None = Field(
        default=None, description="The browser departs from the standard (spec.departures)."
    )
    evidence: list[Exchange]


class Environment(_Model):
    python: str
    platform: str
    packages: dict[str, str]
    browsers: list[BrowserInfo]


class BrowserVerdict(_Model):
    browser: Browser
    verdict: Verdict
    observed: list[str] = Field(
        default_factory=list,
        description="Why it is not `holds`: each prediction that failed, or each error cell.",
    )


class ClaimVerdict(_Model):
    """A scenario's claim and what the browsers made of it."""

    scenario: str
    id: str
    claim: str
    source: str
    requests: list[str]
    verdicts: list[BrowserVerdict]

    def verdict(self, browser: str) -> Verdict | None:
        return next((v.verdict for v in self.verdicts if v.browser == browser), None)


class ScenarioInfo(_Model):
    name: str
    path: str
    description: str


class ScenarioFailure(_Model):
    path: str
    message: str


class RunResults(_Model):
    schema_version: int = SCHEMA_VERSION
    started_at: str
    wall_seconds: float
    environment: Environment
    scenario_errors: list[ScenarioFailure] = Field(default_factory=list)
    scenarios: list[ScenarioInfo] = Field(default_factory=list)
    results: list[Result]
    claims: list[ClaimVerdict] = Field(default_factory=list)
    slow_not_run: list[str] = Field(
        default_factory=list,
        description="Scenario files marked slow that this run left out (run them with --slow).",
    )
    interrupted: str | None = Field(
        default=None,
        description="The signal (SIGINT, SIGTERM) that stopped the run early; the cells are "
        "those observed until then.",
    )

    def unmet(self) -> list[Result]:
        return [r for r in self.results if r.expectation_met is False]

    def errors(self) -> list[Result]:
        return [r for r in self.results if r.outcome == "error"]

    def verdict_counts(self) -> dict[Verdict, int]:
        counts: dict[Verdict, int] = {"holds": 0, "refuted": 0, "inconclusive": 0}
        for claim in self.claims:
            for verdict in claim.verdicts:
                counts[verdict.verdict] += 1
        return counts
