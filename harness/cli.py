"""`cors-harness run | doctor | schema`: a thin layer over the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import sync_playwright

from harness._exceptions import HarnessError, ScenarioError
from harness.engines import FIX, Browsers, EnginePlan, Overrides, plan_engine
from harness.findings import findings
from harness.report import summary, terminal, write_reports
from harness.results import Result, RunResults
from harness.runner import DEFAULT_TIMEOUT_S, run_paths
from harness.scenario import BROWSERS, Browser, Scenario, scenario_json_schema

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK, EXIT_UNMET, EXIT_USAGE = 0, 1, 2


def _browser(value: str) -> Browser:
    if value not in BROWSERS:
        raise argparse.ArgumentTypeError(
            f"unknown browser {value!r}; choose from " + ", ".join(BROWSERS)
        )
    return value


def _pair(value: str) -> tuple[Browser, str]:
    browser, sep, rest = value.partition("=")
    if not sep or not rest:
        raise argparse.ArgumentTypeError(
            f"{value!r}: write BROWSER=VALUE, e.g. chromium=/usr/bin/chromium"
        )
    return _browser(browser), rest


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(dict(args.executable or []), dict(args.channel or []))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cors-harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def browser_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--browser",
            action="append",
            type=_browser,
            metavar="NAME",
            help="chromium, firefox or webkit; repeat for several (default: all)",
        )
        sub.add_argument(
            "--executable",
            action="append",
            type=_pair,
            metavar="BROWSER=PATH",
            help="use this executable (env: CORS_HARNESS_<BROWSER>_EXECUTABLE)",
        )
        sub.add_argument(
            "--channel",
            action="append",
            type=_pair,
            metavar="BROWSER=CHANNEL",
            help="Playwright channel, e.g. chromium=chrome (env: CORS_HARNESS_<BROWSER>_CHANNEL)",
        )

    run = commands.add_parser("run", help="run scenario files or directories")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    run.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="where results.json and results.md go (default: reports/)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds a single fetch() may take (default: %(default)s)",
    )
    browser_options(run)

    doctor = commands.add_parser("doctor", help="say how each browser would be driven here")
    doctor.add_argument(
        "--require-all",
        action="store_true",
        help="exit 1 unless every selected browser can be launched",
    )
    doctor.add_argument(
        "--missing",
        action="store_true",
        help="only print the browsers with no engine here, launching nothing",
    )
    browser_options(doctor)

    found = commands.add_parser(
        "findings", help="print FINDINGS.md (Markdown) from a run's results.json"
    )
    found.add_argument("results", type=Path, metavar="RESULTS_JSON")

    schema = commands.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("which", choices=["scenario", "results"])
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    def progress(scenario: Scenario, results: list[Result]) -> None:
        print(f"  ran {scenario.name}: {len(results)} cells", file=sys.stderr)

    try:
        run = run_paths(args.paths, args.browser, _overrides(args), args.timeout, progress)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    json_path, md_path = write_reports(run, args.out)
    print(terminal(run))
    print(summary(run))
    print(f"wrote {json_path} and {md_path}")
    return exit_status(run)


def exit_status(run: RunResults) -> int:
    if run.scenario_errors:
        return EXIT_USAGE
    if run.unmet() or run.errors():
        return EXIT_UNMET
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    names: list[Browser] = args.browser or list(BROWSERS)
    overrides = Overrides.from_env().merged(_overrides(args))
    with sync_playwright() as playwright:
        plans: dict[Browser, EnginePlan | HarnessError] = {}
        for name in names:
            try:
                plans[name] = plan_engine(playwright, name, overrides)
            except HarnessError as exc:
                plans[name] = exc
    if args.missing:
        print(" ".join(n for n in names if isinstance(plans[n], Exception)))
        return EXIT_OK
    failed = 0
    with Browsers([n for n in names if not isinstance(plans[n], Exception)], overrides) as browsers:
        for name in names:
            plan = plans[name]
            launched = browsers.launched.get(name)
            if launched is not None:
                info = launched.info
                print(f"{name}: ok: {info.engine}, {info.executable}, version {info.version}")
                continue
            failed += 1
            if isinstance(plan, Exception):
                print(f"{name}: unavailable: {plan}")
            else:
                print(
                    f"{name}: cannot launch via {plan.engine} ({plan.executable}): "
                    f"{browsers.failures.get(name)}; fix: {FIX[name]}"
                )
    return EXIT_UNMET if failed and args.require_all else EXIT_OK


def cmd_findings(args: argparse.Namespace) -> int:
    try:
        run = RunResults.model_validate_json(args.results.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"{args.results}: cannot read: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        print(f"{args.results}: not a cors-harness results.json: {first}", file=sys.stderr)
        return EXIT_USAGE
    print(findings(run))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    schema = scenario_json_schema() if args.which == "scenario" else RunResults.model_json_schema()
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {
        "run": cmd_run,
        "doctor": cmd_doctor,
        "findings": cmd_findings,
        "schema": cmd_schema,
    }[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main"]
