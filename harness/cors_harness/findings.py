"""FINDINGS.md from a run's results: disagreements first, then each claim and each scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness._markdown import inline, link
from cors_harness.report import cell_text, claims_disagree, disagreeing_rows, rows_by_scenario

if TYPE_CHECKING:
    from cors_harness.results import ClaimVerdict, Result, RunResults

ARTICLE = "fastapi-cors-article"
ARTICLE_NOTE = "the reference FastAPI CORS article"
COMMAND = (
    "scripts/run && .venv/bin/cors-harness findings reports/results.json "
    "--compare reports/automation/results.json > FINDINGS.md"
)


def _profiles(run: RunResults) -> str:
    names = {b.profile.name for b in run.environment.browsers if b.profile is not None}
    return "/".join(sorted(names)) or "unrecorded"


def findings(run: RunResults, automation: RunResults | None = None) -> str:
    """The findings of `run`; `automation`, the same cells run under the other launch profile,
    adds a section on what changes between the two."""
    browsers: list[str] = [b.name for b in run.environment.browsers]
    versions = ", ".join(
        f"{inline(b.name)} {inline(b.version)} ({inline(b.engine)})"
        for b in run.environment.browsers
    )
    packages = ", ".join(
        f"{k} {inline(run.environment.packages[k])}"
        for k in ("fastapi", "starlette", "uvicorn")
        if k in run.environment.packages
    )
    counts = run.verdict_counts()
    lines = [
        "# What we found",
        "",
        f"Generated from a real run on {inline(run.started_at)} ({len(run.results)} cells in "
        f"{run.wall_seconds:.0f} s) with {versions}; {packages}; Python "
        f"{inline(run.environment.python)} on {inline(run.environment.platform)}; launch "
        f"profile {_profiles(run)}. Nothing here is written by hand: regenerate with `{COMMAND}`.",
        "",
        f"{len(run.claims)} claims, per browser: {counts['holds']} hold, "
        f"{counts['refuted']} refuted, {counts['inconclusive']} inconclusive. "
        f"{len(run.errors())} cells were `error`.",
        "",
    ]
    lines += _disagreements(run, browsers)
    lines += _departures(run, browsers)
    if automation is not None:
        lines += _profile_changes(run, automation, browsers)
    lines += _claims(run, browsers)
    lines += _scenarios(run, browsers)
    return "\n".join(lines)


def _verdict_cells(claim: ClaimVerdict, browsers: list[str]) -> str:
    return " | ".join(f"**{v}**" if (v := claim.verdict(b)) else "not run" for b in browsers)


def _source(source: str) -> str:
    return ARTICLE_NOTE if source == ARTICLE else link(source)


def _disagreements(run: RunResults, browsers: list[str]) -> list[str]:
    lines = ["## Where the browsers disagree", ""]
    claims = [c for c in run.claims if claims_disagree(c)]
    rows = disagreeing_rows(run.results)
    if not claims and not rows:
        return [*lines, "Nowhere: every cell and every verdict was the same in all browsers.", ""]
    if claims:
        lines += [
            "| claim | " + _header(browsers) + " |",
            "|---|" + "---|" * len(browsers),
            *(
                f"| {inline(c.id)}: {inline(c.claim)} | {_verdict_cells(c, browsers)} |"
                for c in claims
            ),
            "",
        ]
    lines += [
        "| scenario | request | " + _header(browsers) + " |",
        "|---|---|" + "---|" * len(browsers),
    ]
    for scenario, request, row in rows:
        cells = " | ".join(_cell(row[b]) if b in row else "" for b in browsers)
        lines.append(f"| {inline(scenario)} | {inline(request)} | {cells} |")
    lines.append("")
    return lines


def _departures(run: RunResults, browsers: list[str]) -> list[str]:
    lines = [
        "## Where browsers depart from the Fetch standard",
        "",
        "Each fetch() cell is judged by the harness's Fetch-standard oracle "
        "(`cors_harness/fetch_standard.py`) from the requests and answers on the wire. A cell "
        "departs when the browser's outcome, the headers its page could read, or the requests it "
        "sent are not the standard's.",
        "",
    ]
    judged = [r for r in run.results if r.spec is not None]
    departing = [r for r in judged if r.deviates_from_spec]
    per_browser = ", ".join(
        f"{inline(b)} {sum(1 for r in departing if r.browser == b)}" for b in browsers
    )
    lines += [f"{len(departing)} of {len(judged)} judged cells depart ({per_browser}).", ""]
    if departing:
        lines += [
            "| scenario | request | browser | observed | the standard | how it departs |",
            "|---|---|---|---|---|---|",
        ]
        for result in departing:
            spec = result.spec
            assert spec is not None
            lines.append(
                f"| {inline(result.scenario)} | {inline(result.request)} | "
                f"{inline(result.browser)} | {cell_text(result)} | "
                f"{inline(spec.outcome)} ({inline(spec.check)}), {link(spec.section)} | "
                + "; ".join(inline(d) for d in spec.departures)
                + " |"
            )
        lines.append("")
    told = [
        r
        for r in judged
        if r.spec is not None and r.spec.browser_reason and r.spec.browser_check != r.spec.check
    ]
    if told:
        lines += [
            "Where the browser's console gives another reason than the standard's deciding check:",
            "",
            "| scenario | request | browser | the browser's reason | the standard's |",
            "|---|---|---|---|---|",
        ]
        for result in told:
            spec = result.spec
            assert spec is not None
            lines.append(
                f"| {inline(result.scenario)} | {inline(result.request)} | "
                f"{inline(result.browser)} | {inline(spec.browser_reason or '')} | "
                f"{inline(spec.check)}: {inline(spec.reason)} |"
            )
        lines.append("")
    return lines


def _claims(run: RunResults, browsers: list[str]) -> list[str]:
    lines = ["## Claims", ""]
    for title, wanted in (
        (f"From {ARTICLE_NOTE}", True),
        ("From common advice and the standards", False),
    ):
        claims = [c for c in run.claims if (c.source == ARTICLE) == wanted]
        if not claims:
            continue
        lines += [
            f"### {title}",
            "",
            "| claim | scenario | " + _header(browsers) + " |",
            "|---|---|" + "---|" * len(browsers),
        ]
        lines += [
            f"| **{inline(c.id)}**: {inline(c.claim)} | {inline(c.scenario)} "
            f"| {_verdict_cells(c, browsers)} |"
            for c in claims
        ]
        lines.append("")
        for claim in claims:
            seen: dict[str, list[str]] = {}
            for verdict in claim.verdicts:
                for observed in verdict.observed:
                    seen.setdefault(observed, []).append(verdict.browser)
            if seen or claim.source != ARTICLE:
                lines.append(f"- **{inline(claim.id)}** (source: {_source(claim.source)})")
            for observed, where in seen.items():
                lines.append(f"  - {inline(observed)} [{', '.join(map(inline, where))}]")
        lines.append("")
    return lines


def _scenarios(run: RunResults, browsers: list[str]) -> list[str]:
    lines = ["## Scenarios", ""]
    descriptions = {s.name: s for s in run.scenarios}
    for scenario, rows in rows_by_scenario(run.results).items():
        info = descriptions.get(scenario)
        lines += [f"### {inline(scenario)}", ""]
        if info is not None:
            lines += [inline(info.description), "", f"File: {inline(info.path)}.", ""]
        lines += [
            "| request | from | " + _header(browsers) + " |",
            "|---|---|" + "---|" * len(browsers),
        ]
        for request, row in rows.items():
            first = next(iter(row.values()))
            cells = " | ".join(_cell(row[b]) if b in row else "" for b in browsers)
            lines.append(
                f"| {inline(request)} | {inline(first.method)} {inline(first.credentials)} "
                f"| {cells} |"
            )
        lines.append("")
    return lines


def _facts(result: Result) -> tuple[object, ...]:
    return (
        result.outcome,
        result.status,
        result.preflight_sent,
        result.reached_server,
        tuple(result.reached_backends or ()),
        result.cookie_stored,
        result.cookie_sent,
    )


def _profile_changes(run: RunResults, other: RunResults, browsers: list[str]) -> list[str]:
    """Every cell observed under both profiles whose facts differ."""
    theirs = {(r.scenario, r.request, r.browser): r for r in other.results}
    changed = [
        (mine, theirs[key])
        for mine in run.results
        if (key := (mine.scenario, mine.request, mine.browser)) in theirs
        and _facts(mine) != _facts(theirs[key])
    ]
    compared = sum(1 for r in run.results if (r.scenario, r.request, r.browser) in theirs)
    lines = [
        "## What the automation profile changes",
        "",
        f"The same {compared} cells run again with `--profile {_profiles(other)}` (browsers set "
        f"up as Playwright and MiniBrowser do by themselves) instead of `--profile "
        f"{_profiles(run)}`. A cell that differs is a verdict a test suite run under "
        "automation defaults would get wrong for a user's browser.",
        "",
    ]
    if not changed:
        return [*lines, "No cell differs.", ""]
    lines += [
        f"| scenario | request | browser | {inline(_profiles(run))} | "
        f"{inline(_profiles(other))} |",
        "|---|---|---|---|---|",
    ]
    for mine, automated in changed:
        lines.append(
            f"| {inline(mine.scenario)} | {inline(mine.request)} | {inline(mine.browser)} | "
            f"{_cell(mine)}{_why(mine)} | {_cell(automated)}{_why(automated)} |"
        )
    return [*lines, ""]


def _why(result: Result) -> str:
    shown = result.outcome in {"error", "upgraded"} and result.error
    return f": {inline(result.error)}" if shown and result.error else ""


def _header(browsers: list[str]) -> str:
    return " | ".join(map(inline, browsers))


def _cell(result: Result) -> str:
    text = cell_text(result)
    if result.attempts:
        at = ", ".join(f"{a.at_s:g}" for a in result.attempts if a.preflight_sent)
        every = ", ".join(f"{a.at_s:g}" for a in result.attempts)
        text += f"; preflights at {at} s (requests at {every} s)"
    return text
