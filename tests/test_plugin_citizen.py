"""The plugin as a good pytest citizen, in projects that are not this repository: it collects
only what is clearly ours, its options live beside pytest-playwright's or stand in for them,
`cors_observe` tests are items per browser, and --lf, --ff and xdist work on our items."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.test_plugin import EXPECTING, SCENARIO

if TYPE_CHECKING:
    import pytest

APP = """\
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware


def create_app(origins):
    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_headers=["Authorization"])

    @app.get("/api/me")
    def me():
        return {"me": 1}

    return app


# As many apps have it: the frontend's origin hard-coded.
app = create_app(["http://localhost:38523"])
"""
COMMON = """\
import pytest
from myapp import create_app

FRONTENDS = {"spa": {"host": "localhost"}, "other": {"host": "127.0.0.1"}}
ME = {"name": "me", "frontend": "spa", "path": "/api/me", "headers": {"Authorization": "t"}}
STRANGER = {"name": "stranger", "frontend": "other", "path": "/api/me"}


def factory(origins):
    return create_app([origins["spa"]])
"""
NOT_OURS = "# a load test's settings\nusers: 50\nspawn_rate: 5\n"


def _ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


# --- collection ---------------------------------------------------------------------------


def test_a_project_without_scenarios_runs_as_if_the_plugin_were_not_installed(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "loadtest.yaml").write_text(NOT_OURS)
    (pytester.path / "config.yml").write_text("debug: true\n")
    pytester.makepyfile(
        test_plain="def test_passes():\n    pass\n\n\ndef test_fails():\n    assert False\n"
    )
    with_plugin = pytester.runpytest_subprocess()
    without = pytester.runpytest_subprocess("-p", "no:cors_harness")
    assert with_plugin.ret == without.ret == 1
    assert with_plugin.parseoutcomes() == without.parseoutcomes() == {"passed": 1, "failed": 1}
    assert "loadtest" not in with_plugin.stdout.str()


def test_files_named_cors_yaml_are_collected_anywhere_other_yaml_only_where_named(
    pytester: pytest.Pytester,
) -> None:
    api = pytester.path / "tests" / "api"
    api.mkdir(parents=True)
    (api / "users.cors.yaml").write_text(SCENARIO)
    # A baseline is no scenario, even one whose scenario is gone.
    (api / "gone.cors.baseline.yaml").write_text("not: a baseline\n")
    (api / "orders.cors.yml").write_text(SCENARIO.replace("  stranger: {host: 127.0.0.1}\n", ""))
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "loadtest.yaml").write_text(NOT_OURS)
    # The orders scenario lost its stranger frontend: one line, a collection error.
    found = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--browser", "webkit", "--continue-on-collection-errors"
    )
    assert _ids(found) == [
        f"tests/api/users.cors.yaml::{request}[webkit]"
        for request in ("list", "put-json", "from-stranger")
    ]
    found.stdout.fnmatch_lines(
        [
            "*tests/api/orders.cors.yml:11: requests[[]2].frontend: unknown frontend 'stranger'; "
            "declared: app"
        ]
    )
    assert "loadtest" not in found.stdout.str()
    assert "gone" not in found.stdout.str()

    # The project says scenarios/ holds scenarios: a file there that is not one is an error.
    pytester.makeini("[pytest]\ncors_scenarios = scenarios\n")
    (api / "orders.cors.yml").unlink()
    named = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--browser", "webkit", "--continue-on-collection-errors"
    )
    named.stdout.fnmatch_lines(
        ["*scenarios/loadtest.yaml:2: users: unknown field 'users'; did you mean *"]
    )
    assert len(_ids(named)) == 3


# --- options ------------------------------------------------------------------------------


def test_browser_option_without_pytest_playwright(pytester: pytest.Pytester) -> None:
    (pytester.path / "api.cors.yaml").write_text(EXPECTING)
    picked = pytester.runpytest_subprocess(
        "-p", "no:playwright", "--browser", "firefox", "--browser", "webkit", "--collect-only"
    )
    assert sorted({line.split("[")[-1] for line in picked.outlines if "<CellItem" in line}) == [
        "firefox]>",
        "webkit]>",
    ]
    wrong = pytester.runpytest_subprocess("-p", "no:playwright", "--browser", "safari")
    assert wrong.ret == 4
    wrong.stderr.fnmatch_lines(["*--browser: invalid choice: 'safari' (choose from *webkit*)"])
    # It reaches the harness, in xdist workers too.
    ran = pytester.runpytest_subprocess(
        "-p", "no:playwright", "--browser", "chromium", "-k", "list", "-n", "2"
    )
    ran.assert_outcomes(passed=1)


def test_a_browser_option_of_the_project_s_own_is_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "def pytest_addoption(parser):\n"
        "    parser.addoption('--browser', default='chrome', help='for our Selenium tests')\n"
    )
    pytester.makepyfile(
        test_own="def test_own(pytestconfig):\n"
        "    assert pytestconfig.getoption('browser') == 'edge'\n"
    )
    pytester.runpytest_subprocess("-p", "no:playwright", "--browser", "edge").assert_outcomes(
        passed=1
    )


def test_page_only_options_are_named_once_when_cells_ran(pytester: pytest.Pytester) -> None:
    (pytester.path / "api.cors.yaml").write_text(EXPECTING)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    line = (
        "cors-harness: --tracing, --video do not apply to CORS cells, only to "
        "pytest-playwright's page tests"
    )
    options = ["--tracing", "on", "--video", "retain-on-failure", "--browser", "chromium"]
    with_cells = pytester.runpytest_subprocess(*options, "-k", "list or plain", "-n", "2")
    with_cells.assert_outcomes(passed=2)
    assert with_cells.outlines.count(line) == 1
    # Only page tests (here a plain one) ran: the options were for them; nothing to say.
    without_cells = pytester.runpytest_subprocess(*options, "test_plain.py")
    without_cells.assert_outcomes(passed=1)
    assert "cors-harness:" not in without_cells.stdout.str()


def test_headed_without_a_display_gets_a_virtual_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    (pytester.path / "api.cors.yaml").write_text(EXPECTING)
    result = pytester.runpytest_subprocess(
        "--headed", "--browser", "chromium", "--browser", "firefox", "-k", "list"
    )
    result.assert_outcomes(passed=2)


# --- cors_observe ----------------------------------------------------------------------------


def test_cors_observe_tests_are_items_per_browser(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_app="""
        import pytest

        def test_me(cors_observe):
            pass

        @pytest.mark.parametrize("cors_browser", ["webkit"])
        def test_webkit_only(cors_observe):
            pass

        def test_unrelated():
            pass
        """
    )
    every = pytester.runpytest_subprocess("--collect-only", "-q")
    assert _ids(every) == [
        "test_app.py::test_me[chromium]",
        "test_app.py::test_me[firefox]",
        "test_app.py::test_me[webkit]",
        "test_app.py::test_webkit_only[webkit]",
        "test_app.py::test_unrelated",
    ]
    by_marker = pytester.runpytest_subprocess("--collect-only", "-q", "-m", "webkit and cors")
    assert _ids(by_marker) == [
        "test_app.py::test_me[webkit]",
        "test_app.py::test_webkit_only[webkit]",
    ]
    by_keyword = pytester.runpytest_subprocess("--collect-only", "-q", "-k", "firefox")
    assert _ids(by_keyword) == ["test_app.py::test_me[firefox]"]
    # A test that chose webkit is not run when --browser leaves webkit out.
    selected = pytester.runpytest_subprocess(
        "--collect-only", "-q", "-p", "no:playwright", "--browser", "chromium"
    )
    assert _ids(selected) == ["test_app.py::test_me[chromium]", "test_app.py::test_unrelated"]
    selected.stdout.fnmatch_lines(["2/3 tests collected (1 deselected)*"])


def test_a_test_parametrized_by_pytest_playwright_observes_its_browser_name(
    pytester: pytest.Pytester,
) -> None:
    # Not one item per browser_name and per cors_browser: one per browser, as with page alone.
    pytester.makepyfile(
        test_both="""
        def test_both(browser_name, cors_observe, cors_browser):
            assert cors_browser == browser_name
        """
    )
    result = pytester.runpytest_subprocess("--browser", "firefox", "--browser", "webkit", "-v")
    result.assert_outcomes(passed=2)
    assert [line.split()[0] for line in result.outlines if " PASSED " in line] == [
        "test_both.py::test_both[firefox]",
        "test_both.py::test_both[webkit]",
    ]
    marked = pytester.runpytest_subprocess(
        "--browser",
        "firefox",
        "--browser",
        "webkit",
        "-m",
        "webkit and cors",
        "--collect-only",
        "-q",
    )
    assert _ids(marked) == ["test_both.py::test_both[webkit]"]


def test_cors_observe_failures_show_the_cells_and_the_report_has_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(myapp=APP)
    pytester.makepyfile(
        test_app=COMMON
        + """

