"""How long one `policywatch check` of N unchanged pages takes, next to the floor and urlwatch.

A poll where nothing changed is what policywatch does almost every time, so its
cost is what a seller pays. It is judged against two yardsticks measured in the
same run, on the same loopback pages, interleaved so a noisy machine hurts all
contenders alike:

* the floor: the same GETs with a plain `requests.Session` at the same concurrency
  plus one `lxml.html.fromstring` per page, i.e. what any HTML poller must spend;
* urlwatch, the popular general-purpose tool, with the same selector and removals,
  conditional requests off.

Run `python bench/bench_check.py --help`; bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pages
import yaml
from floor_cli import BenchError, floor_cycle

from policywatch.history.store import Store
from policywatch.models import Config, Defaults
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from policywatch.watchlist.profiles import SELLER_CENTRAL

ROOT = Path(__file__).resolve().parent.parent
FLOOR_GOAL = 1.2  # policywatch may cost at most this many floors
URLWATCH_GOAL = 0.5  # the policywatch command may take at most this share of urlwatch's time


@dataclass
class Contender:
    name: str
    what: str  # one line for the legend: what the time includes
    cycle: Callable[[], None]  # one full cycle; raises BenchError when the result is wrong
    times: list[float] = field(default_factory=list)  # wall-clock seconds per run
    cpu: list[float] = field(default_factory=list)  # CPU seconds per run (user + system)

    def timed(self) -> None:
        """Run one cycle; CPU time is kept too because other load on the box inflates wall time."""
        wall, cpu = time.perf_counter(), _cpu_seconds()
        self.cycle()
        self.times.append(time.perf_counter() - wall)
        self.cpu.append(_cpu_seconds() - cpu)


def _cpu_seconds() -> float:
    """CPU of this process (all threads) plus of finished children (the CLI contenders).

    The page server is a child that has not finished, so it is counted for nobody.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


# --------------------------------------------------------------------------- the page server


def page_server(count: int) -> AbstractContextManager[str]:
    """The bench's pages served from a child process (see pages.child_server)."""
    return pages.child_server(Path(__file__).with_name("pages.py"), count)


# --------------------------------------------------------------------------- contenders


def policywatch_cycle(config: Config, data_dir: Path, expect: str = "unchanged") -> None:
    """One poll as the `policywatch run` loop makes it: watchlist loaded, store opened; the
    check takes the lock itself, once per page it records."""
    with Store(data_dir) as store:
        report = check_pages(config, store)
    wrong = [o for o in report.outcomes if o.status != expect]
    if wrong or len(report.outcomes) != len(config.pages):
        first = wrong[0] if wrong else None
        raise BenchError(
            f"policywatch: {len(wrong)} of {len(report.outcomes)} pages not {expect!r}; "
            f"first: {first}"
        )


def policywatch_cli_cycle(watchlist: Path, data_dir: Path) -> None:
    """The command a cron job runs, interpreter start-up and imports included."""
    command = [sys.executable, "-m", "policywatch", "-c", str(watchlist), "-d", str(data_dir)]
    _run([*command, "-q", "check"], "policywatch check")


def floor_cli_cycle(concurrency: int, urls_file: Path) -> None:
    """The floor as a command (bench/floor_cli.py): start-up and its two imports included."""
    script = str(Path(__file__).with_name("floor_cli.py"))
    _run([sys.executable, script, str(concurrency), str(urls_file)], "floor_cli.py")


def urlwatch_command() -> str | None:
    """urlwatch's console script, beside this interpreter's or on PATH; None when not installed."""
    script = Path(sysconfig.get_path("scripts")) / "urlwatch"
    return str(script) if script.exists() else shutil.which("urlwatch")


def urlwatch_cycle(command: list[str], files: dict[str, Path], expect_quiet: bool = True) -> None:
    """urlwatch as its users run it; it prints nothing when nothing changed and nothing failed."""
    command = list(command)
    for option, path in files.items():
        command += [f"--{option}", str(path)]
    output = _run(command, "urlwatch")
    if expect_quiet and output.strip():
        raise BenchError(f"urlwatch reported something, not 'nothing changed':\n{output[:2000]}")


