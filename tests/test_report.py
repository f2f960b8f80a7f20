"""results.md and the terminal report: text from scenarios, browsers and servers stays text.

The Markdown is checked twice: as written (table rows split into the header's number of cells,
no heading, `<script` or `](javascript:` of its own) and as a CommonMark renderer with raw HTML
and any link scheme allowed turns it into HTML (only our own elements, the text as it came).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from markdown_it import MarkdownIt

from cors_harness._markdown import inline, link, one_line
from cors_harness.report import cell_text, markdown, terminal
from cors_harness.results import (
    BrowserInfo,
    BrowserVerdict,
    ClaimVerdict,
    Environment,
    Result,
    RunResults,
    ScenarioFailure,
    ScenarioInfo,
    SpecVerdict,
)


def hostile(label: str) -> str:
    """Text that breaks Markdown every way we know, starting with `# label`."""
    return (
        f"# {label} | cell\r\n## injected heading\n> quote\n- item\n+ item\n1. item\n\n"
        "`code` **bold** _em_ ~~gone~~ <script>alert(1)</script> <img src=x onerror=alert(1)> "
        "[click](javascript:alert(1)) ![img](data:image/png;base64,AA) <http://evil.example> "
        "&amp; \\| {.attr} \x1b[31m\tred ---\n---"
    )


SCENARIO = hostile("scenario")
REQUEST = hostile("request")
ORIGIN = hostile("origin")
CLAIM_ID = hostile("claim id")
CLAIM = hostile("claim")
OBSERVED = hostile("observed")
MISMATCH = f"readable_headers: x-h -> {hostile('header value')}"
ERROR = hostile("error")
VERSION = hostile("version")
ENGINE = hostile("engine")
EXECUTABLE = hostile("executable")
FAILURE = hostile("failure")
SAFE_SOURCE = "https://example.com/cors_(spec)?a=1&b=2"


def _cell(browser: str, **changes: Any) -> Result:
    fields: dict[str, Any] = {
        "scenario": SCENARIO,
        "request": REQUEST,
        "browser": browser,
        "browser_version": "1",
        "engine": "playwright-bundled",
        "frontend_origin": ORIGIN,
        "url": "http://localhost:2/",
        "method": hostile("method"),
        "credentials": hostile("credentials"),
        "outcome": "allowed",
        "preflight_sent": False,
        "reached_server": True,
        "cookie_sent": False,
        "status": 200,
        "readable_headers": {"x-h": hostile("header value")},
        "error": None,
        "console": [hostile("console")],
        "evidence": [],
    }
    fields.update(changes)
    return Result.model_validate(fields)


def hostile_run() -> RunResults:
    """Three browsers that disagree, an unmet expectation, an error and three claims."""
    results = [
        _cell("chromium", expectation_met=False, mismatches=[MISMATCH, MISMATCH + " 2"]),
        _cell("firefox", outcome="error", status=None, reached_server=False, error=ERROR),
        _cell(
            "webkit",
            outcome="blocked-response",
            status=None,
            spec=SpecVerdict(
                outcome="allowed",
                check=hostile("check"),
                reason=hostile("reason"),
                section="javascript:alert(1)",
                preflight_required=False,
                departures=[hostile("departure")],
                browser_reason=hostile("browser reason"),
                browser_check="acao-missing",
            ),
            deviates_from_spec=True,
        ),
    ]
    claims = [
        ClaimVerdict(
            scenario=SCENARIO,
            id=CLAIM_ID,
            claim=CLAIM,
            source="javascript:alert(1)",
            requests=[REQUEST],
            verdicts=[
                BrowserVerdict(browser="chromium", verdict="holds"),
                BrowserVerdict(browser="webkit", verdict="refuted", observed=[OBSERVED]),
            ],
        ),
        ClaimVerdict(
            scenario=SCENARIO,
            id="plain",
            claim="An ordinary claim.",
            source=SAFE_SOURCE,
            requests=[REQUEST],
            verdicts=[BrowserVerdict(browser="chromium", verdict="holds")],
        ),
        ClaimVerdict(
            scenario=SCENARIO,
            id="from-article",
            claim=hostile("article claim"),
            source="fastapi-cors-article",
            requests=[REQUEST],
            verdicts=[
                BrowserVerdict(
                    browser="firefox", verdict="inconclusive", observed=[hostile("inconclusive")]
                )
            ],
        ),
    ]
    return RunResults(
        started_at=hostile("started"),
        wall_seconds=1.0,
        environment=Environment(
            python=hostile("python"),
            platform=hostile("platform"),
            packages={"fastapi": hostile("fastapi")},
            browsers=[
                BrowserInfo(name="chromium", version=VERSION, engine=ENGINE, executable=EXECUTABLE),
                BrowserInfo(name="firefox", version="1", engine="playwright-bundled"),
                BrowserInfo(name="webkit", version="1", engine="playwright-bundled"),
            ],
        ),
        scenario_errors=[ScenarioFailure(path=hostile("failure path"), message=FAILURE)],
        scenarios=[
            ScenarioInfo(name=SCENARIO, path=hostile("path"), description=hostile("description"))
        ],
        results=results,
        claims=claims,
    )


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # Judge our escaping, not the renderer's own refusal of javascript: and data: links.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


class Rendered(HTMLParser):
    """The rendered HTML as the tests look at it: elements, and the text of each block."""

    BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "th", "td", "code")

    def __init__(self, markdown_text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {tag: [] for tag in self.BLOCKS}
        self.tables: list[list[list[str]]] = []
        self._open: list[tuple[str, int, list[str]]] = []
        # A loose list wraps each item's text in <p>; that text is the item's.
        self._p_in_li: list[bool] = []
        self.feed(_renderer().render(markdown_text))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        if tag == "p":
            self._p_in_li.append(bool(self._open) and self._open[-1][0] == "li")
            if self._p_in_li[-1]:
                return
        if tag in self.BLOCKS:
            # Keep the document's order for nested lists: reserve the slot at the start tag.
            self.texts[tag].append("")
            self._open.append((tag, len(self.texts[tag]) - 1, []))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.BLOCKS or (tag == "p" and self._p_in_li.pop()):
            return
        opened, index, parts = self._open.pop()
        assert opened == tag, f"<{opened}> closed by </{tag}>"
        text = "".join(parts).strip()
        self.texts[tag][index] = text
        if tag in ("th", "td"):
            self.tables[-1][-1].append(text)
        if self._open and tag == "code":
            self._open[-1][2].append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


def rendered_headings(page: Rendered, markdown_text: str) -> list[str]:
    """Each heading as `## text`, in document order."""
    levels = [line.split(" ", 1)[0] for line in markdown_text.splitlines() if line.startswith("#")]
    counters = {f"h{n}": 0 for n in range(1, 7)}
    out = []
    for level in levels:
        tag = f"h{len(level)}"
        out.append(f"{level} {page.texts[tag][counters[tag]]}")
        counters[tag] += 1
    # No heading of the renderer's that is not one of the `#` lines (a setext underline).
    assert counters == {tag: len(page.texts[tag]) for tag in counters}
    return out


def table_cells(line: str) -> list[str]:
    """The cells of a raw Markdown table row, honouring backslash escapes."""
    assert line.startswith("|"), line
    assert line.endswith("|"), line
    assert not line.endswith("\\|"), line
    cells, cell, escaped = [], "", False
    for char in line[1:-1]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(cell)
            cell = ""
            continue
        cell += char
    return [*cells, cell]


def raw_tables(markdown_text: str) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    previous = ""
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(table_cells(line))
        previous = line
    return tables


def check_markdown(
    markdown_text: str, headings: list[str], code: list[str] | None = None
) -> Rendered:
    """The checks every report passes; returns the rendered page for the report's own."""
    assert "\r" not in markdown_text
    assert "\x1b" not in markdown_text
    assert "\t" not in markdown_text
    for needle in ("<script", "<img", "<http://evil", "](javascript:", "](data:"):
        assert needle not in markdown_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown_text
    for table in raw_tables(markdown_text):
        header, delimiter, *rows = table
        assert delimiter == ["---"] * len(header)
        assert [len(row) for row in rows] == [len(header)] * len(rows)

    page = Rendered(markdown_text)
    assert rendered_headings(page, markdown_text) == headings
    ours = {"h1", "h2", "h3", "p", "ul", "li", "strong", "code", "a"}
    ours |= {"table", "thead", "tbody", "tr", "th", "td"}
    assert {tag for tag, _ in page.elements} <= ours
    assert page.texts["code"] == (code or [])
    for tag, attrs in page.elements:
        assert tag != "a" or attrs == {"href": SAFE_SOURCE}
    # The renderer pads or cuts rows to the header; the raw rows above are what can go wrong.
    assert [len(table) for table in page.tables] == [
        len(table) - 1 for table in raw_tables(markdown_text)
    ]
    return page


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        pytest.param(
            "http://localhost:8000 get-allowed.",
            "http://localhost:8000 get-allowed.",
            id="ordinary",
        ),
        pytest.param(
            'allow_origins=["*"] _em_ a__b', r'allow_origins=\["\*"\] \_em\_ a\_\_b', id="emphasis"
        ),
        pytest.param("a|b\r\nc\td", r"a\|b c d", id="cells-and-lines"),
        pytest.param("[x](javascript:alert(1))", r"\[x\]\(javascript:alert(1))", id="link"),
        pytest.param("<script>&amp;", "&lt;script&gt;&amp;amp;", id="html"),
        pytest.param("# h #", r"\# h \#", id="heading"),
        pytest.param("> quote", "&gt; quote", id="quote"),
        pytest.param("- item", r"\- item", id="bullet"),
        pytest.param("+ item", r"\+ item", id="plus"),
        pytest.param("12) item", r"12\) item", id="ordered"),
        pytest.param("=== x", r"\=== x", id="setext-underline"),
        pytest.param("`a` ~b~ {c} \\", r"\`a\` \~b\~ \{c\} \\", id="code-and-more"),
    ],
)
def test_inline_escapes_only_what_markdown_would_read(text: str, escaped: str) -> None:
    assert inline(text) == escaped
    assert Rendered(escaped).texts["p"] == [one_line(text)]


