"""The scenario model: backends, frontends, requests, expectations and claims, each field
validated as written (`loading` reads files into it, `scenario_checks` checks across fields)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cors_harness import _http
from cors_harness._validation_errors import AtKey

Loc = tuple[str | int, ...]
Browser = Literal["chromium", "firefox", "webkit"]
BROWSERS: tuple[Browser, ...] = get_args(Browser)
# `opaque`: the page got an answer it cannot read (mode no-cors, or redirect manual).
# `upgraded`: the browser upgraded an http page to https (its host serves https too), so no
# request from the http origin exists in that browser; the cell's error says which origin it got.
Outcome = Literal[
    "allowed",
    "blocked-preflight",
    "blocked-response",
    "blocked-network",
    "opaque",
    "upgraded",
    "error",
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

# The longest a single fetch() may take, in a scenario or on the command line.
MAX_TIMEOUT_S = 120
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# A lower-case DNS name (labels of 1 to 63 letters, digits and inner hyphens, at most 253 in all,
# the last not all digits) or 127.0.0.1. Loopback names reach this machine by themselves; the
# run's proxy routes every other name to the run's servers (`origins`, `network`).
HOST_PATTERN = (
    r"^(127\.0\.0\.1|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$"
)


def _host_name(host: str) -> str:
    """What the pattern cannot say (pydantic's patterns have no look-ahead)."""
    if len(host) > 253:
        raise ValueError(f"{host[:40]}...: a host name has at most 253 characters")
    if host != "127.0.0.1" and host.rsplit(".", 1)[-1].isdigit():
        raise ValueError(
            f"got {host!r}; an IP address other than 127.0.0.1 cannot be served here: "
            "write a host name (the run routes it to its servers)"
        )
    return host


TOKEN_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
FRONTEND_NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
COOKIE_VALUE_PATTERN = r"^[A-Za-z0-9._~-]*$"
PLACEHOLDER = re.compile(
    r"\{(frontend|backend)(?::([A-Za-z0-9_-]+))?(?:\.(origin|host|port|scheme|address))?\}"
)
PLACEHOLDER_LIKE = re.compile(r"\{(frontend|backend)[^}]*\}")
# What a placeholder stands for while a value is checked, before the run knows the ports.
_PLACEHOLDER_EXAMPLE = {
    "origin": "http://placeholder.localhost:1",
    "host": "placeholder.localhost",
    "port": "1",
    "scheme": "http",
    "address": "127.0.0.1:1",
}
# What each pattern asks for, said as the fix.
PATTERN_HELP = {
    NAME_PATTERN: "lower-case letters, digits, - and _, starting with a letter or digit",
    HOST_PATTERN: "a lower-case host name such as api.example.com or localhost, or 127.0.0.1",
    TOKEN_PATTERN: "an HTTP token: letters, digits and !#$%&'*+-.^_`|~",
    FRONTEND_NAME_PATTERN: "letters, digits, - and _, as in {frontend:NAME}",
    COOKIE_VALUE_PATTERN: "letters, digits and . _ ~ -",
}


def _placeholders_checked(text: str) -> str:
    for match in PLACEHOLDER_LIKE.finditer(text):
        full = PLACEHOLDER.fullmatch(match.group(0))
        if full is None:
            raise ValueError(
                f"malformed placeholder {match.group(0)!r}; write {{frontend:NAME}}, "
                "{backend} or {backend:NAME}, each optionally with .host, .port, .scheme, "
                ".origin or .address"
            )
    return text


def _example(text: str) -> str:
    """`text` with each placeholder replaced by a value of its kind, to check what it becomes."""
    return PLACEHOLDER.sub(
        lambda m: _PLACEHOLDER_EXAMPLE[m.group(3) or "origin"], _placeholders_checked(text)
    )


def _origin(entry: str) -> str:
    return _http.origin(_example(entry), entry)


def _origin_regex(pattern: str) -> str:
    # Stand-ins of the same length keep the position in re's message right.
    checked = _placeholders_checked(pattern)
    return _http.regex(PLACEHOLDER.sub(lambda m: "x" * len(m.group(0)), checked), pattern)


def _sent_header_value(value: str) -> str:
    _http.sent_header_value(_example(value))
    return value


Token = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]
RequestHeaderName = Annotated[Token, AfterValidator(_http.request_header_name)]
RequestHeaderValue = Annotated[str, AfterValidator(_http.request_header_value)]
SentHeaderValue = Annotated[str, AfterValidator(_sent_header_value)]
OriginEntry = Annotated[str, AfterValidator(_origin)]
OriginRegex = Annotated[str, AfterValidator(_origin_regex)]
RequestPath = Annotated[str, AfterValidator(lambda p: _http.path(p, query=True))]
RoutePath = Annotated[str, AfterValidator(lambda p: _http.path(p, query=False))]
FrontendName = Annotated[str, StringConstraints(pattern=FRONTEND_NAME_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cors(_Model):
    """CORSMiddleware's keyword arguments, one to one; origins may use `{frontend:NAME}`."""

    allow_origins: list[OriginEntry] = Field(
        [], description="`*`, `null`, a placeholder or scheme://host[:port]."
    )
    allow_origin_regex: OriginRegex | None = Field(
        None, description="A Python regular expression; placeholders are inserted as written."
    )
    allow_methods: list[Token] = ["GET"]
    allow_headers: list[Token] = []
    allow_credentials: bool = False
    allow_private_network: bool = False
    expose_headers: list[Token] = []
    max_age: int = Field(600, ge=0)


class AuthLayer(_Model):
    """Answers 401 to every request without an `Authorization` header, preflights included."""

    kind: Literal["auth-401"]
    placement: Literal["outside-cors", "inside-cors"] = "outside-cors"


class HeaderLayer(_Model):
    """Adds one response header to every response, as a second CORS layer or a proxy would."""

    kind: Literal["add-header"]
    placement: Literal["outside-cors", "inside-cors"] = "outside-cors"
    header: Token
    value: SentHeaderValue = Field(description="Placeholders as in allow_origins.")


Layer = Annotated[AuthLayer | HeaderLayer, Field(discriminator="kind")]


class RawAnswer(_Model):
    status: int = Field(200, ge=100, le=599)
    headers: list[tuple[Token, SentHeaderValue]] = Field(
        [], description="[name, value] pairs sent exactly so; a name may repeat."
    )


class RawRoute(_Model):
    """A path answered with exactly the given headers, outside every middleware but the recorder.

    For edge cases CORSMiddleware cannot produce (a literal `*` with credentials, two
    `Access-Control-Allow-Origin` values).
    """

    path: RoutePath = Field(json_schema_extra={"pattern": r"^/[^?#\s\\]*$"})
    preflight: RawAnswer = Field(
        default_factory=lambda: RawAnswer(status=204, headers=[]),
        description="The answer to an OPTIONS with Access-Control-Request-Method.",
    )
    response: RawAnswer = Field(
        default_factory=lambda: RawAnswer(status=200, headers=[]),
        description="The answer to any other request.",
    )


class _Server(_Model):
    """An origin the browser addresses: scheme, host name and the port as the browser sees it."""

    scheme: Literal["http", "https"] = "http"
    host: str = Field(pattern=HOST_PATTERN)
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="The origin's port as the browser sees it, as an app lists it "
        "(https://app.example.com: 443; http://localhost:3000: 3000); default: one the OS picks "
        "at run time. Not one of the Fetch standard's bad ports.",
    )

    @field_validator("port")
    @classmethod
    def _not_blocked(cls, port: int | None) -> int | None:
        return _http.port(port)

    @field_validator("host")
    @classmethod
    def _host(cls, host: str) -> str:
        return _host_name(host)


class Ready(_Model):
    """When a command's server is up: it answers an HTTP GET of `path` (any status)."""

    path: RoutePath = Field(default="/", json_schema_extra={"pattern": r"^/[^?#\s\\]*$"})
    timeout: float = Field(
        default=20.0, gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False, description="Seconds to wait."
    )


FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
# What each kind of backend is, said where a field does not apply to it.
BACKEND_KINDS = {
    "app": "an ASGI app imported from 'package.module:attribute'",
    "command": "a server the harness starts",
    "upstream": "a server that already runs",
}
_FIXTURE_ONLY = ("cors", "middleware", "routes")
_COMMAND_ONLY = ("env", "files", "ready")


class Backend(_Server):
    """A server the browser calls. By default the fixture FastAPI app
    (`cors_harness._backend.app`) with the `cors` settings given; or, with `app`, an ASGI app
    served in the harness's process; with `command`, a server the harness starts; with
    `upstream`, a server that already runs. Command and upstream backends sit behind the
    harness's recording proxy, which passes requests and answers on unchanged."""

    host: str = Field("localhost", pattern=HOST_PATTERN)
    internal: bool = Field(
        False,
        description="Reached only by another backend (nginx's proxy_pass to "
        "{backend:NAME.address}), never by the browser: it has no origin, requests cannot name "
        "it, and its exchanges are shown as hops behind the server the browser called.",
    )
    app: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="An ASGI app, 'package.module:attribute' as uvicorn takes it, served in the "
        "harness's process behind the recorder; its lifespan runs.",
    )
    factory: bool = Field(
        False,
        description="With app: the attribute is a function of no arguments returning the app.",
    )
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description="A server the harness starts (a Django or Node server, nginx), in the "
        "scenario file's directory, and stops on every path. It must listen on 127.0.0.1 at the "
        "port in $PORT (also {port} in command, env and files); {dir} is a fresh directory "
        "holding `files`. Placeholders as in allow_origins work too.",
    )
    env: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        {}, description="Environment variables for the command, on top of the harness's own."
    )
    files: dict[FileName, str] = Field(
        {}, description="Files written into {dir} before the command starts (a config)."
    )
    ready: Ready = Field(default_factory=lambda: Ready())
    upstream: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+$",
        description="A running server (`http://127.0.0.1:8000`): the browser's requests to this "
        "backend's origin go to it through a recording proxy, which passes requests and answers "
        "on unchanged; it answers for itself, so cors, middleware and routes do not apply.",
    )
    cors: Cors | None = Field(description="CORSMiddleware settings; null means no CORS middleware.")
    middleware: list[Layer] = Field(
        [], description="Extra layers, listed from the outermost in; each outside or inside CORS."
    )
    routes: list[RawRoute] = Field([], description="Raw routes, answered before any middleware.")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kinds = [k for k in BACKEND_KINDS if data.get(k) is not None]
        if len(kinds) > 1:
            raise AtKey(
                kinds[1],
                f"a backend is one server: give one of app, command and upstream, not "
                f"{kinds[0]} and {kinds[1]}",
            )
        kind = kinds[0] if kinds else None
        for key in _COMMAND_ONLY:
            if key in data and kind != "command":
                raise AtKey(key, "applies to a command backend only (command: [...])")
        if "factory" in data and kind != "app":
            raise AtKey("factory", "applies to an app backend only (app: 'module:attribute')")
        if kind is None:
            return data
        for key in _FIXTURE_ONLY:
            if key in data:
                raise AtKey(
                    key,
                    f"does not apply to {BACKEND_KINDS[kind]}, which answers for itself; leave "
                    f"it out, or leave out {kind} to use the fixture app",
                )
        return {**data, "cors": None}

    @model_validator(mode="after")
    def _internal_has_no_origin(self) -> Backend:
        if self.internal:
            for key in ("scheme", "host", "port"):
                if key in self.model_fields_set:
                    raise AtKey(
                        key,
                        "an internal backend has no origin: only other backends reach it, at "
                        "{backend:NAME.address}; leave it out",
                    )
        return self

    @property
    def kind(self) -> Literal["fixture", "app", "command", "upstream"]:
        if self.app is not None:
            return "app"
        if self.command is not None:
            return "command"
        if self.upstream is not None:
            return "upstream"
        return "fixture"


