"""When a page holds no policy, the seller is told what is really wrong, not "needs JavaScript"."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.pageserver import FIXTURES, PageServer
from tests.seller import CONDUCT, conduct_seller


def test_a_selector_that_matches_nothing_on_a_complete_page_says_so(
    tmp_path: Path, pageserver: PageServer, capsys
):
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver, select="#help-content-v2")

    code, out, _ = seller(capsys, "check", "--no-deliver")

    assert code == 1
    assert out.startswith("conduct  blocked: policy not found: no element matches select ")
    assert "`#help-content-v2`" in out and "fix `select`" in out
    assert "JavaScript" not in out.replace("not a JavaScript shell", "")
    assert seller.snapshots("conduct") == []


def test_an_imported_pdf_is_not_html_rather_than_a_page_needing_javascript(
    tmp_path: Path, pageserver: PageServer, capsys
):
    seller = conduct_seller(tmp_path, pageserver)
    saved = tmp_path / "2024-01-10.html"  # saved by "Print to PDF", named like a page
    shutil.copy(FIXTURES / "conduct-printed.pdf", saved)

    code, out, _ = seller(capsys, "import", "conduct", str(saved))

    assert "blocked: not HTML (looks like PDF)" in out
    assert "JavaScript" not in out
    assert seller.snapshots("conduct") == []
    assert code != 0
