"""`cors-harness run | doctor | check | findings | schema | init`: thin layers over the library."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from playwright.sync_api import sync_playwright

from cors_harness._exceptions import HarnessError, ScenarioError
from cors_harness.backends import INSTALL_HINTS, find_command
from cors_harness.check import check_scenario
from cors_harness.engines import (
    FIX,
    TRUST,
    Browsers,
    EnginePlan,
    EngineTimeouts,
    Overrides,
    installed_playwright,
    plan_engine,
)
from cors_harness.engines.profiles import PROFILES, chosen_profile
from cors_harness.engines.timeouts import env_name
from cors_harness.explain import explain
from cors_harness.findings import findings
from cors_harness.interrupt import Interrupted, stop_on_signals
from cors_harness.processes import OWNER_VARIABLE, owned_processes, stop_marked
from cors_harness.progress import RunProgress
from cors_harness.report import summary, terminal, write_reports
from cors_harness.results import LaunchProfile, RunResults
from cors_harness.run import RunCollector, run_paths
from cors_harness.runner import DEFAULT_TIMEOUT_S, Harness
from cors_harness.scenario import (
    BROWSERS,
    MAX_TIMEOUT_S,
    Browser,
    scenario_json_schema,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK, EXIT_UNMET, EXIT_USAGE = 0, 1, 2
INIT_DIR = "cors-scenarios"
# After a signal: how long the run may take to unwind, then how long once its processes are gone.
INTERRUPT_GRACE_S = 5.0
OVERDUE_EXIT_S = 3.0


def _browser(value: str) -> Browser:
    if value not in BROWSERS:
        raise argparse.ArgumentTypeError(
            f"unknown browser {value!r}; choose from " + ", ".join(BROWSERS)
        )
    return value


def _pair(value: str) -> tuple[Browser, str]:
    browser, sep, rest = value.partition("=")
    if not sep or not browser or not rest.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r}: write BROWSER=VALUE, e.g. chromium=/usr/bin/chromium"
        )
    return _browser(browser), rest


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    # Written so that NaN fails too.
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give more than 0 and at most {MAX_TIMEOUT_S:g} seconds"
        )
    return seconds


def _out_dir(value: str) -> Path:
    """A directory that exists and is writable, or can be made in the nearest one that does."""
    path = Path(value)
    for ancestor in (path, *path.parents):
        if ancestor.is_symlink() and not ancestor.exists():
            raise argparse.ArgumentTypeError(f"{ancestor} is a broken symlink")
        if not ancestor.exists():
            continue
        if not ancestor.is_dir():
            raise argparse.ArgumentTypeError(
                f"{ancestor} is not a directory; give a directory for results.json and results.md"
            )
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"cannot write in {ancestor}: permission denied")
        break
    return path


def _results_file(value: str) -> Path:
    path = Path(value)
    # A FIFO or a device would block the read or never end it.
    if path.exists() and not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: not a regular file")
    return path


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, `cors-harness: error: ...`, exit status 2; no usage block."""

    def error(self, message: str) -> NoReturn:
        # One line, even if a value quoted in the message holds a line break.
        self.exit(EXIT_USAGE, f"cors-harness: error: {' '.join(message.split())}\n")