class Frontend(_Server):
    """A named origin: static pages served on its own port of the given host."""


class Cookie(_Model):
    """A cookie that must exist before the request, set by a real `Set-Cookie` from the backend."""

    name: Token
    value: str = Field("1", pattern=COOKIE_VALUE_PATTERN)
    samesite: Literal["lax", "strict", "none"] | None = None
    secure: bool = False
    httponly: bool = True
    set_by: Literal["navigation", "fetch"] = Field(
        "navigation",
        description=(
            "navigation: a top-level visit to the backend sets it (the user logged in there); "
            "fetch: a credentialed fetch from the request's frontend page sets it."
        ),
    )


def _outcome_shorthand(value: object) -> object:
    return {"outcome": value} if isinstance(value, str) else value


class Facts(_Model):
    """What a cell must show; every field left out is not checked."""

    outcome: Outcome | None = None
    preflight_sent: bool | None = None
    reached_server: bool | None = None
    reached_backends: list[str] | None = Field(
        default=None,
        description="In a scenario with several backends: each backend the actual request "
        "reached (not a preflight), in order, after any redirect.",
    )
    cookie_sent: bool | None = None
    cookie_stored: bool | None = Field(
        default=None,
        description="The browser's cookie jar held the request's cookies before it ran.",
    )
    status: int | None = Field(None, ge=100, le=599)
    readable_headers: list[str] | None = Field(
        None, description="Exactly which of the request's read_headers the page could read."
    )