def test_only_http_urls_become_links() -> None:
    assert link(SAFE_SOURCE) == f"<{SAFE_SOURCE}>"
    assert link("javascript:alert(1)") == "javascript:alert(1)"
    assert link("data:text/html,<b>") == "data:text/html,&lt;b&gt;"
    assert link("http://a.example/ x") == "http://a.example/ x"


def test_results_markdown_keeps_hostile_text_as_text() -> None:
    run = hostile_run()
    text = markdown(run)
    page = check_markdown(
        text,
        headings=[
            "# cors-harness results",
            f"## {one_line(SCENARIO)}",
            "## Scenario files not run",
        ],
    )
    chromium, firefox, webkit = run.results
    heading = f"chromium {one_line(VERSION)}"
    assert page.tables == [
        [
            ["browser", "version", "engine", "executable"],
            ["chromium", one_line(VERSION), one_line(ENGINE), one_line(EXECUTABLE)],
            ["firefox", "1", "playwright-bundled", ""],
            ["webkit", "1", "playwright-bundled", ""],
        ],
        [
            ["request", "from", heading, "firefox 1", "webkit 1"],
            [
                f"{one_line(REQUEST)} ≠",
                f"{one_line(ORIGIN)} {one_line(hostile('method'))} "
                f"{one_line(hostile('credentials'))}",
                cell_text(chromium),
                cell_text(firefox),
                cell_text(webkit),
            ],
        ],
        [
            ["claim", heading, "firefox 1", "webkit 1"],
            [f"{one_line(CLAIM_ID)} ≠: {one_line(CLAIM)}", "holds", "", "refuted"],
            ["plain: An ordinary claim.", "holds", "", ""],
            [f"from-article: {one_line(hostile('article claim'))}", "", "inconclusive", ""],
        ],
    ]
    assert page.texts["li"] == [
        f"{one_line(CLAIM_ID)} [webkit] refuted: {one_line(OBSERVED)}",
        f"from-article [firefox] inconclusive: {one_line(hostile('inconclusive'))}",
        f"{one_line(REQUEST)} [chromium]: {one_line(MISMATCH)}; {one_line(MISMATCH)} 2",
        f"{one_line(REQUEST)} [firefox]: {one_line(ERROR)}",
        f"§ {one_line(REQUEST)} [webkit] departs from the Fetch standard (javascript:alert(1)): "
        f"{one_line(hostile('departure'))}",
        one_line(FAILURE),
    ]
    assert page.texts["p"][0].startswith(f"Run at {one_line(hostile('started'))}, 1.0 s.")
    assert one_line(hostile("fastapi")) in page.texts["p"][0]


def test_terminal_keeps_one_line_per_row() -> None:
    run = hostile_run()
    lines = terminal(run).splitlines()
    assert "\x1b" not in terminal(run)
    header, row = lines[1], lines[2]
    column = header.index("chromium")
    assert lines[0] == one_line(SCENARIO)
    assert row[:column] == f"  {one_line(REQUEST)} ≠".ljust(column)
    assert row[column:].startswith(cell_text(run.results[0]))
    assert row[header.index("firefox") :].startswith(cell_text(run.results[1]))
    assert row[header.index("webkit") :] == cell_text(run.results[2])
    assert lines[3:] == [
        f"  claim {one_line(CLAIM_ID)} ≠: chromium holds, webkit refuted",
        "  claim plain: chromium holds",
        "  claim from-article: firefox inconclusive",
        "",
        f"not run: {one_line(FAILURE)}",
    ]