def _check_overrides(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for option in ("executable", "channel"):
        given = [browser for browser, _ in getattr(args, option) or []]
        for browser in dict.fromkeys(b for b in given if given.count(b) > 1):
            parser.error(f"--{option} is given twice for {browser}")
    if args.command != "run":
        # doctor's job is to explain a missing executable; run's is to fail before it starts.
        return
    for browser, executable in args.executable or []:
        if not Path(executable).is_file():
            parser.error(f"--executable {browser}={executable}: no such file")


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(dict(args.executable or []), dict(args.channel or []))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cors-harness", description=__doc__)
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
        sub.add_argument(
            "--profile",
            choices=PROFILES,
            default=None,
            help="shipped: each browser as close to its own defaults as its engine allows "
            "(default); automation: as Playwright and MiniBrowser set them up "
            "(env: CORS_HARNESS_PROFILE)",
        )

    run = commands.add_parser("run", help="run scenario files or directories")
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    run.add_argument(
        "--out",
        type=_out_dir,
        default="reports",
        help="where results.json and results.md go (default: reports/)",
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        help="seconds a single fetch() may take (default: %(default)s)",
    )
    run.add_argument(
        "--slow",
        action="store_true",
        help="also run the scenarios marked slow: true (they wait minutes, e.g. for the "
        "engines' caps on a preflight's Max-Age)",
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
    found.add_argument("results", type=_results_file, metavar="RESULTS_JSON")
    found.add_argument(
        "--compare",
        type=_results_file,
        metavar="RESULTS_JSON",
        help="a run of the same scenarios under the other --profile: adds what changes",
    )

    checked = commands.add_parser(
        "check",
        help="one request to a server you run, from a page on ORIGIN, in every browser",
    )
    checked.add_argument("url", metavar="URL", help="e.g. http://127.0.0.1:8000/api/items")
    checked.add_argument(
        "--origin", required=True, help="the page's origin, e.g. https://app.example.com"
    )
    checked.add_argument("--method", default="GET", help="default: GET")
    checked.add_argument(
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header; repeat for several",
    )
    checked.add_argument("--body", default=None, help="the request body, as text")
    checked.add_argument(
        "--credentials", choices=["omit", "same-origin", "include"], default="omit"
    )
    checked.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        help="seconds the fetch() may take (default: %(default)s)",
    )
    checked.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="write the results.json there"
    )
    browser_options(checked)

    schema = commands.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("which", choices=["scenario", "results"])

    init = commands.add_parser(
        "init", help="write an example scenario and the scenario schema into a directory"
    )
    init.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=Path(INIT_DIR),
        metavar="DIR",
        help=f"where to write them (default: {INIT_DIR}/); existing files are never overwritten",
    )
    init.add_argument(
        "--builtin",
        action="store_true",
        help="write the built-in scenarios and their baselines instead of the example",
    )
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    collector = RunCollector()
    once = threading.Lock()

    def report_interrupted(interrupted: Interrupted) -> int:
        # Either the unwinding main thread or the watchdog gets here, and only one writes.
        if once.acquire(blocking=False):
            run = collector.results(interrupted=interrupted.name)
            json_path, md_path = write_reports(run, args.out)
            print(
                f"cors-harness: {interrupted} after {len(run.results)} cells; "
                f"wrote {json_path} and {md_path}",
                file=sys.stderr,
                flush=True,
            )
        return interrupted.exit_status

    def overdue(interrupted: Interrupted) -> None:
        # The run did not unwind in time: stop its processes, so every call blocked on them
        # fails at once; if even that does not end it, report and leave.
        token = os.environ.get(OWNER_VARIABLE)
        if token is not None:
            stop_marked(token)
        time.sleep(OVERDUE_EXIT_S)
        if not signals.finished:
            os._exit(report_interrupted(interrupted))

    with stop_on_signals(INTERRUPT_GRACE_S, overdue) as signals, RunProgress() as progress:
        try:
            run = run_paths(
                args.paths,
                args.browser,
                _overrides(args),
                args.timeout,
                collector=collector,
                signals=signals,
                profile=args.profile,
                progress=progress,
                slow=args.slow,
            )
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return EXIT_USAGE
        except HarnessError as exc:  # a bad setting (e.g. a timeout variable), before any cell
            if signals.interrupted is not None:
                return report_interrupted(signals.interrupted)
            print(f"cors-harness: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except BaseException:
            # Whatever the signal broke on its way out (a browser call, a driver) is part of
            # the interruption, not a failure of its own.
            if signals.interrupted is None:
                raise
            return report_interrupted(signals.interrupted)
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


def _print_profile(name: str, profile: LaunchProfile) -> None:
    print(
        f"{name} profile {profile.name}: third-party cookies {profile.third_party_cookies}",
        file=sys.stderr,
    )
    print(f"  switches: {' '.join(profile.switches) or 'none'}", file=sys.stderr)
    if profile.preferences:
        print(f"  preferences: {' '.join(profile.preferences)}", file=sys.stderr)


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
    try:
        timeouts = EngineTimeouts.from_env()
    except HarnessError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    # On stderr: stdout has one line per browser.
    print(
        f"timeouts: {timeouts} (change with CORS_HARNESS_<NAME>_TIMEOUT=SECONDS, "
        f"e.g. {env_name('launch_s')}=60)",
        file=sys.stderr,
    )
    print(
        "https and host names: the run's proxy routes every name, loopback ones and fixed "
        "ports included, to its servers on ports chosen at run time; certificates from the "
        "run's own authority, which "
        + "; ".join(f"{b} {TRUST[b]}" for b in names)
        + " (checked: secure contexts, Secure and __Host- cookies stored and sent)",
        file=sys.stderr,
    )
    for server, hint in INSTALL_HINTS.items():
        found = find_command(server)
        print(
            f"{server} (for command backends that run it, as nginx_pitfalls.yaml does): "
            + (found or f"not found; {hint}"),
            file=sys.stderr,
        )
    # The library that speaks to the browser is half of what works or not (Playwright 1.65 and
    # stock Firefox over BiDi), so each line names it with its version.
    playwright_version = installed_playwright()
    selenium_version = importlib.metadata.version("selenium")

    def driven(engine: str) -> str:
        if engine == "webdriver":
            return f"{engine} with Selenium {selenium_version}"
        return f"{engine} with Playwright {playwright_version}"

    failed = 0
    usable = [n for n in names if not isinstance(plans[n], Exception)]
    try:
        profile = chosen_profile(args.profile)
    except HarnessError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    with Browsers(usable, overrides, timeouts=timeouts, profile=profile) as browsers:
        for name in names:
            plan = plans[name]
            launched = browsers.launched.get(name)
            if launched is not None:
                info = launched.info
                print(
                    f"{name}: ok: {driven(info.engine)}, {info.executable}, version {info.version}"
                )
                if info.profile is not None:
                    # On stderr, as the other details: stdout keeps one line per browser.
                    _print_profile(name, info.profile)
                continue
            failed += 1
            if isinstance(plan, Exception):
                print(f"{name}: unavailable: {plan}")
            else:
                print(
                    f"{name}: cannot launch via {driven(plan.engine)} ({plan.executable}): "
                    f"{browsers.failures.get(name)}; fix: {FIX[name]}"
                )
    return EXIT_UNMET if failed and args.require_all else EXIT_OK


def _read_results(path: Path) -> RunResults:
    try:
        return RunResults.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise HarnessError(f"{path}: not a cors-harness results.json: {first}") from exc


def _header(value: str) -> tuple[str, str]:
    name, colon, rest = value.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"{value!r}: write a header as 'NAME: VALUE'")
    return name.strip(), rest.strip()


