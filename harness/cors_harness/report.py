"""Writing a run for machines (`results.json`) and for people (`results.md`, the terminal)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cors_harness._markdown import inline, link, one_line

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from cors_harness.results import ClaimVerdict, Result, RunResults

LEGEND = (
    "P = preflight reached the server, S = actual request reached the server, "
    "J = its cookies were in the browser's jar, C = cookie sent; "
    "✗ = expectation not met; ≠ = browsers disagree; § = departs from the Fetch standard"
)


def cell_text(result: Result) -> str:
    marks = "".join(
        mark
        for mark, on in (
            ("P", result.preflight_sent),
            ("S", result.reached_server),
            ("J", result.cookie_stored is True),
            ("C", result.cookie_sent),
        )
        if on
    )
    text: str = result.outcome
    if result.outcome == "allowed" and result.status is not None:
        text += f" {result.status}"
    if marks:
        text += f" [{marks}]"
    # Where the actual request went, when a redirect took it further than its first backend.
    if result.reached_backends is not None and len(result.reached_backends) > 1:
        text += " " + ">".join(result.reached_backends)
    if result.attempts:
        preflighted = sum(1 for a in result.attempts if a.preflight_sent)
        text += f" {preflighted}/{len(result.attempts)} preflighted"
    if result.deviates_from_spec:
        text += " §"
    if result.expectation_met is False:
        text = f"✗ {text}"
    return text


def rows_by_scenario(results: Iterable[Result]) -> dict[str, dict[str, dict[str, Result]]]:
    """scenario -> request -> browser -> cell, in the order the cells were run."""
    table: dict[str, dict[str, dict[str, Result]]] = {}
    for result in results:
        table.setdefault(result.scenario, {}).setdefault(result.request, {})[result.browser] = (
            result
        )
    return table


def _browsers(run: RunResults) -> list[str]:
    return list(dict.fromkeys(r.browser for r in run.results))


def _disagree(row: dict[str, Result]) -> bool:
    seen = {
        (
            r.outcome,
            r.preflight_sent,
            r.reached_server,
            tuple(r.reached_backends or ()),
            r.cookie_stored,
            r.cookie_sent,
            r.status,
            tuple(a.preflight_sent for a in r.attempts),
        )
        for r in row.values()
        if r.outcome != "error"
    }
    return len(seen) > 1


def disagreeing_rows(results: Iterable[Result]) -> list[tuple[str, str, dict[str, Result]]]:
    """(scenario, request, cells) for each request the browsers did not treat alike."""
    return [
        (scenario, request, row)
        for scenario, rows in rows_by_scenario(results).items()
        for request, row in rows.items()
        if _disagree(row)
    ]


def _browser_heading(run: RunResults, browser: str) -> str:
    info = next((b for b in run.environment.browsers if b.name == browser), None)
    name = inline(browser)
    return f"{name} {inline(info.version)}" if info else f"{name} (unavailable)"


def verdict_text(claim: ClaimVerdict, browsers: list[str]) -> list[str]:
    return [claim.verdict(b) or "" for b in browsers]


def claims_disagree(claim: ClaimVerdict) -> bool:
    return len({v.verdict for v in claim.verdicts if v.verdict != "inconclusive"}) > 1


def _claims_markdown(run: RunResults, claims: list[ClaimVerdict], browsers: list[str]) -> list[str]:
    if not claims:
        return []
    lines = [
        "| claim | " + " | ".join(_browser_heading(run, b) for b in browsers) + " |",
        "|---|" + "---|" * len(browsers),
    ]
    for claim in claims:
        mark = " ≠" if claims_disagree(claim) else ""
        lines.append(
            f"| **{inline(claim.id)}**{mark}: {inline(claim.claim)} | "
            + " | ".join(verdict_text(claim, browsers))
            + " |"
        )
    lines.append("")
    for claim in claims:
        for verdict in claim.verdicts:
            if verdict.observed:
                lines.append(
                    f"- {inline(claim.id)} [{inline(verdict.browser)}] {verdict.verdict}: "
                    + "; ".join(inline(o) for o in verdict.observed)
                )
    lines.append("")
    return lines


def markdown(run: RunResults) -> str:
    env = run.environment
    lines = [
        "# cors-harness results",
        "",
        f"Run at {inline(run.started_at)}, {run.wall_seconds:.1f} s. "
        f"Python {inline(env.python)}, "
        + ", ".join(f"{inline(k)} {inline(v)}" for k, v in env.packages.items())
        + ".",
        "",
        "| browser | version | engine | executable |",
        "|---|---|---|---|",
        *(
            f"| {inline(b.name)} | {inline(b.version)} | {inline(b.engine)} "
            f"| {inline(b.executable or '')} |"
            for b in env.browsers
        ),
        "",
        LEGEND,
        "",
    ]
    if run.interrupted is not None:
        lines[2:2] = [
            f"**Interrupted by {inline(run.interrupted)}**: the cells below are those observed "
            "before the run stopped; the rest were not run.",
            "",
        ]
    browsers = _browsers(run)
    for scenario, rows in rows_by_scenario(run.results).items():
        lines += [
            f"## {inline(scenario)}",
            "",
            "| request | from | " + " | ".join(_browser_heading(run, b) for b in browsers) + " |",
            "|---|---|" + "---|" * len(browsers),
        ]
        for request, row in rows.items():
            first = next(iter(row.values()))
            name = f"{inline(request)} ≠" if _disagree(row) else inline(request)
            cells = [cell_text(row[b]) if b in row else "" for b in browsers]
            lines.append(
                f"| {name} | {inline(first.frontend_origin)} {inline(first.method)} "
                f"{inline(first.credentials)} | " + " | ".join(cells) + " |"
            )
        lines.append("")
        lines += _claims_markdown(run, [c for c in run.claims if c.scenario == scenario], browsers)
        problems = [
            r
            for row in rows.values()
            for r in row.values()
            if r.expectation_met is False or r.outcome == "error"
        ]
        for result in problems:
            why = "; ".join(inline(m) for m in result.mismatches) or inline(result.error or "")
            if result.spec is not None and result.expectation_met is False:
                why += f" (Fetch standard: {inline(result.spec.reason)})"
            lines.append(f"- **{inline(result.request)} [{inline(result.browser)}]**: {why}")
        if problems:
            lines.append("")
        departing = [r for row in rows.values() for r in row.values() if r.deviates_from_spec]
        for result in departing:
            assert result.spec is not None
            lines.append(
                f"- § **{inline(result.request)} [{inline(result.browser)}]** departs from the "
                f"Fetch standard ({link(result.spec.section)}): "
                + "; ".join(inline(d) for d in result.spec.departures)
            )
        if departing:
            lines.append("")
    if run.scenario_errors:
        lines += ["## Scenario files not run", ""]
        lines += [f"- {inline(failure.message)}" for failure in run.scenario_errors]
        lines.append("")
    return "\n".join(lines)


def terminal(run: RunResults) -> str:
    browsers = _browsers(run)
    out: list[str] = []
    for scenario, rows in rows_by_scenario(run.results).items():
        names = {
            request: f"{one_line(request)} ≠" if _disagree(row) else one_line(request)
            for request, row in rows.items()
        }
        width = max(len("request"), *(len(n) for n in names.values())) + 2
        widths = [
            max([len(b)] + [len(cell_text(row[b])) for row in rows.values() if b in row])
            for b in browsers
        ]
        out.append(one_line(scenario))
        out.append(
            "  "
            + "request".ljust(width)
            + "  ".join(b.ljust(w) for b, w in zip(browsers, widths, strict=True))
        )
        for request, row in rows.items():
            out.append(
                "  "
                + names[request].ljust(width)
                + "  ".join(
                    (cell_text(row[b]) if b in row else "").ljust(w)
                    for b, w in zip(browsers, widths, strict=True)
                ).rstrip()
            )
        claims = [c for c in run.claims if c.scenario == scenario]
        for claim in claims:
            verdicts = ", ".join(f"{v.browser} {v.verdict}" for v in claim.verdicts)
            mark = " ≠" if claims_disagree(claim) else ""
            out.append(f"  claim {one_line(claim.id)}{mark}: {verdicts}")
        out.append("")
    for failure in run.scenario_errors:
        out.append(f"not run: {one_line(failure.message)}")
    for path in run.slow_not_run:
        out.append(f"not run (slow: true; --slow runs it): {one_line(path)}")
    return "\n".join(out)


def summary(run: RunResults) -> str:
    cells = len(run.results)
    rate = cells / run.wall_seconds if run.wall_seconds else 0.0
    browsers = one_line(
        ", ".join(f"{b.name} {b.version} ({b.engine})" for b in run.environment.browsers)
    )
    counts = run.verdict_counts()
    claims = (
        f"{len(run.claims)} claims: {counts['holds']} holds, {counts['refuted']} refuted, "
        f"{counts['inconclusive']} inconclusive (per browser); "
        if run.claims
        else ""
    )
    stopped = f"interrupted by {run.interrupted}: " if run.interrupted else ""
    return (
        f"{stopped}{cells} cells in {run.wall_seconds:.1f} s ({rate:.1f} cells/s); {claims}"
        f"{len(run.unmet())} expectations not met, {len(run.errors())} errors, "
        f"{len(run.scenario_errors)} scenario files not run; browsers: {browsers or 'none'}"
    )


def write_reports(run: RunResults, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "results.json"
    md_path = out / "results.md"
    json_path.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(run), encoding="utf-8")
    return json_path, md_path
