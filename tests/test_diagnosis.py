"""When a page cannot be read, the seller is told what is really wrong and how to fix it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


WATCHLIST = """\
pages:
  - id: seller-code-of-conduct
    url: https://sellercentral.amazon.com/help/hub/reference/external/G1801
  - id: fee-schedule
    url: https://example.com/fees
    fetch: browser
  - id: plain-terms
    url: https://example.com/terms
    fetch: http
"""


def validate_without_playwright(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`policywatch validate` in a Python where `import playwright` fails, as before the extra."""
    shim = tmp_path / "shim" / "playwright"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'playwright'\")\n")
    config = tmp_path / "watchlist.yaml"
    config.write_text(WATCHLIST, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    child = {k: v for k, v in os.environ.items() if not k.startswith("POLICYWATCH_")}
    child |= {"PYTHONPATH": os.pathsep.join([str(shim.parent), str(root)]), **env}
    return subprocess.run(
        [sys.executable, "-m", "policywatch", "-c", str(config), "validate"],
        capture_output=True,
        text=True,
        env=child,
        timeout=60,
    )


def test_validate_warns_that_browser_pages_cannot_run_without_the_browser_extra(tmp_path: Path):
    done = validate_without_playwright(tmp_path)

    assert done.returncode == 0, done.stderr  # the watchlist itself is fine
    [warning] = done.stderr.splitlines()
    assert warning.startswith("warning: ") and "2 pages need the browser" in warning
    assert "(seller-code-of-conduct, fee-schedule)" in warning
    assert "Playwright package is not installed" in warning
    assert "pip install 'policywatch[browser]'" in warning
    assert "plain-terms" not in warning


def test_validate_also_names_the_missing_chromium_and_how_to_point_at_one(tmp_path: Path):
    done = validate_without_playwright(
        tmp_path, POLICYWATCH_CHROMIUM=str(tmp_path / "no-such-chromium")
    )

    assert done.returncode == 0, done.stderr
    assert "pip install 'policywatch[browser]'" in done.stderr
    assert "apt-get install chromium, or set POLICYWATCH_CHROMIUM" in done.stderr
