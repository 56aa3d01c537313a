"""Stories of output that reads the same everywhere: history newest first in every format,
diff headers in words in every human format, and help examples a newcomer can paste."""

from __future__ import annotations

import argparse
import html
import json
import shlex
from pathlib import Path

import pytest

from policywatch.cli.parser import build_parser
from policywatch.demo.site import PAGE_ID as DEMO_PAGE
from policywatch.watchlist.load import load_config
from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, pages_at, write_watchlist

ROOT = Path(__file__).resolve().parent.parent
STARTER = ROOT / "policywatch" / "watchlist" / "starter.yaml"
DATED = CONDUCT.replace("Last updated: March 3, 2026", "Last updated: March 9, 2026")


@pytest.fixture
def seller(tmp_path: Path, pageserver: PageServer) -> Seller:
    """A seller watching the conduct page, with no rules and no routes."""
    pageserver.route("/conduct", CONDUCT)
    config = write_watchlist(
        tmp_path / "watchlist.yaml", pages_at({"conduct": pageserver.url("/conduct")}), notify=()
    )
    return Seller(tmp_path, config)


def two_versions_and_two_failures(seller: Seller, pageserver: PageServer, capsys) -> None:
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", DATED.replace("unsolicited or", "unsolicited, promotional or"))
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", "<h1>Oops</h1>", status=500)
    assert seller(capsys, "check")[0] == 1
    pageserver.route("/conduct", "<h1>Still down</h1>", status=503)
    assert seller(capsys, "check")[0] == 1


def test_history_lists_newest_first_in_text_and_in_json(seller, pageserver, capsys):
    two_versions_and_two_failures(seller, pageserver, capsys)

    _, text, _ = seller(capsys, "history", "conduct")
    listed = seller.json(capsys, "history", "conduct")

    newest, oldest = listed["snapshots"]
    assert newest["captured_at"] > oldest["captured_at"]
    assert newest["id"] == seller.json(capsys, "show", "conduct", "latest")["snapshot"]["id"]
    rows = [line.split()[0] for line in text.splitlines() if line[:1].isalnum()][1:]
    assert [row for row in rows if row in (newest["id"][:10], oldest["id"][:10])] == [
        newest["id"][:10],
        oldest["id"][:10],
    ]
    failed = [o for o in listed["outcomes"] if o["status"] == "error"]
    assert [o["at"] for o in failed] == sorted((o["at"] for o in failed), reverse=True)
    assert "503" in failed[0]["reason"] and "500" in failed[1]["reason"]
    polls = text.split("recent polls that stored nothing:\n", 1)[1].splitlines()
    assert "503" in polls[0] and "500" in polls[1]


def test_diff_headers_say_captured_and_last_updated_in_words_and_json_keeps_the_keys(
    seller, pageserver, capsys
):
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", DATED.replace("unsolicited or", "unsolicited, promotional or"))
    assert seller(capsys, "check")[0] == 0

    for fmt in ("text", "markdown", "html"):
        _, shown, _ = seller(capsys, "diff", "conduct", "--format", fmt, "--no-color")
        shown = html.unescape(shown)
        assert "Captured: 20" in shown and " UTC" in shown, fmt
        assert "Last updated: March 9, 2026 (was March 3, 2026)" in shown, fmt
        assert f"URL: {pageserver.url('/conduct')}" in shown, fmt
        for key in ("old_captured_at", "new_captured_at", "page_date", "url:"):
            assert key not in shown, (fmt, key)
    meta = seller.json(capsys, "diff", "conduct")["meta"]
    assert {"url", "old_captured_at", "new_captured_at", "page_date"} <= set(meta)


# --------------------------------------------------------------------------- --help examples

# The commands whose first argument is a watch id, and those whose every argument is one.
FIRST_IS_A_PAGE = {"history", "show", "diff", "import"}
ALL_ARE_PAGES = {"check", "rederive"}
GLOBAL_WITH_VALUE = {"-c", "--config", "-d", "--data-dir"}


def help_texts() -> dict[str, str]:
    parser = build_parser()
    texts = {"policywatch": parser.format_help()}
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    texts |= {name: sub.format_help() for name, sub in commands.choices.items()}
    return texts


def example_ids(text: str) -> list[str]:
    """The watch ids the example command lines of a help text name."""
    ids = []
    for line in text.splitlines():
        if not line.strip().startswith("policywatch "):
            continue  # prose, options, usage
        for command in line.split("#", 1)[0].split("&&"):
            words = shlex.split(command.split(">", 1)[0])
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in GLOBAL_WITH_VALUE else rest[1:]
            name, args = rest[0], [w for w in rest[1:] if not w.startswith("-")]
            if name in FIRST_IS_A_PAGE and args:
                ids.append(args[0])
            elif name in ALL_ARE_PAGES:
                ids += args
            elif name == "compare" and len(args) >= 3:
                ids += [f"{args[0]}@{market}" for market in args[1:3]]
    return ids


def test_every_help_example_names_a_watch_the_shipped_watchlist_has():
    shipped = {page.id for page in load_config(STARTER, env={}).pages}
    texts = help_texts()

    named = {where: example_ids(text) for where, text in texts.items()}

    assert named["policywatch"], "the main help shows no example with a watch id"
    assert named["demo"] == [DEMO_PAGE]  # the demo's own page, which the demo stores
    for where, ids in named.items():
        if where != "demo":
            assert set(ids) <= shipped, f"`{where} --help` names {sorted(set(ids) - shipped)}"


def test_the_help_example_parser_reads_ids_the_way_the_commands_do():
    text = """
      policywatch -d data history conduct@US --format json
      policywatch check one two   # cron
      policywatch diff conduct@UK 2026-01-01 latest > x.html
      policywatch compare conduct US UK
    """

    assert example_ids(text) == [
        "conduct@US",
        "one",
        "two",
        "conduct@UK",
        "conduct@US",
        "conduct@UK",
    ]
    assert json.dumps(example_ids("policywatch validate")) == "[]"


def test_the_readme_walks_a_newcomer_through_install_demo_init_check_with_real_ids():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    top = readme[: readme.index("\n## The watchlist")]
    first, second = top.splitlines()[3:5]

    assert first.startswith("pip install '.[browser]' && policywatch demo ")
    assert second.startswith("pip install -e '.[test") and "&& python -m pytest" in second
    steps = [top.index(f"**{n}. ") for n in (1, 2, 3, 4)]
    assert steps == sorted(steps)
    for step, command in zip(steps, ("Install", "`policywatch demo`", "`policywatch init`",
                                     "`policywatch check`"), strict=True):  # fmt: skip
        assert command in top[step : step + 60]
    shipped = {page.id for page in load_config(STARTER, env={}).pages}
    assert example_ids(top) and set(example_ids(top)) <= shipped