BrowserFacts = Annotated[Facts, BeforeValidator(_outcome_shorthand)]


class Expectation(Facts):
    """Facts for every browser, with per-browser overrides (`webkit: blocked-response`)."""

    chromium: BrowserFacts | None = None
    firefox: BrowserFacts | None = None
    webkit: BrowserFacts | None = None

    def for_browser(self, browser: Browser) -> Facts:
        base = Facts.model_validate(self.model_dump(include=set(Facts.model_fields)))
        override: Facts | None = getattr(self, browser)
        if override is None:
            return base
        return base.model_copy(update=override.model_dump(exclude_none=True))


# How long repeats may wait: a minute in an ordinary scenario; half an hour in one marked slow,
# which runs only when asked (--slow), to measure the engines' caps on a preflight's Max-Age.
INTERVAL_S = 10.0
SPAN_S = 60.0
SLOW_INTERVAL_S = 900.0
SLOW_SPAN_S = 1800.0


class Repeat(_Model):
    """The same fetch() to the same URL, `times` in all, `interval` seconds apart (cache tests)."""

    times: int = Field(ge=2, le=30)
    interval: float = Field(
        gt=0,
        le=SLOW_INTERVAL_S,
        allow_inf_nan=False,
        description=f"Seconds; at most {INTERVAL_S:g}, or {SLOW_INTERVAL_S:g} in a slow scenario.",
    )

    def span_s(self) -> float:
        return (self.times - 1) * self.interval


