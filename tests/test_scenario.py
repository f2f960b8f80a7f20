"""Scenario files: error messages that name file, line and field; the model; the JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from cors_harness._exceptions import ScenarioError
from cors_harness.loading import load_scenario, parse_scenario
from cors_harness.scenario import Browser, Expectation, Facts, Request, scenario_json_schema

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
SCHEMA_FILE = SCENARIOS / "scenario.schema.json"
SCHEMA_COMMAND = "cors-harness schema scenario > scenarios/scenario.schema.json"
PATH = "scenarios/example.yaml"

# Line numbers in the error cases below count from this text; every edit keeps them in place.
VALID = """\
backend:
  cors:
    allow_origins: ["{frontend:app}"]
    allow_credentials: true
frontends:
  app: {host: localhost}
  admin: {host: admin.localhost}
requests:
  - name: first
    frontend: app
  - name: second
    frontend: admin
    method: POST
"""
#  1 backend:
#  2   cors:
#  3     allow_origins: ["{frontend:app}"]
#  4     allow_credentials: true
#  5 frontends:
#  6   app: {host: localhost}
#  7   admin: {host: admin.localhost}
#  8 requests:
#  9   - name: first
# 10     frontend: app
# 11   - name: second
# 12     frontend: admin
# 13     method: POST


def _edit(old: str, new: str) -> str:
    assert VALID.count(old) == 1, f"{old!r} must occur exactly once in VALID"
    return VALID.replace(old, new)


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, PATH)
    return caught.value


# (id, scenario text, line, field, part of the problem)
ERROR_CASES: list[tuple[str, str, int, str, str]] = [
    # YAML syntax: no field, the line where the syntax breaks.
    (
        "yaml-bad-indentation",
        _edit("    method: POST\n", "   method: POST\n"),
        13,
        "",
        "YAML syntax",
    ),
    (
        "yaml-mapping-value-in-value",
        _edit("allow_credentials: true\n", "allow_credentials: true: false\n"),
        4,
        "",
        "mapping values are not allowed",
    ),
    (
        "yaml-tab-indentation",
        _edit("    frontend: app\n", "\tfrontend: app\n"),
        10,
        "",
        "YAML syntax",
    ),
    # An unterminated quote is only noticed at the end of the stream (line 14, past the last
    # line); the error must point at the line where the quote opens.
    (
        "yaml-unterminated-quote",
        _edit("name: first", "name: 'first"),
        9,
        "",
        "YAML syntax",
    ),
    # Unknown fields, at every level.
    ("unknown-top-level", VALID + "extras: 1\n", 14, "extras", "unknown field 'extras'"),
    (
        "unknown-request-field",
        _edit("    method: POST\n", "    methd: POST\n"),
        13,
        "requests[1].methd",
        "unknown field 'methd'",
    ),
    (
        "unknown-cors-field",
        _edit("allow_credentials: true", "allow_credential: true"),
        4,
        "backend.cors.allow_credential",
        "unknown field 'allow_credential'",
    ),
    (
        "unknown-frontend-field",
        _edit("app: {host: localhost}", "app: {host: localhost, path: /app}"),
        6,
        "frontends.app.path",
        "unknown field 'path'",
    ),
    # Wrong types and out-of-range values.
    (
        "credentials-not-boolean",
        _edit("allow_credentials: true", "allow_credentials: maybe"),
        4,
        "backend.cors.allow_credentials",
        "valid boolean",
    ),
    (
        "negative-max-age",
        _edit("allow_credentials: true", "max_age: -1"),
        4,
        "backend.cors.max_age",
        "greater than or equal to 0",
    ),
    (
        "origins-not-a-list",
        _edit('allow_origins: ["{frontend:app}"]', "allow_origins: 42"),
        3,
        "backend.cors.allow_origins",
        "expected a list, got 42",
    ),
    (
        "unknown-browser",
        "browsers: [chromium, chrome]\n" + VALID,
        1,
        "browsers[1]",
        "got 'chrome'",
    ),
    # References to frontends.
    (
        "request-frontend-undeclared",
        _edit("    frontend: admin\n", "    frontend: nope\n"),
        12,
        "requests[1].frontend",
        "unknown frontend 'nope'; declared: admin, app",
    ),
    (
        "placeholder-in-origins-names-no-frontend",
        _edit('["{frontend:app}"]', '["http://localhost:3000", "{frontend:nope}"]'),
        3,
        "backend.cors.allow_origins[1]",
        "placeholder '{frontend:nope}' names no frontend; declared: admin, app",
    ),
    (
        "placeholder-in-regex-names-no-frontend",
        VALID.replace(
            "    allow_credentials: true\n",
            "    allow_credentials: true\n    allow_origin_regex: '^{frontend:nope}$'\n",
        ),
        5,
        "backend.cors.allow_origin_regex",
        "placeholder '{frontend:nope}' names no frontend; declared: admin, app",
    ),
    (
        "placeholder-without-name",
        _edit('"{frontend:app}"', '"{frontend:}"'),
        3,
        "backend.cors.allow_origins[0]",
        "malformed placeholder '{frontend:}'",
    ),
    (
        "placeholder-with-unknown-part",
        _edit('"{frontend:app}"', '"{frontend:app.path}"'),
        3,
        "backend.cors.allow_origins[0]",
        "malformed placeholder '{frontend:app.path}'",
    ),
    # Duplicates.
    (
        "duplicate-frontend-key",
        _edit("  admin: {host: admin.localhost}\n", "  app: {host: 127.0.0.1}\n"),
        7,
        "frontends.app",
        "appears twice",
    ),
    (
        "duplicate-key-in-request",
        VALID + "    method: PUT\n",
        14,
        "requests[1].method",
        "appears twice",
    ),
    (
        "duplicate-request-name",
        _edit("name: second", "name: first"),
        11,
        "requests[1].name",
        "request name 'first' is used twice",
    ),
    (
        "browser-listed-twice",
        "browsers: [webkit, firefox, webkit]\n" + VALID,
        1,
        "browsers[2]",
        "webkit is listed twice",
    ),
    # Request bodies and expectations.
    (
        "body-and-json",
        VALID + "    body: hello\n    json: {a: 1}\n",
        15,
        "requests[1].json",
        "either body or json",
    ),
    (
        "expect-shorthand-bad-outcome",
        VALID + "    expect: alowed\n",
        14,
        "requests[1].expect.outcome",
        "got 'alowed'",
    ),
    (
        "expect-override-bad-outcome",
        VALID + "    expect: {webkit: nope}\n",
        14,
        "requests[1].expect.webkit.outcome",
        "got 'nope'",
    ),
    (
        "expect-block-override-bad-outcome",
        VALID + "    expect:\n      outcome: allowed\n      webkit: nope\n",
        16,
        "requests[1].expect.webkit.outcome",
        "got 'nope'",
    ),
    # Missing and forbidden fields.
    (
        "missing-backend-cors",
        _edit(
            '  cors:\n    allow_origins: ["{frontend:app}"]\n    allow_credentials: true\n',
            "  host: localhost\n",
        ),
        1,
        "backend.cors",
        "required field is missing",
    ),
    (
        "missing-request-frontend",
        _edit("    frontend: app\n", "    method: GET\n"),
        9,
        "requests[0].frontend",
        "required field is missing",
    ),
    ("name-first-line", "name: mine\n" + VALID, 1, "name", "named after its file"),
    ("name-last-line", VALID + "name: mine\n", 14, "name", "named after its file"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "problem"),
    [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES],
)
def test_error_names_path_line_and_field(text: str, line: int, field: str, problem: str) -> None:
    error = _error(text)
    message = str(error)
    assert "\n" not in message
    assert (error.path, error.line, error.field) == (PATH, line, field), message
    assert problem in error.problem, message
    prefix = f"{PATH}:{line}: {field}: " if field else f"{PATH}:{line}: "
    assert message == prefix + error.problem


def test_error_counts_the_other_problems() -> None:
    error = _error(VALID + "    methd: PUT\n    pth: /x\n")
    assert str(error) == (
        f"{PATH}:14: requests[1].methd: unknown field 'methd'; did you mean 'method'? "
        "(and 1 more problem)"
    )


def test_not_a_mapping() -> None:
    error = _error("- backend\n- frontends\n")
    assert str(error) == (
        f"{PATH}:1: a scenario is a mapping with backend, frontends and requests, not a list"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("description: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}:1: not UTF-8 text (byte 0xe9); save the file as UTF-8"


# --- valid scenarios -----------------------------------------------------------------------


def test_valid_scenario_parses() -> None:
    scenario = parse_scenario(VALID, "scenarios/two-frontends.yaml")
    assert scenario.name == "two-frontends"
    assert scenario.backend.host == "localhost"
    assert scenario.backend.cors is not None
    assert scenario.backend.cors.allow_origins == ["{frontend:app}"]
    assert scenario.backend.cors.allow_credentials is True
    assert scenario.backend.cors.allow_methods == ["GET"]
    assert scenario.frontends["admin"].host == "admin.localhost"
    assert [r.name for r in scenario.requests] == ["first", "second"]
    assert scenario.request("first").method == "GET"
    assert scenario.request("second").method == "POST"
    assert scenario.request("second").frontend == "admin"
    assert scenario.request("first").expect is None


def test_null_cors_means_no_middleware() -> None:
    text = _edit(
        '  cors:\n    allow_origins: ["{frontend:app}"]\n    allow_credentials: true\n',
        "  cors: null\n",
    )
    assert parse_scenario(text, PATH).backend.cors is None


def test_default_browsers_are_all_three() -> None:
    assert parse_scenario(VALID, PATH).browsers == ["chromium", "firefox", "webkit"]


def test_browsers_can_be_narrowed() -> None:
    assert parse_scenario("browsers: [webkit]\n" + VALID, PATH).browsers == ["webkit"]


def test_expect_shorthand_is_an_outcome() -> None:
    scenario = parse_scenario(VALID + "    expect: allowed\n", PATH)
    assert scenario.request("second").expect == Expectation(outcome="allowed")


EXPECT_WITH_OVERRIDES = VALID + (
    "    expect:\n"
    "      outcome: allowed\n"
    "      preflight_sent: true\n"
    "      reached_server: true\n"
    "      webkit: blocked-response\n"
    "      firefox: {cookie_sent: false, status: 201}\n"
)


@pytest.mark.parametrize(
    ("browser", "facts"),
    [
        pytest.param(
            "chromium",
            Facts(outcome="allowed", preflight_sent=True, reached_server=True),
            id="no-override",
        ),
        pytest.param(
            "webkit",
            Facts(outcome="blocked-response", preflight_sent=True, reached_server=True),
            id="shorthand-override",
        ),
        pytest.param(
            "firefox",
            Facts(
                outcome="allowed",
                preflight_sent=True,
                reached_server=True,
                cookie_sent=False,
                status=201,
            ),
            id="mapping-override",
        ),
    ],
)
def test_for_browser_merges_override_over_defaults(browser: Browser, facts: Facts) -> None:
    expect = parse_scenario(EXPECT_WITH_OVERRIDES, PATH).request("second").expect
    assert expect is not None
    assert expect.for_browser(browser) == facts


@pytest.mark.parametrize(
    ("fields", "headers"),
    [
        pytest.param({"json": {"name": "widget"}}, {"Content-Type": "application/json"}, id="json"),
        pytest.param({"json": {}}, {"Content-Type": "application/json"}, id="empty-json-object"),
        pytest.param(
            {"json": [1], "headers": {"X-API-Key": "secret"}},
            {"X-API-Key": "secret", "Content-Type": "application/json"},
            id="json-and-other-header",
        ),
        pytest.param(
            {"json": {"a": 1}, "headers": {"content-type": "text/plain"}},
            {"content-type": "text/plain"},
            id="json-user-content-type",
        ),
        pytest.param(
            {"json": {"a": 1}, "headers": {"Content-Type": "application/merge-patch+json"}},
            {"Content-Type": "application/merge-patch+json"},
            id="json-user-content-type-capitalised",
        ),
        pytest.param({"body": "a=1"}, {}, id="text-body"),
        pytest.param({"headers": {"X-API-Key": "secret"}}, {"X-API-Key": "secret"}, id="no-body"),
    ],
)
def test_fetch_headers(fields: dict[str, object], headers: dict[str, str]) -> None:
    request = Request.model_validate({"name": "r", "frontend": "app", "method": "POST", **fields})
    assert request.fetch_headers() == headers


def test_fetch_body_serialises_json() -> None:
    request = Request.model_validate(
        {"name": "r", "frontend": "app", "method": "POST", "json": {"name": "widget"}}
    )
    assert request.fetch_body() == '{"name": "widget"}'


# --- JSON schema and the scenarios shipped in the repo -------------------------------------


def test_scenario_json_schema() -> None:
    schema = scenario_json_schema()
    assert isinstance(schema, dict)
    properties = schema["properties"]
    assert "backend" in properties
    assert "requests" in properties
    assert "frontends" in properties
    assert "name" not in properties
    request_properties = schema["$defs"]["Request"]["properties"]
    assert "json" in request_properties
    assert "json_body" not in request_properties


def test_schema_file_is_current() -> None:
    expected = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if not SCHEMA_FILE.exists():
        pytest.fail(f"scenarios/scenario.schema.json is missing; run `{SCHEMA_COMMAND}`")
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected, (
        f"scenarios/scenario.schema.json is stale; run `{SCHEMA_COMMAND}`"
    )


SCENARIO_FILES = sorted(
    p for p in SCENARIOS.glob("*.yaml") if not p.name.endswith(".baseline.yaml")
)


def test_repo_has_scenarios() -> None:
    assert SCENARIO_FILES, f"no scenarios/*.yaml under {REPO}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_repo_scenario_parses(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.requests


# --- what the load-time rules leave alone ---------------------------------------------------

# Each must load: a plausible mistake is what a scenario shows, not something to refuse.
LEGAL = [
    pytest.param('["{frontend:app}/"]', id="origin-with-trailing-slash"),
    pytest.param('["https://{frontend:app.host}:{frontend:app.port}"]', id="origin-other-scheme"),
    pytest.param(r"['http://.*\.localhost:\d+']", id="origin-written-as-a-regex"),
    pytest.param('["null", "*", "HTTP://LOCALHOST:3000"]', id="origin-null-star-capitals"),
]


@pytest.mark.parametrize("origins", LEGAL)
def test_plausible_allow_origins_load(origins: str) -> None:
    scenario = parse_scenario(_edit('["{frontend:app}"]', origins), PATH)
    assert scenario.backend.cors is not None
    assert scenario.backend.cors.allow_origins


def test_forbidden_method_loads_when_the_failure_is_expected() -> None:
    text = _edit("method: POST", "method: TRACE\n    expect: blocked-network")
    assert parse_scenario(text, PATH).request("second").method == "TRACE"


def test_method_override_to_an_allowed_method_loads() -> None:
    text = VALID + "    headers: {X-HTTP-Method-Override: PUT}\n"
    assert parse_scenario(text, PATH).request("second").headers == {"X-HTTP-Method-Override": "PUT"}


def test_header_value_is_kept_as_fetch_sends_it() -> None:
    text = VALID + '    headers: {X-API-Key: " secret\\t"}\n'
    assert parse_scenario(text, PATH).request("second").headers == {"X-API-Key": "secret"}


def test_raw_header_values_keep_their_whitespace() -> None:
    # The server writes them byte for byte: whitespace around a value is a case to test.
    text = _edit(
        "  cors:\n",
        '  routes:\n    - path: /raw\n      response: {headers: [[X-Odd, " a,  \\tb\\t"]]}\n'
        "  cors:\n",
    )
    route = parse_scenario(text, PATH).backend.routes[0]
    assert route.response.headers == [("X-Odd", " a,  \tb\t")]


def test_aliases_and_merge_keys_load() -> None:
    text = _edit("  app: {host: localhost}", "  app: &local {host: localhost}") + (
        "    json: {a: &three [1, 2, 3], b: *three}\n"
    )
    text = text.replace("  admin: {host: admin.localhost}", "  admin: {<<: *local, port: 3000}")
    scenario = parse_scenario(text, PATH)
    assert scenario.frontends["admin"].host == "localhost"
    assert scenario.request("second").json_body == {"a": [1, 2, 3], "b": [1, 2, 3]}


def test_quoted_keys_are_strings() -> None:
    text = VALID + "    json: {'1': one, 'null': none}\n"
    assert parse_scenario(text, PATH).request("second").json_body == {"1": "one", "null": "none"}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"headers": {"Cookie": "a=1"}}, id="forbidden-header"),
        pytest.param({"method": "connect"}, id="forbidden-method"),
        pytest.param({"json": {"a": 1}}, id="get-with-body"),
        pytest.param({"path": "/items#top"}, id="fragment"),
    ],
)
def test_rules_hold_for_models_made_in_code(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Request.model_validate({"name": "r", "frontend": "app", **fields})
