"""Scenario files: the typed model, and loading YAML with errors that name file, line and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from harness._exceptions import ScenarioError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

Browser = Literal["chromium", "firefox", "webkit"]
BROWSERS: tuple[Browser, ...] = get_args(Browser)
Outcome = Literal["allowed", "blocked-preflight", "blocked-response", "blocked-network", "error"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# Hosts every engine resolves to loopback by itself (checked: Chromium, Firefox, WebKitGTK).
HOST_PATTERN = r"^(localhost|127\.0\.0\.1|[a-z0-9]([a-z0-9-]*[a-z0-9])?\.localhost)$"
TOKEN_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
PLACEHOLDER = re.compile(
    r"\{(frontend|backend)(?::([A-Za-z0-9_-]+))?(?:\.(origin|host|port|scheme))?\}"
)
PLACEHOLDER_LIKE = re.compile(r"\{(frontend|backend)[^}]*\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cors(_Model):
    """CORSMiddleware's keyword arguments, one to one; origins may use `{frontend:NAME}`."""

    allow_origins: list[str] = []
    allow_origin_regex: str | None = None
    allow_methods: list[str] = ["GET"]
    allow_headers: list[str] = []
    allow_credentials: bool = False
    allow_private_network: bool = False
    expose_headers: list[str] = []
    max_age: int = Field(600, ge=0)


class AuthLayer(_Model):
    """Answers 401 to every request without an `Authorization` header, preflights included."""

    kind: Literal["auth-401"]
    placement: Literal["outside-cors", "inside-cors"] = "outside-cors"


class HeaderLayer(_Model):
    """Adds one response header to every response, as a second CORS layer or a proxy would."""

    kind: Literal["add-header"]
    placement: Literal["outside-cors", "inside-cors"] = "outside-cors"
    header: str = Field(pattern=TOKEN_PATTERN)
    value: str = Field(description="Placeholders as in allow_origins.")


Layer = Annotated[AuthLayer | HeaderLayer, Field(discriminator="kind")]


class RawAnswer(_Model):
    status: int = Field(200, ge=100, le=599)
    headers: list[tuple[str, str]] = Field(
        [], description="[name, value] pairs sent exactly so; a name may repeat."
    )

    @model_validator(mode="after")
    def _tokens(self) -> RawAnswer:
        for name, _ in self.headers:
            if not re.match(TOKEN_PATTERN, name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
        return self


class RawRoute(_Model):
    """A path answered with exactly the given headers, outside every middleware but the recorder.

    For edge cases CORSMiddleware cannot produce (a literal `*` with credentials, two
    `Access-Control-Allow-Origin` values).
    """

    path: str = Field(pattern=r"^/[^?#]*$")
    preflight: RawAnswer = Field(
        default_factory=lambda: RawAnswer(status=204, headers=[]),
        description="The answer to an OPTIONS with Access-Control-Request-Method.",
    )
    response: RawAnswer = Field(
        default_factory=lambda: RawAnswer(status=200, headers=[]),
        description="The answer to any other request.",
    )


class Backend(_Model):
    """The fixture FastAPI app (`backend_fixtures.app`), served on its own loopback port."""

    host: str = Field("localhost", pattern=HOST_PATTERN)
    cors: Cors | None = Field(description="CORSMiddleware settings; null means no CORS middleware.")
    middleware: list[Layer] = Field(
        [], description="Extra layers, listed from the outermost in; each outside or inside CORS."
    )
    routes: list[RawRoute] = Field([], description="Raw routes, answered before any middleware.")


class Frontend(_Model):
    """A named origin: static pages served on its own port of the given host."""

    scheme: Literal["http"] = "http"
    host: str = Field(pattern=HOST_PATTERN)
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="A fixed port, for an app under test that lists e.g. http://localhost:3000; "
        "default: one the OS picks at run time.",
    )


class Cookie(_Model):
    """A cookie that must exist before the request, set by a real `Set-Cookie` from the backend."""

    name: str = Field(pattern=TOKEN_PATTERN)
    value: str = Field("1", pattern=r"^[A-Za-z0-9._~-]*$")
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
    cookie_sent: bool | None = None
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


