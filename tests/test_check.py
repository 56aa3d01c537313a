"""A seller's first week with policywatch: `check`, `history`, `show` against a real HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.seller import CONDUCT, INBOX, REWORDED, Seller, pages_at, write_watchlist


def watching(tmp_path: Path, **urls: str) -> Path:
    return write_watchlist(tmp_path / "watchlist.yaml", pages_at(urls), notify=())


@pytest.fixture
def seller(tmp_path, pageserver):
    pageserver.route("/conduct", CONDUCT)
    return Seller(
        tmp_path,
        write_watchlist(
            tmp_path / "watchlist.yaml",
            pages_at({"conduct": pageserver.url("/conduct")}),
            notify=(),
        ),
    )


def test_first_check_stores_a_baseline_snapshot(seller, capsys):
    code, out, _ = seller(capsys, "check")
    assert code == 0
    assert out.split()[:2] == ["conduct", "new"]
    assert len(seller.snapshots("conduct")) == 1


def test_an_unchanged_page_with_new_tokens_stores_nothing(seller, pageserver, capsys):
    seller(capsys, "check")
    noisy = (
        CONDUCT.replace("Amazon’s features", "Amazon's features")
        .replace("<li>Always provide", "<li>\n      Always\u00a0provide")
        .replace("© 1999-2026", "© 1999-2027")
    )
    pageserver.route("/conduct", noisy)
    code, out, _ = seller(capsys, "check")
    assert code == 0
    assert "unchanged" in out
    assert len(seller.snapshots("conduct")) == 1


# What only a new version needs: the differ, the renderers, effective dates (and dateparser,
# ~70 ms alone), extraction's boilerplate. A cron `check` that finds nothing new loads none.
CHANGE_ONLY = (
    "dateparser",
    "policywatch.diff.compare",
    "policywatch.diff.render",
    "policywatch.alerts.changes",
    "policywatch.document.effective",
    "policywatch.document.boilerplate",
    "policywatch.run.digests",
)


@pytest.mark.parametrize("notify", [(), (INBOX,)], ids=["no-routes", "a-route"])
def test_an_unchanged_check_imports_nothing_only_a_change_needs(
    tmp_path, pageserver, capsys, notify
):
    """Nor, with notify routes and nothing to send, apprise (its plugins take 0.2-0.4 s)."""
    pageserver.route("/conduct", CONDUCT)
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=notify))
    seller(capsys, "check")
    argv = ["-q", "-c", str(seller.config), "-d", str(seller.data), "check"]
    probe = (
        "import sys\n"
        "from policywatch.cli import main\n"
        f"code = main({argv!r})\n"
        f"print([m for m in {(*CHANGE_ONLY, 'apprise')!r} if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (0, "")
    assert run.stderr.strip() == "[]"
    assert len(seller.snapshots("conduct")) == 1  # the poll was an unchanged one


def test_a_reworded_bullet_stores_one_snapshot_and_one_changed_section(seller, pageserver, capsys):
    seller(capsys, "check")
    pageserver.route("/conduct", REWORDED)
    code, out, _ = seller(capsys, "check", "--format", "json")
    assert code == 0
    [page] = json.loads(out)["pages"]
    assert page["status"] == "changed"
    assert page["changed_sections"] == 1
    assert len(seller.snapshots("conduct")) == 2


def test_a_304_is_unchanged_without_downloading(tmp_path, pageserver, capsys):
    pageserver.route("/conduct", CONDUCT, etag=True)
    seller = Seller(
        tmp_path,
        write_watchlist(
            tmp_path / "watchlist.yaml",
            pages_at({"conduct": pageserver.url("/conduct")}),
            notify=(),
        ),
    )
    seller(capsys, "check")
    code, out, _ = seller(capsys, "check")
    assert code == 0 and "unchanged" in out
    assert [hit.status for hit in pageserver.hits("/conduct")] == [200, 304]


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            "<html><head><title>Amazon Sign-In</title></head><body><form name='signIn'>"
            "<label>Email or mobile phone number</label></form></body></html>",
            200,
            "blocked",
        ),
        (
            "<html><head><title>Robot Check</title></head><body><h4>Enter the characters you"
            " see below</h4><form action='/errors/validateCaptcha'></form></body></html>",
            200,
            "blocked",
        ),
        ("<html><body><h1>Internal Server Error</h1></body></html>", 500, "error"),
        (
            "<html><body><div id='other'><h1>Seller Code of Conduct</h1>"
            "<p>Text</p></div></body></html>",
            200,
            "blocked",
        ),
    ],
    ids=["sign-in page", "captcha", "server error", "selector missing"],
)
def test_walls_and_errors_are_never_a_policy_change(
    seller, pageserver, capsys, body, status, expected
):
    seller(capsys, "check")
    pageserver.route("/conduct", body, status=status)
    code, out, _ = seller(capsys, "check")
    assert code == 1
    assert out.startswith(f"conduct  {expected}: ")
    assert len(seller.snapshots("conduct")) == 1
    pageserver.route("/conduct", CONDUCT)
    code, out, _ = seller(capsys, "check")
    assert (code, out.split()[1]) == (0, "unchanged")


def test_quiet_check_prints_only_problems(tmp_path, pageserver, capsys):
    pageserver.route("/ok", CONDUCT)
    pageserver.route("/gone", "missing", status=404)
    config = watching(tmp_path, ok=pageserver.url("/ok"), gone=pageserver.url("/gone"))
    seller = Seller(tmp_path, config)
    code, out, _ = seller(capsys, "-q", "check")
    assert code == 1
    assert out.splitlines()[0].startswith("gone  error: ")
    assert len(out.splitlines()) == 1


def test_history_and_show_by_every_ref_form(seller, pageserver, capsys):
    seller(capsys, "check")
    pageserver.route("/conduct", REWORDED)
    seller(capsys, "check")
    first, second = seller.snapshots("conduct")

    code, out, _ = seller(capsys, "history", "conduct")
    assert code == 0
    assert out.index(second.id[:10]) < out.index(first.id[:10])

    section = "Seller Code of Conduct"
    for ref, expected in [
        ("latest", "promotional"),
        ("latest~1", "Not send unsolicited or inappropriate"),
        (first.id[:6], "Not send unsolicited or inappropriate"),
        (second.id, "promotional"),
        (second.captured_at, "promotional"),
    ]:
        code, out, err = seller(capsys, "show", "conduct", ref, "--section", section)
        assert code == 0, err
        assert expected in out, ref

    code, out, _ = seller(capsys, "show", "conduct", "latest", "--format", "json")
    sections = [s["label"] for s in json.loads(out)["sections"]]
    assert (
        "Seller Code of Conduct > Guidelines for contacting buyers > Request a Review" in sections
    )


def test_show_one_section_by_its_heading(seller, capsys):
    seller(capsys, "check")
    code, out, _ = seller(
        capsys, "show", "conduct", "--section", "Guidelines for contacting buyers"
    )
    assert code == 0
    assert "contact a buyer only to complete an order" in out
    assert "Marketing communications are prohibited" not in out


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("latest~5", "latest~5"),
        ("ffffffffff", "ffffffffff"),
        ("1999-01-01", "1999-01-01"),
        ("yesterday", "yesterday"),
    ],
)
def test_a_ref_that_names_no_snapshot_is_a_usage_error(seller, capsys, ref, message):
    seller(capsys, "check")
    code, _, err = seller(capsys, "show", "conduct", ref)
    assert code == 2
    assert message in err


def test_reading_commands_on_an_empty_data_dir_explain_what_to_do(seller, capsys):
    code, _, err = seller(capsys, "history", "conduct")
    assert code == 2
    assert "policywatch check" in err


def test_a_punctuation_only_edit_is_kept_but_counts_no_changed_section(seller, pageserver, capsys):
    seller(capsys, "check")
    pageserver.route(
        "/conduct",
        CONDUCT.replace(
            "accurate information to Amazon and our customers<",
            "accurate information to Amazon, and our customers.<",
        ),
    )
    code, out, _ = seller(capsys, "check", "--format", "json")
    [page] = json.loads(out)["pages"]
    assert (code, page["status"], page["changed_sections"], page["severity"]) == (
        0,
        "changed",
        0,
        None,
    )
    assert len(seller.snapshots("conduct")) == 2
    code, out, _ = seller(capsys, "check")
    assert "unchanged" in out


def test_a_renamed_title_outside_the_selected_body_is_still_a_change(tmp_path, pageserver, capsys):
    """The title can come from <title> when the article has no h1 of its own."""
    untitled = CONDUCT.replace("<h1>Seller Code of Conduct</h1>", "")
    pageserver.route("/conduct", untitled)
    seller = Seller(tmp_path, watching(tmp_path, conduct=pageserver.url("/conduct")))
    seller(capsys, "check")
    pageserver.route("/conduct", untitled.replace("<title>Seller Code", "<title>Seller Rules"))
    code, out, _ = seller(capsys, "check")
    assert (code, out.split()[1]) == (0, "changed")
