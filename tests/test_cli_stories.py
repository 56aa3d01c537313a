"""Stories of a newcomer at the command line: what the help shows works as shown, and every
refusal says what is actually wrong and suggests only commands that work."""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import pytest
import yaml

from policywatch.cli import main
from policywatch.cli.parser import build_parser
from policywatch.history.store import Store
from tests.pageserver import PageServer
from tests.seller import CONDUCT, SELLER_CENTRAL_PARTS, Seller, conduct_seller, write_watchlist
from tests.webdesk import HELP_PATH, UK_PAGE

ROOT = Path(__file__).resolve().parent.parent
STARTER_VARIABLES = (
    "SMTP_USER",
    "SMTP_PASSWORD",
    "ALERT_EMAIL",
    "SLACK_WEBHOOK_URL",
    "DISCORD_WEBHOOK_URL",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`policywatch ARGV` as typed, argparse's own refusals (exit 2) included."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seller's own folder: no POLICYWATCH_* or starter route variables of the tester's."""
    monkeypatch.chdir(tmp_path)
    for name in ("POLICYWATCH_CONFIG", "POLICYWATCH_DATA", *STARTER_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# --------------------------------------------------------------------------- global options


def test_the_cron_line_of_the_help_works_as_copied_and_prints_what_q_before_check_prints(
    in_a_fresh_folder: Path, pageserver: PageServer, capsys
):
    pageserver.route("/conduct", CONDUCT)
    pageserver.route("/gone", "not here", status=404)
    pages = {"conduct": "/conduct", "gone": "/gone"}
    entries = [
        {"id": i, "url": pageserver.url(u), **SELLER_CENTRAL_PARTS, "fetch": "http"}
        for i, u in pages.items()
    ]
    write_watchlist(in_a_fresh_folder / "watchlist.yaml", entries)
    [cron] = [line for line in build_parser().format_help().splitlines() if "# cron" in line]
    copied = shlex.split(cron.split("#", 1)[0])

    assert copied == ["policywatch", "check", "-q"]
    after = run(capsys, *copied[1:])
    before = run(capsys, "-q", "check")

    assert after == before
    code, out, _ = after
    assert code == 1  # the page that is gone
    assert out.startswith("gone ") and "conduct" not in out  # only the problem
    assert len(Store(in_a_fresh_folder / "policywatch-data").snapshots("conduct")) == 1


def test_config_and_data_dir_after_the_command_are_used_and_before_it_are_kept(
    tmp_path: Path, pageserver: PageServer, capsys
):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    after, before = tmp_path / "after", tmp_path / "before"

    checked = run(capsys, "check", "-c", str(seller.config), "-d", str(after), "-q")
    kept = run(capsys, "-c", str(seller.config), "-d", str(before), "check", "--no-deliver", "-q")

    assert checked[0] == kept[0] == 0, (checked, kept)
    assert len(Store(after).snapshots("conduct")) == 1
    assert len(Store(before).snapshots("conduct")) == 1


def test_quiet_and_verbose_on_either_side_of_the_command_are_refused_as_on_one_side(
    in_a_fresh_folder: Path, capsys
):
    code, out, err = run(capsys, "-q", "check", "-v")

    assert code == 2
    assert "-q/--quiet: not allowed with argument -v/--verbose" in err
    assert out == ""


# --------------------------------------------------------------------------- notify-test


def test_notify_test_right_after_init_says_which_routes_wait_for_which_variables(
    in_a_fresh_folder: Path, capsys
):
    assert run(capsys, "init")[0] == 0
    _, validated, _ = run(capsys, "validate")
    waiting = [line.strip() for line in validated.splitlines() if " skipped: " in line]
    assert len(waiting) == 3  # email, slack and discord, as validate words them

    every = run(capsys, "notify-test")
    email = run(capsys, "notify-test", "email")

    assert every[0] == email[0] == 2
    assert "no notify routes" not in every[2] + email[2]
    assert every[2].splitlines()[1:4] == [f"  {line}" for line in waiting]
    assert "SMTP_USER, SMTP_PASSWORD, ALERT_EMAIL not set" in email[2]
    assert "slack" not in email[2]  # only the route asked for
    assert "export NAME=..." in every[2]


def test_notify_test_tests_the_routes_it_can_and_names_the_ones_still_waiting(
    tmp_path: Path, webhook, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("PW_TEST_UNSET_SLACK_URL", raising=False)
    slack = {"name": "slack", "url": "${PW_TEST_UNSET_SLACK_URL}", "optional": True}
    hook = {"name": "hook", "url": webhook.url("/hook").replace("http://", "json://")}
    config = write_watchlist(
        tmp_path / "watchlist.yaml",
        [{"id": "conduct", "url": "http://127.0.0.1:9/conduct"}],
        notify=[hook, slack],
    )
    seller = Seller(tmp_path, config)

    code, out, err = seller(capsys, "notify-test")

    assert code == 0, err
    assert out.splitlines()[0].startswith("hook ") and " ok " in out
    assert "notify route 'slack' skipped: PW_TEST_UNSET_SLACK_URL not set" in out
    assert len(webhook.posts) == 1


# --------------------------------------------------------------------------- serve


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_serve_refuses_a_port_out_of_range_before_it_starts(
    port: str, in_a_fresh_folder: Path, capsys
):
    code, out, err = run(capsys, "serve", "--port", port)

    assert code == 2
    assert f"argument --port: must be from 1 to 65535 (or 0 for any free port), got {port}" in err
    assert out == ""


@pytest.fixture
def desk(tmp_path: Path, pageserver: PageServer, capsys) -> Seller:
    """A data directory with one stored page, for serve to show."""
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    assert seller(capsys, "check", "--no-deliver")[0] == 0
    return seller


def test_serve_on_a_port_another_process_holds_says_so_and_what_to_do(desk: Seller, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, out, err = desk(capsys, "serve", "--port", str(port))

    assert code == 2
    assert f"cannot serve on 127.0.0.1:{port}: another process holds it" in err
    assert "pick another --port" in err
    assert "permissions" not in err and str(desk.data) not in err
    assert "Traceback" not in err and out == ""


def test_serve_on_a_host_that_is_no_address_says_so_without_a_traceback(desk: Seller, capsys):
    code, out, err = desk(capsys, "serve", "--host", "999.1.1.1", "--port", "0")

    assert code == 2
    assert "--host 999.1.1.1: not an address of this machine" in err
    assert "Traceback" not in err and out == ""


# --------------------------------------------------------------------------- demo


def test_demo_keeps_its_data_in_the_data_dir_given_before_the_command(tmp_path: Path, capsys):
    kept = tmp_path / "gd"

    code, out, err = run(capsys, "-d", str(kept), "demo", "--no-color")

    assert code == 0, err
    assert f"The data is kept in {kept}" in out
    assert len(Store(kept).snapshots("contacting-buyers")) == 2


def test_demo_never_takes_the_default_data_dir_for_one_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """$POLICYWATCH_DATA holds the seller's real data: only a typed -d keeps the demo's."""
    monkeypatch.setenv("POLICYWATCH_DATA", str(tmp_path / "real-data"))

    code, out, err = run(capsys, "demo", "--no-color")

    assert code == 0, err
    assert "The data is kept" not in out
    assert not (tmp_path / "real-data").exists()


# --------------------------------------------------------------------------- compare


@pytest.fixture
def two_marketplaces(tmp_path: Path, pageserver: PageServer, capsys) -> Seller:
    """conduct watched in US and UK, and a returns page watched once, all checked."""
    pageserver.route(f"{HELP_PATH}?locale=en-US", CONDUCT)
    pageserver.route(f"{HELP_PATH}?locale=en-GB", UK_PAGE)
    pageserver.route("/returns", CONDUCT)
    conduct = {"id": "conduct", "url": pageserver.url(HELP_PATH), "marketplaces": ["US", "UK"]}
    returns = {"id": "returns", "url": pageserver.url("/returns")}
    entries = [{**page, **SELLER_CENTRAL_PARTS, "fetch": "http"} for page in (conduct, returns)]
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", entries))
    assert seller(capsys, "check", "--no-deliver")[0] == 0
    return seller


def suggested(err: str) -> list[list[str]]:
    """The commands a refusal suggests, as words after `policywatch`."""
    return [shlex.split(command)[1:] for command in re.findall(r"`(policywatch [^`]+)`", err)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("returns", "US", "UK"), "returns has no marketplaces: it is watched once"),
        (("conduct", "US", "DE"), "conduct is not watched in DE; it is watched in US, UK"),
        (
            ("conduct", "US", "XX"),
            "conduct is not watched in XX (XX is not a marketplace code); it is watched in US, UK",
        ),
        (("returnz", "US", "UK"), "no page 'returnz' in"),
    ],
)
def test_compare_says_what_is_wrong_and_suggests_only_commands_that_work(
    two_marketplaces: Seller, capsys, args: tuple[str, ...], says: str
):
    code, out, err = two_marketplaces(capsys, "compare", *args)

    assert code == 2 and out == ""
    assert says in err
    assert "no snapshot yet" not in err and "@" not in err.split("hint:")[0]
    for command in suggested(err):
        assert two_marketplaces(capsys, *command)[0] == 0, command


def test_compare_of_an_unknown_page_lists_the_pages_it_can_compare(two_marketplaces, capsys):
    _, _, err = two_marketplaces(capsys, "compare", "returnz", "US", "UK")

    assert "hint: pages watched in several marketplaces: conduct (US, UK)" in err
    assert "returns" not in err.split("hint:")[1]  # watched once: nothing to compare


# --------------------------------------------------------------------------- what the docs say


def test_the_shortest_id_prefix_the_docs_promise_is_the_one_show_takes(
    tmp_path: Path, pageserver: PageServer, capsys
):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    seller(capsys, "check", "--no-deliver")
    [snapshot] = seller.snapshots("conduct")
    promise = "a unique prefix of it (at least 4 characters)"
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())

    assert promise in readme
    assert promise in " ".join(build_parser().format_help().split())
    assert seller(capsys, "show", "conduct", snapshot.id[:4])[0] == 0
    assert seller(capsys, "show", "conduct", snapshot.id[:3])[0] == 2


def test_the_readme_says_how_the_shipped_watchlist_writes_its_rules():
    shipped = yaml.safe_load((ROOT / "watchlist.yaml").read_text(encoding="utf-8"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())

    assert shipped["rules"]["builtin"] is True and shipped["rules"]["add"]
    assert "`rules: {builtin: true, add: [...]}`, as in the shipped watchlist, adds yours" in readme
    assert "list, as in the shipped watchlist" not in readme