# What only a fetch() has, and why a visit (a top-level navigation in a new tab) has none of it.
_NOT_FOR_VISITS = {
    "frontend": "no page makes it, as when the user opens the API's own site",
    "headers": "a navigation sends the browser's own",
    "body": "a visit is a GET",
    "json_body": "a visit is a GET",
    "credentials": "a navigation sends the cookies the browser's rules allow",
    "read_headers": "no script reads the response",
    "repeat": "only a fetch() repeats",
    "mode": "a navigation has no request mode to choose",
    "redirect": "a navigation always follows redirects",
    "timeout": "the page-load timeout (CORS_HARNESS_NAVIGATION_TIMEOUT) bounds it",
}


# What a WebSocket request cannot have: the page's `new WebSocket(url)` takes no method, headers,
# body or fetch() options.
_NOT_FOR_WEBSOCKETS = {
    "method": "a WebSocket handshake is always a GET",
    "headers": "new WebSocket() sets no request header",
    "body": "the page sends its message once the socket is open",
    "json_body": "the page sends its message once the socket is open",
    "credentials": "the handshake sends the cookies the browser's rules allow",
    "mode": "a WebSocket has no fetch() mode",
    "redirect": "a WebSocket handshake is never redirected",
    "read_headers": "the page reads no response header of a WebSocket",
    "repeat": "only a fetch() repeats",
    "visit": "a visit is a navigation",
}