def test_spa(cors_observe):
    cells = cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME, STRANGER])
    assert cells["me"].outcome == "allowed"
    assert cells["stranger"].outcome == "blocked-response"


def test_stranger(cors_observe):
    cells = cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[STRANGER])
    assert cells["stranger"].outcome == "allowed"
"""
    )
    result = pytester.runpytest_subprocess(
        "--browser", "chromium", "--browser", "firefox", "-n", "2", "--cors-report", "out"
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_stranger[[]chromium] _*",
            '>       assert cells[[]"stranger"].outcome == "allowed"',
            "E       AssertionError: assert 'blocked-response' == 'allowed'",
            "*- CORS cells -*",
            "CORS cell: test_app.py::test_stranger :: stranger [[]chromium]",
            "browser: chromium *",
            "request: GET http://localhost:*/api/me?cors_probe=* from http://127.0.0.1:*, "
            "credentials same-origin",
            "observed: blocked-response; preflight_sent=false, reached_server=true, *",
            "browser error: TypeError: Failed to fetch*",
            "evidence (as recorded on the server):",
            "  request: GET /api/me?cors_probe=*",
            "    > origin: http://127.0.0.1:*",
            "  response: 200",
            "    < content-type: application/json",
        ]
    )
    report = json.loads((pytester.path / "out" / "results.json").read_text())
    assert sorted((r["scenario"], r["request"], r["browser"]) for r in report["results"]) == [
        ("test_app.py::test_spa", request, browser)
        for request in ("me", "stranger")
        for browser in ("chromium", "firefox")
    ] + [("test_app.py::test_stranger", "stranger", b) for b in ("chromium", "firefox")]


def test_misuse_of_cors_observe_is_one_line_each(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(myapp=APP)
    pytester.makepyfile(
        test_misuse=COMMON
        + """