# Both commands run as installed: pip compiles an installed package's bytecode, and Python
# caches it on first import. Without this, PYTHONDONTWRITEBYTECODE (set in some shells and
# containers) makes an editable policywatch compile every module from source on every run,
# which urlwatch, installed from a wheel with its bytecode, never pays.
_COMMAND_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(command: list[str], name: str) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, check=False, env=_COMMAND_ENV
    )
    if done.returncode != 0:
        raise BenchError(
            f"{name} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


# --------------------------------------------------------------------------- set-up


# What a seller's watchlist sends alerts to; nothing is sent, as nothing changes.
ROUTES = (
    "json://127.0.0.1:9/hook",
    "mailto://alerts:secret@mail.example.com?to=ops@example.com",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
)


def write_watchlist(
    path: Path, urls: Sequence[str], per_host: int | None, routes: Sequence[str] = ()
) -> None:
    """A watchlist of the pages with the Seller Central profile, HTTP only (no browser)."""
    document: dict = {
        "pages": [
            {"id": f"page-{i:04d}", "url": url, "profile": SELLER_CENTRAL.name, "fetch": "http"}
            for i, url in enumerate(urls)
        ]
    }
    document["defaults"] = {"allow_private": True}  # the pages are served on loopback
    if per_host is not None:
        document["defaults"] |= {"per_host": per_host, "workers": max(Defaults().workers, per_host)}
    if routes:
        document["notify"] = list(routes)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def write_urlwatch_files(work: Path, urls: Sequence[str]) -> dict[str, Path]:
    """urlwatch jobs with the same selector and removals; conditional requests off."""
    exclude = ", ".join(SELLER_CENTRAL.remove)
    jobs = [
        {
            "name": f"page-{i:04d}",
            "url": url,
            "ignore_cached": True,
            "filter": [{"css": {"selector": pages.SELECT, "exclude": exclude}}],
        }
        for i, url in enumerate(urls)
    ]
    files = {
        "urls": work / "urls.yaml",
        "config": work / "urlwatch.yaml",
        "cache": work / "urlwatch-cache.db",
        "hooks": work / "no-hooks.py",  # absent on purpose: never read the user's own hooks
    }
    files["urls"].write_text(yaml.safe_dump_all(jobs, sort_keys=False), encoding="utf-8")
    config = {
        "display": {"new": False, "error": True, "unchanged": False, "empty-diff": False},
        "report": {"stdout": {"enabled": True, "color": False}},
    }
    files["config"].write_text(yaml.safe_dump(config), encoding="utf-8")
    return files


def stored_versions(data_dir: Path) -> int:
    with Store(data_dir) as store:
        return sum(len(store.snapshots(page_id)) for page_id in store.page_ids())


# --------------------------------------------------------------------------- reporting


def _ratio(a: list[float], b: list[float]) -> float:
    return round(statistics.median(a) / statistics.median(b), 3)


def summary(contenders: Sequence[Contender], args: argparse.Namespace, info: dict) -> dict:
    """Medians, minimums and the ratios the goals are judged on (wall-clock medians)."""
    by_name = {c.name: c for c in contenders}
    floor = by_name["floor"]
    results = {
        c.name: {
            "median_s": round(statistics.median(c.times), 4),
            "min_s": round(min(c.times), 4),
            "x_floor": _ratio(c.times, floor.times),
            "cpu_median_s": round(statistics.median(c.cpu), 4),
            "cpu_x_floor": _ratio(c.cpu, floor.cpu),
            "runs_s": [round(t, 4) for t in c.times],
            "what": c.what,
        }
        for c in contenders
    }
    pw, cli = by_name["policywatch"], by_name["policywatch-cli"]
    ratios = {
        "policywatch_vs_floor": _ratio(pw.times, floor.times),
        "policywatch_vs_floor_cpu": _ratio(pw.cpu, floor.cpu),
    }
    goals = {
        f"policywatch_at_most_{FLOOR_GOAL}x_floor": ratios["policywatch_vs_floor"] <= FLOOR_GOAL
    }
    if "urlwatch" in by_name:
        urlwatch = by_name["urlwatch"]
        ratios["policywatch_cli_vs_urlwatch"] = _ratio(cli.times, urlwatch.times)
        ratios["policywatch_cli_vs_urlwatch_cpu"] = _ratio(cli.cpu, urlwatch.cpu)
        ratios["floor_cli_vs_urlwatch"] = _ratio(by_name["floor-cli"].times, urlwatch.times)
        goal = f"policywatch_cli_at_most_{URLWATCH_GOAL}x_urlwatch"
        goals[goal] = ratios["policywatch_cli_vs_urlwatch"] <= URLWATCH_GOAL
    return {
        "pages": args.pages,
        "repeat": args.repeat,
        **info,
        "results": results,
        "ratios": ratios,
        "goals": goals,
    }


def print_table(report: dict) -> None:
    print(
        f"{report['pages']} unchanged pages of {report['page_kb']} KB average on loopback, "
        f"{report['repeat']} interleaved runs, {report['concurrency']} fetches at once "
        f"(all pages on one host), {report['notify_routes']} notify routes"
    )
    print(f"{'contender':<17}{'median s':>9}{'min s':>8}{'x floor':>8}{'CPU s':>8}{'x floor':>8}")
    for name, row in report["results"].items():
        print(
            f"{name:<17}{row['median_s']:>9.3f}{row['min_s']:>8.3f}{row['x_floor']:>8.2f}"
            f"{row['cpu_median_s']:>8.3f}{row['cpu_x_floor']:>8.2f}"
        )
    print()
    for name, row in report["results"].items():
        print(f"  {name}: {row['what']}")
    print()
    print(
        f"  (load_config of this watchlist, paid by the CLI only: {report['load_config_s']:.3f} s)"
    )
    print()
    for name, value in report["ratios"].items():
        print(f"{name}: {value:.2f}")
    for name, met in report["goals"].items():
        print(f"goal {name}: {'met' if met else 'NOT met'}")
    bound = report["ratios"].get("floor_cli_vs_urlwatch")
    if bound is not None and bound > URLWATCH_GOAL:
        print(
            f"  (the floor as a command alone takes {bound:.2f}x urlwatch: on these pages no "
            f"command that downloads and parses every page can meet {URLWATCH_GOAL}x)"
        )


def median_seconds(work: Callable[[], object], runs: int = 3) -> float:
    """Wall time of a step the CLI pays on top of a cycle (reported, not part of a contender)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def profile_cycle(config: Config, data_dir: Path, top: int) -> None:
    """One in-process unchanged cycle under cProfile: where policywatch spends beyond the floor."""
    profiler = cProfile.Profile()
    profiler.runcall(policywatch_cycle, config, data_dir)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs()
    for order in ("tottime", "cumulative"):
        print(f"\n--- policywatch, one unchanged cycle, top {top} by {order}")
        stats.sort_stats(order).print_stats(top)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages to serve and poll (200)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per contender (5)")
    parser.add_argument(
        "--per-host",
        type=int,
        default=None,
        help="concurrent fetches to the one host, for policywatch and the floor "
        "(default: policywatch's own default)",
    )
    parser.add_argument("--no-urlwatch", action="store_true", help="leave urlwatch out")
    parser.add_argument(
        "--routes",
        action="store_true",
        help="give policywatch's watchlist three notify routes, as a seller's has "
        "(nothing is sent: nothing changes)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=30,
        default=None,
        metavar="TOP",
        help="afterwards, profile one policywatch cycle and print the TOP (30) functions",
    )
    args = parser.parse_args(argv)
    if args.pages < 1 or args.repeat < 1:
        parser.error("--pages and --repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp, page_server(args.pages) as base:
        work = Path(tmp)
        urls = [pages.page_url(base, i) for i in range(args.pages)]
        watchlist, data_dir = work / "watchlist.yaml", work / "data"
        urls_file = work / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
        write_watchlist(watchlist, urls, args.per_host, ROUTES if args.routes else ())
        config = load_config(watchlist)
        concurrency = max(
            1, min(config.defaults.workers, config.defaults.per_host)
        )  # every page on one host
        contenders = [
            Contender(
                "floor",
                f"requests.Session GET x{concurrency} threads + lxml.html.fromstring",
                lambda: floor_cycle(urls, concurrency),
            ),
            Contender(
                "policywatch",
                "in-process, as `policywatch run` polls: Store + check_pages (lock per page)",
                lambda: policywatch_cycle(config, data_dir),
            ),
            Contender(
                "policywatch-cli",
                "python -m policywatch -q check (start-up included)",
                lambda: policywatch_cli_cycle(watchlist, data_dir),
            ),
            Contender(
                "floor-cli",
                "the floor as a command: bench/floor_cli.py (start-up included)",
                lambda: floor_cli_cycle(concurrency, urls_file),
            ),
        ]
        urlwatch = None if args.no_urlwatch else urlwatch_command()
        if urlwatch is None and not args.no_urlwatch:
            print(
                "bench_check: urlwatch is not installed, so it is left out "
                "(pip install urlwatch to compare with it)",
                file=sys.stderr,
            )
        if urlwatch is not None:
            files, command = write_urlwatch_files(work, urls), [urlwatch]
            contenders.append(
                Contender(
                    "urlwatch",
                    "urlwatch CLI, css filter, ignore_cached, 10 threads (start-up included)",
                    lambda: urlwatch_cycle(command, files),
                )
            )
            urlwatch_cycle(command, files, expect_quiet=False)  # baseline: the first versions
        policywatch_cycle(config, data_dir, expect="new")  # baseline: first versions
        policywatch_cli_cycle(watchlist, data_dir)  # as urlwatch's baseline: caches bytecode
        floor_cycle(urls, concurrency)  # warms the server's and the client's caches alike
        floor_cli_cycle(concurrency, urls_file)
        for run in range(args.repeat):
            shift = run % len(contenders)  # rotate who goes first: noise falls on everyone
            for contender in contenders[shift:] + contenders[:shift]:
                contender.timed()
            print(f"run {run + 1}/{args.repeat} done", file=sys.stderr)
        if stored_versions(data_dir) != args.pages:
            raise BenchError("policywatch stored a new version although nothing changed")
        sample = [len(pages.page_html(i).encode()) for i in range(min(args.pages, 20))]
        info = {
            "page_kb": round(statistics.mean(sample) / 1000),
            "load_config_s": round(median_seconds(lambda: load_config(watchlist)), 4),
            "concurrency": concurrency,
            "notify_routes": len(ROUTES) if args.routes else 0,
            "python": sys.version.split()[0],
        }
        report = summary(contenders, args, info)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_table(report)
        if args.profile:
            profile_cycle(config, data_dir, args.profile)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench_check: {exc}", file=sys.stderr)
        sys.exit(1)