class Repeat(_Model):
    """The same fetch() to the same URL, `times` in all, `interval` seconds apart (cache tests)."""

    times: int = Field(ge=2, le=30)
    interval: float = Field(gt=0, le=10)

    @model_validator(mode="after")
    def _short(self) -> Repeat:
        if (self.times - 1) * self.interval > 60:
            raise ValueError("repeats may span at most 60 seconds")
        return self


class Request(_Model):
    """One fetch() made by a frontend page."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    frontend: str
    method: str = Field("GET", pattern=TOKEN_PATTERN)
    path: str = Field("/", pattern=r"^/")
    headers: dict[str, str] = {}
    body: str | None = None
    json_body: Any = Field(None, alias="json")
    credentials: Literal["omit", "same-origin", "include"] = "same-origin"
    cookies: list[Cookie] = []
    read_headers: list[str] = []
    timeout: float | None = Field(None, gt=0, le=120, description="Seconds; default: the run's.")
    repeat: Repeat | None = None
    expect: Annotated[Expectation | None, BeforeValidator(_outcome_shorthand)] = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_body(self) -> Request:
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either body or json, not both")
        for header in self.headers:
            if not re.match(TOKEN_PATTERN, header):
                raise ValueError(f"header name {header!r} is not a valid HTTP token")
        return self

    def fetch_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.json_body is not None and not any(h.lower() == "content-type" for h in headers):
            headers["Content-Type"] = "application/json"
        return headers

    def fetch_body(self) -> str | None:
        if self.json_body is not None:
            import json

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


class Scenario(_Model):
    """A backend, the frontends that call it, and the requests they make."""

    name: str = Field("", description="Set from the file name; not written in the file.")
    description: str = ""
    browsers: list[Browser] = Field(default_factory=_all_browsers, min_length=1)
    backend: Backend
    frontends: dict[str, Frontend] = Field(min_length=1)
    requests: list[Request] = Field(min_length=1)
    claims: list[Claim] = []

    def request(self, name: str) -> Request:
        for request in self.requests:
            if request.name == name:
                return request
        raise KeyError(name)


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"].pop("name", None)
    schema["$id"] = "https://github.com/cors-harness/cors-harness/scenario.schema.json"
    return schema


# --- loading -------------------------------------------------------------------------------


class _Located:
    """The YAML node tree of one file, to turn a field path into a line number."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, loc: Sequence[str | int]) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        line, node = key.start_mark.line + 1, value
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _duplicate_keys(
    node: yaml.Node | None, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*loc, key.value), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _placeholders(scenario: Scenario) -> Iterator[tuple[tuple[str | int, ...], str]]:
    cors = scenario.backend.cors
    if cors is None:
        return
    for index, origin in enumerate(cors.allow_origins):
        yield ("backend", "cors", "allow_origins", index), origin
    if cors.allow_origin_regex is not None:
        yield ("backend", "cors", "allow_origin_regex"), cors.allow_origin_regex


def _header_placeholders(scenario: Scenario) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for index, layer in enumerate(scenario.backend.middleware):
        if isinstance(layer, HeaderLayer):
            yield ("backend", "middleware", index, "value"), layer.value
    for index, route in enumerate(scenario.backend.routes):
        for part in ("preflight", "response"):
            answer: RawAnswer = getattr(route, part)
            for pair, (_, value) in enumerate(answer.headers):
                yield ("backend", "routes", index, part, "headers", pair, 1), value