def test_unknown_frontend(cors_observe):
    cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[{**ME, "frontend": "spq"}])


def test_missing_field(cors_observe):
    cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[{"frontend": "spa"}])


def test_not_a_web_origin(cors_observe):
    cors_observe("myapp:app", frontends={"spa": "ftp://localhost:38523"}, requests=[ME])


def test_not_an_origin(cors_observe):
    cors_observe("myapp:app", frontends={"spa": "http://localhost:38523/app"}, requests=[ME])


def test_an_origin_stands_for_its_frontend(cors_observe):
    cells = cors_observe("myapp:app", frontends={"spa": "http://localhost:38523"}, requests=[ME])
    assert cells["me"].outcome == "allowed"
    assert cells["me"].frontend_origin == "http://localhost:38523"


def test_browsers_argument(cors_observe):
    cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME], browsers=["firefox"])


@pytest.mark.parametrize("cors_browser", ["safari"])
def test_unknown_browser(cors_observe):
    cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME])


def test_misspelt_request(cors_observe):
    cells = cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME])
    cells["nme", "chromium"]


def test_cell_of_another_browser(cors_observe):
    cells = cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME])
    cells["me", "webkit"]
"""
    )
    result = pytester.runpytest_subprocess("--browser", "chromium")
    result.assert_outcomes(passed=1, failed=8)
    lines = result.outlines
    shape = "write an origin as 'SCHEME://HOST:PORT', or give {'host': ..., 'port': ...}"
    result.stdout.fnmatch_lines(["cors_observe: frontends.spa.scheme: Input should be 'http'*"])
    for line in [
        "cors_observe: requests[0].frontend: unknown frontend 'spq'; declared: other, spa",
        "cors_observe: requests[0].name: Field required",
        f"cors_observe: frontends.spa: 'http://localhost:38523/app' is not an origin; {shape}",
        "cors_observe: browsers= is not taken: each item observes one browser (chromium here); "
        "choose them with --browser, -m or @pytest.mark.parametrize('cors_browser', ...)",
        "cors_observe: unknown browser 'safari'; choose chromium, firefox, webkit",
        "E       cors_harness.plugin.MissingCell: no request 'nme'; requests: me; "
        "did you mean 'me'?",
        "E       cors_harness.plugin.MissingCell: no webkit cell of 'me': this item observes "
        "chromium only (one item per browser); cells['me'] is its cell",
    ]:
        assert line in lines, line
    text = result.stdout.str()
    internals = ("Traceback", "During handling", "KeyError", "ValidationError", "pydantic")
    for internal in internals:
        assert internal not in text, internal


def test_a_browser_that_cannot_launch_fails_cors_observe_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(myapp=APP)
    pytester.makepyfile(
        test_app=COMMON
        + """