def cmd_check(args: argparse.Namespace) -> int:
    try:
        scenario = check_scenario(
            args.url,
            origin=args.origin,
            method=args.method,
            headers=dict(args.header),
            body=args.body,
            credentials=args.credentials,
            browsers=args.browser,
        )
        collector = RunCollector()
        with (
            owned_processes(),
            Harness(
                scenario.browsers, _overrides(args), args.timeout, profile=args.profile
            ) as harness,
        ):
            collector.environment = harness.environment()
            found = harness.run_scenario(scenario)
    except HarnessError as exc:
        print(f"cors-harness: {exc}", file=sys.stderr)
        return EXIT_USAGE
    collector.add(scenario, args.url, found)
    run = collector.results()
    print(terminal(run))
    for result in found:
        print()
        print(explain(result, [], result.outcome))
    if args.json is not None:
        args.json.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return EXIT_OK if all(r.outcome == "allowed" for r in found) else EXIT_UNMET


def cmd_findings(args: argparse.Namespace) -> int:
    try:
        run = _read_results(args.results)
        other = None if args.compare is None else _read_results(args.compare)
    except HarnessError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(findings(run, other))
    return EXIT_OK


def _schema_text(which: str) -> str:
    schema = scenario_json_schema() if which == "scenario" else RunResults.model_json_schema()
    return json.dumps(schema, indent=2) + "\n"


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(_schema_text(args.which))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    # Package data, so that it works from a wheel as well as from this repository.
    folder = "_scenarios" if args.builtin else "_examples"
    source = importlib.resources.files("cors_harness") / folder
    texts = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(source.iterdir(), key=lambda entry: entry.name)
        if entry.name.endswith(".yaml")
    }
    # Generated, not copied: the schema always matches the installed loader.
    texts["scenario.schema.json"] = _schema_text("scenario")
    if directory.exists() and not directory.is_dir():
        print(f"cors-harness: {directory} is not a directory; give a directory", file=sys.stderr)
        return EXIT_USAGE
    taken = [directory / name for name in texts if (directory / name).exists()]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        them = "them" if more else "it"
        print(
            f"cors-harness: {taken[0]} exists{more}; init overwrites nothing: "
            f"remove {them} or give another DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            # "x": a file that appeared since the check above is still not overwritten.
            with (directory / name).open("x", encoding="utf-8") as file:
                file.write(text)
            print(f"wrote {directory / name}")
    except OSError as exc:
        print(f"cors-harness: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"next: cors-harness run {directory}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command in {"run", "doctor", "check"}:
        _check_overrides(parser, args)
    handler = {
        "run": cmd_run,
        "doctor": cmd_doctor,
        "findings": cmd_findings,
        "check": cmd_check,
        "schema": cmd_schema,
        "init": cmd_init,
    }[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main"]