def _check_references(scenario: Scenario, located: _Located, path: str) -> None:
    def fail(loc: tuple[str | int, ...], problem: str) -> None:
        raise ScenarioError(path, located.line(loc), _field(loc), problem)

    declared = ", ".join(sorted(scenario.frontends))
    for loc, text in (*_placeholders(scenario), *_header_placeholders(scenario)):
        for match in PLACEHOLDER_LIKE.finditer(text):
            full = PLACEHOLDER.fullmatch(match.group(0))
            if full is None:
                fail(
                    loc,
                    f"malformed placeholder {match.group(0)!r}; write "
                    "{frontend:NAME}, {frontend:NAME.host|port|scheme|origin} or {backend}",
                )
                return
            kind, name, _ = full.groups()
            if kind == "frontend" and name not in scenario.frontends:
                fail(loc, f"placeholder {match.group(0)!r} names no frontend; declared: {declared}")
            if kind == "backend" and name is not None:
                fail(loc, f"placeholder {match.group(0)!r}: write {{backend}} or {{backend.port}}")
    names: set[str] = set()
    for index, request in enumerate(scenario.requests):
        if request.name in names:
            fail(("requests", index, "name"), f"request name {request.name!r} is used twice")
        names.add(request.name)
        if request.frontend not in scenario.frontends:
            fail(
                ("requests", index, "frontend"),
                f"unknown frontend {request.frontend!r}; declared: {declared}",
            )
    if len(set(scenario.browsers)) != len(scenario.browsers):
        fail(("browsers",), "a browser is listed twice")
    paths: set[str] = set()
    for index, route in enumerate(scenario.backend.routes):
        if route.path in paths:
            fail(
                ("backend", "routes", index, "path"), f"raw route {route.path!r} is declared twice"
            )
        paths.add(route.path)
    _check_claims(scenario, fail)


def _check_claims(scenario: Scenario, fail: Callable[[tuple[str | int, ...], str], None]) -> None:
    requests = ", ".join(r.name for r in scenario.requests)
    ids: set[str] = set()
    for index, claim in enumerate(scenario.claims):
        if claim.id in ids:
            fail(("claims", index, "id"), f"claim id {claim.id!r} is used twice")
        ids.add(claim.id)
        for number, prediction in enumerate(claim.predicts):
            loc: tuple[str | int, ...] = ("claims", index, "predicts", number)
            if prediction.request not in {r.name for r in scenario.requests}:
                fail(
                    (*loc, "request"),
                    f"unknown request {prediction.request!r}; declared: {requests}",
                )
            if not prediction.model_dump(exclude_none=True, exclude={"request"}):
                fail(loc, "predicts nothing; give an outcome, allowed or another fact")
            if prediction.readable_headers is not None:
                read = {h.lower() for h in scenario.request(prediction.request).read_headers}
                unread = [h for h in prediction.readable_headers if h.lower() not in read]
                if unread:
                    fail(
                        (*loc, "readable_headers"),
                        f"{', '.join(unread)} not in the request's read_headers; add it there",
                    )


def parse_scenario(text: str, path: str, name: str | None = None) -> Scenario:
    """Validate scenario YAML; raise ScenarioError (`path:line: field: problem`) on any fault."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None and exc.context_mark is not None and mark.index >= len(text):
            # At the end of the stream (an unclosed quote or bracket) the context says where.
            mark = exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(path, line, "", f"YAML syntax: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, None, "", f"YAML: {exc}") from None
    located = _Located(root)
    for loc, line in _duplicate_keys(root):
        raise ScenarioError(path, line, _field(loc), "key appears twice in one mapping")
    if not isinstance(data, dict):
        raise ScenarioError(
            path,
            located.line(()),
            "",
            "a scenario is a mapping with backend, frontends and requests",
        )
    if "name" in data:
        raise ScenarioError(
            path, located.line(("name",)), "name", "extra field; a scenario is named after its file"
        )
    data["name"] = name if name is not None else Path(path).stem
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        problem = error["msg"]
        if error["type"] == "extra_forbidden":
            problem = f"unknown field {loc[-1]!r}; see scenarios/scenario.schema.json"
        elif error["type"] == "missing":
            problem = "required field is missing"
        elif error["type"] == "literal_error":
            problem = f"{problem}; got {error['input']!r}"
        more = len(exc.errors()) - 1
        if more:
            problem += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ScenarioError(path, located.line(loc), _field(loc), problem) from None
    _check_references(scenario, located, path)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), None, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), None, "", "not UTF-8 text") from None
    return parse_scenario(text, str(path))


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (their `*.yaml`/`*.yml`, sorted) into scenario files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in {".yaml", ".yml"} and not p.name.endswith(".baseline.yaml")
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError(str(path), None, "", "no such file or directory")
    return files