class Request(_Model):
    """One fetch() made by a frontend page, a WebSocket it opens, or a top-level visit to the
    backend."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    frontend: str | None = Field(
        None, description="The frontend page that makes the fetch(); required unless visit."
    )
    backend: str | None = Field(
        None,
        description="The backend it calls, by name (backends:); default: the scenario's "
        "`backend`, or the first of its `backends`.",
    )
    kind: Literal["fetch", "websocket"] = Field(
        "fetch",
        description="fetch: a fetch() from the page; websocket: the page opens `new "
        "WebSocket()` to the path (ws:// or wss:// on the backend's origin), sends `ping` and "
        "waits for an answer. CORS does not apply to WebSockets: its outcome is allowed when "
        "the page exchanged messages, blocked-response when the server refused the handshake.",
    )
    visit: bool = Field(
        False,
        description="A top-level GET navigation to the backend in a new tab of the same browser "
        "context (a user logging in on the API's own site), not a fetch(); its outcome is "
        "allowed when the server answered, error when the navigation failed.",
    )
    after: str | None = Field(
        None,
        description="The name of another request of this scenario: this one runs once that one "
        "has completed, in the same browser context, with the cookies it left.",
    )
    sets_cookies: list[Token] = Field(
        [],
        description="Cookies this request's response must set (Set-Cookie) for the requests "
        "that run after it; when one is missing, their cells are error instead of observed.",
    )
    method: Token = Field(
        "GET", description="Not CONNECT, TRACE or TRACK, unless expected to fail."
    )
    path: RequestPath = Field("/", json_schema_extra={"pattern": r"^/[^#\s\\]*$"})
    headers: dict[RequestHeaderName, RequestHeaderValue] = Field(
        {}, description="Not the Fetch standard's forbidden request headers (Cookie, Origin, ...)."
    )
    body: str | None = None
    json_body: Any = Field(None, alias="json")
    credentials: Literal["omit", "same-origin", "include"] = "same-origin"
    mode: Literal["cors", "no-cors", "same-origin"] = Field(
        "cors",
        description="fetch()'s mode. no-cors: the request goes out as a simple request and the "
        "page gets an opaque answer (outcome `opaque`); same-origin: fetch() refuses another "
        "origin before sending anything.",
    )
    redirect: Literal["follow", "manual", "error"] = Field(
        "follow",
        description="fetch()'s redirect mode. manual: a redirect answer reaches the page as an "
        "opaque redirect (outcome `opaque`); error: a redirect makes fetch() fail.",
    )
    cookies: list[Cookie] = []
    read_headers: list[Token] = []
    timeout: float | None = Field(
        None,
        gt=0,
        le=MAX_TIMEOUT_S,
        allow_inf_nan=False,
        description="Seconds; default: the run's.",
    )
    repeat: Repeat | None = None
    expect: Annotated[Expectation | None, BeforeValidator(_outcome_shorthand)] = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for name, value in headers.items():
            first = seen.setdefault(name.lower(), name)
            if first != name:
                raise AtKey(
                    name,
                    f"{first} is set already; header names are case-insensitive and fetch() "
                    "would join both values in one header",
                )
            overrides = name.lower() in _http.METHOD_OVERRIDE_HEADERS
            method = _http.forbidden_method_in(value) if overrides else None
            if method is not None:
                raise AtKey(
                    name,
                    f"{name} naming {method}, a forbidden method, is a forbidden request header "
                    "in the Fetch standard: the browser drops it",
                )
        return headers

    @field_validator("json_body")
    @classmethod
    def _json(cls, value: Any) -> Any:
        bad = _http.not_json(value)
        if bad is not None:
            raise ValueError(
                f"{bad} is not JSON (YAML reads it as a {type(bad).__name__}); quote it to send "
                "it as a string"
            )
        return value

    @model_validator(mode="after")
    def _visitable(self) -> Request:
        if not self.visit:
            if self.frontend is None:
                raise AtKey("frontend", "required field is missing")
            return self
        if self.method.upper() != "GET":
            raise AtKey(
                "method",
                f"a visit is a GET navigation; a {self.method} needs a fetch(): leave out visit",
            )
        for name, why in _NOT_FOR_VISITS.items():
            if name in self.model_fields_set:
                key = "json" if name == "json_body" else name
                raise AtKey(
                    key,
                    f"does not apply to a visit, a top-level navigation and not a fetch(): {why}; "
                    "leave it out",
                )
        if any(cookie.set_by == "fetch" for cookie in self.cookies):
            raise AtKey(
                "cookies",
                "set_by: fetch sets a cookie from the request's frontend page, and a visit has "
                "none; use set_by: navigation",
            )
        return self

    @model_validator(mode="after")
    def _socket(self) -> Request:
        if self.kind != "websocket":
            return self
        for name, why in _NOT_FOR_WEBSOCKETS.items():
            if name in self.model_fields_set:
                key = "json" if name == "json_body" else name
                raise AtKey(key, f"does not apply to a WebSocket (kind: websocket): {why}")
        return self

    @model_validator(mode="after")
    def _fetchable(self) -> Request:
        # fetch() throws on a forbidden method; a request that expects exactly that may use one.
        expect = self.expect
        fails = expect is not None and all(
            expect.for_browser(b).outcome == "blocked-network" for b in BROWSERS
        )
        if self.method.upper() in _http.FORBIDDEN_METHODS and not fails:
            raise AtKey(
                "method",
                f"{self.method} is a forbidden method in the Fetch standard: fetch() throws "
                "instead of sending it; expect: blocked-network if that is the point",
            )
        if self.body is not None and self.json_body is not None:
            raise AtKey("json", "give either body or json, not both")
        if self.method.upper() in {"GET", "HEAD"}:
            for key, given in (("body", self.body), ("json", self.json_body)):
                if given is not None:
                    raise AtKey(
                        key,
                        f"a {self.method.upper()} request cannot have a body: fetch() throws; "
                        "use another method, e.g. POST",
                    )
        return self

    def fetch_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.json_body is not None and not any(h.lower() == "content-type" for h in headers):
            headers["Content-Type"] = "application/json"
        return headers

    def fetch_body(self) -> str | None:
        if self.json_body is not None:
            return json.dumps(self.json_body)
        return self.body


class Prediction(Facts):
    """What a claim says one request will show, in every browser."""

    request: str
    allowed: bool | None = Field(
        None, description="true: the page can read the response; false: any kind of blocked."
    )
    preflights: int | None = Field(
        None, ge=0, description="How many preflights reached the server over all repeats."
    )
    response_headers: dict[str, str | None] | None = Field(
        None,
        description=(
            "Headers of the actual request's response as sent: null = absent; a value = every "
            "comma-separated item of it is present (case-insensitive)."
        ),
    )
    preflight_headers: dict[str, str | None] | None = Field(
        None, description="The same, for the preflight's response."
    )


class Claim(_Model):
    """Advice, in our words, and what it predicts; the run gives it a verdict per browser."""

    id: str = Field(pattern=NAME_PATTERN)
    claim: str = Field(min_length=1)
    source: str = Field(
        min_length=1, description="Where the advice comes from: a URL or a reference name."
    )
    predicts: list[Prediction] = Field(min_length=1)


def _all_browsers() -> list[Browser]:
    return list(BROWSERS)


BackendName = Annotated[str, StringConstraints(pattern=FRONTEND_NAME_PATTERN)]
# The name `backend:` (one backend) goes by in evidence and in {backend:NAME}.
SHORTHAND_BACKEND = "backend"


class Scenario(_Model):
    """Backends, the frontends that call them, and the requests they make."""

    name: str = Field("", description="Set from the file name; not written in the file.")
    directory: str = Field(
        "", description="Set from the file's directory, where commands run; not written in it."
    )
    description: str = ""
    slow: bool = Field(
        False,
        description="The scenario waits minutes (repeats up to 900 s apart, 30 minutes in all): "
        "it runs only when asked, with `cors-harness run --slow` or pytest's --cors-slow.",
    )
    browsers: list[Browser] = Field(default_factory=_all_browsers, min_length=1)
    backend: Backend | None = Field(None, description="The one backend; or give backends.")
    backends: dict[BackendName, Backend] = Field(
        {},
        description="Several backends, by name; requests name theirs (backend: NAME), and "
        "{backend:NAME} is each one's origin. The first is the default.",
    )
    frontends: dict[FrontendName, Frontend] = Field(min_length=1)
    requests: list[Request] = Field(min_length=1)
    claims: list[Claim] = []

    @model_validator(mode="after")
    def _one_way_to_give_backends(self) -> Scenario:
        if self.backend is not None and self.backends:
            raise AtKey("backends", "give backend (one) or backends (several by name), not both")
        if self.backend is None and not self.backends:
            raise AtKey("backend", "required field is missing (or give backends: {NAME: ...})")
        return self

    def backend_specs(self) -> dict[str, Backend]:
        """Every backend by name; `backend:` goes by SHORTHAND_BACKEND."""
        if self.backend is not None:
            return {SHORTHAND_BACKEND: self.backend}
        return dict(self.backends)

    @property
    def default_backend(self) -> str:
        """The backend a request without `backend:` calls, and `{backend}` names."""
        return next(iter(self.backend_specs()))

    def backend_loc(self, name: str) -> Loc:
        """Where a backend is written in the file."""
        return ("backend",) if self.backend is not None else ("backends", name)

    def backend_of(self, request: Request) -> str:
        return request.backend or self.default_backend

    def request(self, name: str) -> Request:
        for request in self.requests:
            if request.name == name:
                return request
        raise KeyError(name)

    def steps_before(self, name: str) -> list[Request]:
        """The requests that request `name` runs after, by `after`, nearest first."""
        steps: list[Request] = []
        after = self.request(name).after
        while after is not None:
            # Only a scenario that skipped check_references can have a cycle: never loop on it.
            if len(steps) == len(self.requests):
                raise ValueError(f"request {name!r}: its after links form a cycle")
            steps.append(self.request(after))
            after = steps[-1].after
        return steps


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"].pop("name", None)
    schema["properties"].pop("directory", None)
    schema["$id"] = "https://github.com/cors-harness/cors-harness/scenario.schema.json"
    return schema
