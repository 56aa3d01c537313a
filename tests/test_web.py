"""The seller's desk over real HTTP: `policywatch serve` on loopback, reading a data directory
that the real `check` filled from pages on loopback (see tests/webdesk.py)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from icalendar import Calendar
from markupsafe import escape

from policywatch.alerts.links import change_path
from policywatch.cli import main
from policywatch.clock import readable
from policywatch.history.store import Store
from tests.pageserver import PageServer
from tests.seller import CONDUCT, write_watchlist
from tests.webdesk import REVIEW_WINDOW, SCRIPT_SENTENCE, Serving, desk_watchlist, fill_desk


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serving, Path, Path]]:
    server = PageServer().start()
    try:
        config, data = fill_desk(tmp_path_factory.mktemp("desk"), server)
    finally:
        server.stop()
    serving = Serving(config, data)
    yield serving, config, data
    serving.stop()


POLICYWATCH = (sys.executable, "-m", "policywatch")


def changes_of(data: Path, page_id: str) -> list[str]:
    with Store(data) as store:
        versions = store.snapshots(page_id)
    return [change_path(page_id, a.id, b.id) for a, b in itertools.pairwise(versions)]


def files_of(data: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(data.rglob("*"))}


def test_the_overview_lists_every_watch_with_its_state_and_last_change(desk):
    serving, _, data = desk
    page = serving.get("/")
    assert page.status_code == 200
    assert "2 watched" in page.text and "1 changed" in page.text and "1 ok" in page.text
    assert "conduct@US" in page.text and "conduct@UK" in page.text
    latest = changes_of(data, "conduct@US")[-1]
    assert f'href="{latest}"' in page.text  # the US watch's last change, by its permalink
    assert "sev-major" in page.text
    with Store(data) as store:
        newest = store.snapshots("conduct@US")[-1]
    assert f">{readable(newest.captured_at)}</a>" in page.text  # as the alert wrote the time


def test_the_overview_filters_by_marketplace_state_and_title(desk):
    serving = desk[0]
    uk = serving.get("/", params={"marketplace": "UK"}).text
    assert "conduct@UK" in uk and "conduct@US" not in uk
    changed = serving.get("/", params={"state": "changed"}).text
    assert "conduct@US" in changed and "conduct@UK" not in changed
    assert "No watched page matches" in serving.get("/", params={"q": "returns policy"}).text


def test_a_change_permalink_shows_the_changed_words_and_the_flip_first(desk):
    serving, _, data = desk
    first, _, last = changes_of(data, "conduct@US")
    page = serving.get(last)
    assert page.status_code == 200
    text = page.text
    assert "<del>may</del><ins>must not</ins>" in text
    assert "1 obligation flip(s)" in text
    assert text.index("Read these first") < text.index("Changed sections")
    assert "Last updated: March 3, 2026" in text  # the page's stated date
    assert 'rel="prev"' in text and 'rel="next"' not in text
    assert serving.get(first).text.count('rel="prev"') == 0


def test_a_page_text_containing_script_is_shown_as_text(desk):
    serving, _, data = desk
    change = changes_of(data, "conduct@US")[0]
    for path in (change, "/timeline", "/feeds/changes.atom"):
        body = serving.get(path).text
        assert "<script>alert" not in body, path
        assert "&lt;script&gt;alert" in body, path


def test_every_answer_forbids_scripts_framing_and_sniffing(desk):
    serving = desk[0]
    for path in ("/", "/timeline", "/pages/nope", "/static/style.css"):
        headers = serving.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no script source at all
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_writing_methods_are_refused_and_the_store_is_untouched(desk):
    serving, _, data = desk
    before = files_of(data)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = requests.request(method, serving.url, data=b"x", timeout=30)
        assert answer.status_code == 405, method
        assert answer.headers["Allow"] == "GET, HEAD"
    for path in ("/", "/timeline", "/health", "/feeds/changes.atom", "/pages/conduct@US"):
        assert serving.get(path).status_code == 200
    assert files_of(data) == before


@pytest.mark.parametrize(
    "path",
    [
        "/pages/..%2F..%2Findex.json",
        "/pages/%2e%2e",
        "/snapshots/conduct@US/..%2F..%2Findex.json.txt",
        "/snapshots/..%2Fpages/x.txt",
        "/changes/..%2F..%2Fetc/passwd..x",
        "/static/..%2F..%2Fapp.py",
        "/feeds/pages/..%2F..%2Fidx.atom",
    ],
)
def test_path_traversal_attempts_are_not_found(desk, path):
    serving = desk[0]
    answer = requests.get(serving.url.rstrip("/") + path, timeout=30)
    assert answer.status_code == 404
    assert "root:" not in answer.text and "schema" not in answer.text


def test_an_unknown_page_or_change_says_what_exists(desk):
    serving, _, data = desk
    page = serving.get("/pages/returns-policy")
    assert page.status_code == 404
    assert "no page &#39;returns-policy&#39;" in page.text
    assert "<code>conduct@US</code>" in page.text and "<code>conduct@UK</code>" in page.text
    change = serving.get("/changes/conduct@US/0000000000..1111111111")
    assert change.status_code == 404
    known = changes_of(data, "conduct@US")[0].rsplit("/", 1)[1]
    assert f"<code>{known}</code>" in change.text


def test_comparing_two_versions_shows_the_same_changes_as_the_cli_diff(desk):
    serving, config, data = desk
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "policywatch",
            "-c",
            str(config),
            "-d",
            str(data),
            "diff",
            "conduct@US",
            "latest~3",
            "latest",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [c["new"] for c in json.loads(cli.stdout)["changes"] if c["substantive"]]
    page = serving.get("/pages/conduct@US/compare", params={"old": "latest~3", "new": "latest"})
    assert page.status_code == 200
    assert len(expected) == 3
    now_reads = re.sub(r"<del>.*?</del>|</?ins>", "", page.text)
    for sentence in expected:
        assert str(escape(sentence)) in now_reads


def test_one_policy_is_compared_across_marketplaces(desk):
    serving = desk[0]
    page = serving.get("/compare/conduct/US/UK")
    assert page.status_code == 200
    assert "conduct@US → conduct@UK" in page.text
    assert serving.get("/compare/conduct/US/DE").status_code == 404


def test_a_page_history_lists_every_version_with_what_changed(desk):
    serving, _, data = desk
    page = serving.get("/pages/conduct@US").text
    with Store(data) as store:
        versions = store.snapshots("conduct@US")
        sizes = [len(store.raw_html(snap)) for snap in versions]
    for snap, size in zip(versions, sizes, strict=True):
        assert snap.id[:10] in page
        assert f"{size} B" in page and snap.digest[:12] in page  # its size and hash
    assert len(set(sizes)) > 1  # each row shows its own version's size
    assert page.count("sev-") == 3 and "first version" in page
    compare = re.search(r'href="(\.\./compare/conduct/UK/US)"', page)
    assert compare is not None
    assert serving.get("/pages/" + compare.group(1)).status_code == 200
    raw = serving.get(f"/snapshots/conduct@US/{versions[0].id[:10]}.txt")
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert b"Seller Code of Conduct" in raw.content


def test_the_timeline_lists_changes_newest_first_and_filters_them(desk):
    serving, _, data = desk
    everything = serving.get("/timeline").text
    paths = changes_of(data, "conduct@US")
    positions = [everything.index(p) for p in reversed(paths)]
    assert positions == sorted(positions)
    assert SCRIPT_SENTENCE.split("<")[0] in everything
    critical = serving.get("/timeline", params={"severity": "critical"}).text
    assert paths[0] in critical and paths[2] not in critical
    assert "0 change(s)" in serving.get("/timeline", params={"page": "conduct@UK"}).text


def test_the_timeline_pages_through_a_long_history(tmp_path, pageserver):
    config = desk_watchlist(tmp_path, pageserver)
    saved = []
    for day in range(1, 54):  # 53 saved copies: 52 changes, more than one timeline page
        path = (
            tmp_path / f"2025-01-{day:02d}.html"
            if day <= 31
            else tmp_path / f"2025-02-{day - 31:02d}.html"
        )
        path.write_text(CONDUCT.replace(REVIEW_WINDOW, f"between 4 and {day + 30} days"))
        saved.append(str(path))
    data = tmp_path / "data"
    assert main(["-q", "-c", str(config), "-d", str(data), "import", "conduct@US", *saved]) == 0
    serving = Serving(config, data)
    try:
        first = serving.get("/timeline", params={"page": "conduct@US"}).text
        older = re.search(r'rel="next" href="([^"]+)"', first)
        assert older is not None
        second = serving.get("/" + older.group(1).replace("&amp;", "&")).text
    finally:
        serving.stop()
    assert "52 change(s) · page 1 of 2" in first
    assert first.count("between 4 and") == 50 and "between 4 and 83 days" in first
    assert "page 2 of 2" in second and second.count("between 4 and") == 2
    assert "between 4 and 32 days" in second and 'rel="prev"' in second


def test_health_shows_what_the_health_command_says(desk):
    serving, config, data = desk
    cli = subprocess.run(
        [sys.executable, "-m", "policywatch", "-c", str(config), "-d", str(data), "health"],
        capture_output=True,
        text=True,
    )
    reason = cli.stdout.split(": ", 1)[1].strip()
    page = serving.get("/health").text
    assert "unhealthy" in page
    assert reason.split(":")[0] in page
    assert "Alerts pending (0)" in page and "Pages failing (0)" in page


def test_a_page_failing_since_its_first_check_is_on_the_overview(tmp_path, pageserver, wall_clock):
    pageserver.route("/returns", "upstream trouble", status=503)
    pages = [{"id": "returns", "url": pageserver.url("/returns"), "fetch": "http"}]
    config = write_watchlist(tmp_path / "watchlist.yaml", pages, notify=())
    data = tmp_path / "data"
    assert main(["-q", "-c", str(config), "-d", str(data), "check", "--no-deliver"]) == 1
    serving = Serving(config, data)
    try:
        overview = serving.get("/").text
        health = serving.get("/health").text
    finally:
        serving.stop()
    row = overview[overview.index('<tr class="row-failing">') :]
    assert "returns" in row and "since 2026-11-29 08:00" in row
    assert "503" in row
    assert "Pages failing (1)" in health


def test_basic_auth_is_enforced_when_configured(desk):
    _, config, data = desk
    secret = {"POLICYWATCH_WEB_USER": "desk", "POLICYWATCH_WEB_PASSWORD": "s3cret-pass"}
    serving = Serving(config, data, env=secret)
    try:
        assert serving.get("/").status_code == 401
        assert "Basic" in serving.get("/").headers["WWW-Authenticate"]
        assert serving.get("/", auth=("desk", "wrong")).status_code == 401
        assert serving.get("/feeds/changes.atom").status_code == 401
        assert serving.get("/", auth=("desk", "s3cret-pass")).status_code == 200
    finally:
        serving.stop()


def test_serve_without_the_web_extra_says_what_to_install(tmp_path: Path):
    blocked = "import sys; sys.modules['waitress'] = None; from policywatch.cli import main; "
    run = subprocess.run(
        [sys.executable, "-c", blocked + f"sys.exit(main(['-d', '{tmp_path}', 'serve']))"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "policywatch: the web view needs the web extra: pip install 'policywatch[web]'"
    ]


def test_a_change_that_sets_a_date_says_when_it_takes_effect_and_the_calendar_has_it(
    tmp_path, pageserver, wall_clock
):
    notice = "These changes take effect on January 15, 2027."
    guidelines = "All sellers must adhere to the following guidelines:"
    pages = [{"id": "conduct", "url": pageserver.url("/conduct"), "fetch": "http"}]
    config = write_watchlist(tmp_path / "watchlist.yaml", pages, notify=())
    data = tmp_path / "data"
    for page in (CONDUCT, CONDUCT.replace(guidelines, f"{guidelines} {notice}")):
        pageserver.route("/conduct", page)
        assert main(["-q", "-c", str(config), "-d", str(data), "check", "--no-deliver"]) == 0
    old, new = Store(data).snapshots("conduct")
    serving = Serving(config, data)
    try:
        answer = serving.get("/calendar.ics")
        change = serving.get("/" + change_path("conduct", old.id, new.id)).text
    finally:
        serving.stop()
    assert '<span class="takes-effect">Takes effect: 2027-01-15 (in ' in change
    assert 'href="../../calendar.ics"' in change or 'href="/calendar.ics"' in change
    assert answer.headers["Content-Type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(answer.content).walk("VEVENT")
    assert str(event.decoded("dtstart")) == "2027-01-15"
    assert notice in str(event.get("description"))
    assert main(["-q", "-c", str(config), "-d", str(data), "site", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "calendar.ics").read_bytes() == answer.content