def test_me(cors_observe):
    cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME])
"""
    )
    result = pytester.runpytest_subprocess(
        "--browser", "chromium", "--browser-channel", "no-such-channel"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["cors_observe: chromium could not be launched: chromium: *no-such-channel*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_fixed_port_is_taken_in_turns_by_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(myapp=APP)
    pytester.makepyfile(
        test_fixed=COMMON
        + """

@pytest.mark.parametrize("n", range(6))
def test_fixed_origin(cors_observe, n):
    frontends = {"spa": {"host": "localhost", "port": 38523}}
    cells = cors_observe("myapp:app", frontends=frontends, requests=[ME])
    assert cells["me"].outcome == "allowed"
"""
    )
    result = pytester.runpytest_subprocess("--browser", "chromium", "-n", "2")
    result.assert_outcomes(passed=6)


# --- --lf and --ff ---------------------------------------------------------------------------


def test_last_failed_and_failed_first_select_scenario_cells(pytester: pytest.Pytester) -> None:
    (pytester.path / "api.cors.yaml").write_text(EXPECTING)
    # list passes; put-json (no expectation, no baseline) and from-stranger fail.
    pytester.runpytest_subprocess("--browser", "chromium").assert_outcomes(passed=1, failed=2)
    failed = ["api.cors.yaml::put-json[chromium]", "api.cors.yaml::from-stranger[chromium]"]

    last = pytester.runpytest_subprocess("--browser", "chromium", "--lf", "-v")
    last.assert_outcomes(failed=2)
    last.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures"])
    assert [line.split()[0] for line in last.outlines if " FAILED " in line] == failed

    first = pytester.runpytest_subprocess("--browser", "chromium", "--ff", "-v")
    first.assert_outcomes(passed=1, failed=2)
    first.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures first"])
    ran = [line.split()[0] for line in first.outlines if line.endswith("%]")]
    assert ran == [*failed, "api.cors.yaml::list[chromium]"]


# --- a project with a package of the name we once used -----------------------------------


def test_a_project_with_its_own_harness_package_keeps_it_and_the_plugin_works(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(myapp=APP)
    package = pytester.mkpydir("harness")
    (package / "__init__.py").write_text('NAME = "theirs"\n')
    (package / "plugin.py").write_text('WHO = "theirs too"\n')
    pytester.makepyfile(
        test_own=COMMON
        + """

def test_their_harness_is_theirs():
    import harness
    import harness.plugin

    assert (harness.NAME, harness.plugin.WHO) == ("theirs", "theirs too")


def test_cells(cors_observe):
    cells = cors_observe(app_factory=factory, frontends=FRONTENDS, requests=[ME, STRANGER])
    assert cells["me"].outcome == "allowed"
    assert cells["stranger"].outcome == "blocked-response"
"""
    )
    result = pytester.runpytest_subprocess("--browser", "chromium", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
