"""A version can never be dated in the future: not by `import --at`, not by a REF that names one.

A saved copy dated 2062 would claim to be in force over everything fetched until
then, and `show PAGE 2062-01-01` would quietly answer with today's version as if
it were known for that date. Both are refused with one line saying why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.pageserver import PageServer
from tests.seller import CONDUCT, conduct_seller

# Built from the real clock, so the tests hold on any day they run.
FUTURE = (datetime.now(UTC) + timedelta(days=36 * 365)).date().isoformat()


def test_importing_a_page_dated_in_the_future_is_refused_and_stores_nothing(
    tmp_path, capsys, pageserver: PageServer
):
    seller = conduct_seller(tmp_path, pageserver)
    saved = tmp_path / "conduct-saved.html"
    saved.write_text(CONDUCT, encoding="utf-8")

    code, out, err = seller(capsys, "import", "conduct", str(saved), "--at", FUTURE)

    assert code == 2, out + err
    assert f"--at {FUTURE} is in the future" in err
    assert not (seller.data / "index.json").exists() or seller.snapshots("conduct") == []


def test_a_saved_file_named_with_a_future_date_is_refused(tmp_path, capsys, pageserver):
    seller = conduct_seller(tmp_path, pageserver)
    saved = tmp_path / f"conduct-{FUTURE}.html"
    saved.write_text(CONDUCT, encoding="utf-8")

    code, _, err = seller(capsys, "import", "conduct", str(saved))

    assert code == 2
    assert f"conduct-{FUTURE}.html: its date {FUTURE}T00:00:00Z is in the future" in err


def test_show_and_diff_at_a_future_date_say_so_instead_of_showing_the_latest(
    tmp_path, capsys, pageserver: PageServer
):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    assert seller(capsys, "check")[0] == 0

    code, out, err = seller(capsys, "show", "conduct", FUTURE)
    assert code == 2, out
    assert f"{FUTURE} is in the future" in err and "latest" in err

    code, out, err = seller(capsys, "diff", "conduct", "latest", f"{FUTURE}T00:00:00Z")
    assert code == 2, out
    assert "is in the future" in err

    assert seller(capsys, "show", "conduct", "latest")[0] == 0
