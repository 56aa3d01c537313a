"""The web view against a hostile policy page and hostile requests: every byte of a fetched
page is attacker-controlled, and so is every request that reaches `serve`."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import feedparser
import pytest

from policywatch.cli import main
from policywatch.web.site import MANIFEST
from tests.pageserver import PageServer
from tests.seller import CONDUCT, write_watchlist
from tests.webdesk import Serving, desk_watchlist, fill_desk

GUIDELINES = "All sellers must adhere to the following guidelines:"
# Control characters and XML non-characters written into the page as bytes and as references.
GARBLED = "Sellers must\x0b reply\x01 within 2 days&#xFFFE; or risk\x1b[31m suspension."


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory):
    server = PageServer().start()
    try:
        config, data = fill_desk(tmp_path_factory.mktemp("desk"), server, edits=1)
    finally:
        server.stop()
    serving = Serving(config, data)
    yield serving, config, data
    serving.stop()


def garbled_desk(tmp_path: Path, server: PageServer) -> tuple[Path, Path]:
    pages = [{"id": "conduct", "url": server.url("/conduct"), "fetch": "http"}]
    config = write_watchlist(tmp_path / "watchlist.yaml", pages, notify=())
    data = tmp_path / "data"
    for page in (CONDUCT, CONDUCT.replace(GUIDELINES, f"{GUIDELINES} {GARBLED}")):
        server.route("/conduct", page)
        assert main(["-q", "-c", str(config), "-d", str(data), "check", "--no-deliver"]) == 0
    return config, data


def test_a_page_with_control_characters_still_gives_feeds_a_reader_parses_and_a_site(
    tmp_path: Path, pageserver: PageServer
):
    config, data = garbled_desk(tmp_path, pageserver)
    serving = Serving(config, data)
    try:
        answers = [serving.get(p) for p in ("/feeds/changes.atom", "/feeds/pages/conduct.atom")]
    finally:
        serving.stop()
    for answer in answers:
        assert answer.status_code == 200, answer.url
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, parsed.bozo_exception
        (entry,) = parsed.entries
        assert "reply\\x01 within 2 days\\ufffe or risk\\x1b" in entry.content[0].value
    assert main(["-q", "-c", str(config), "-d", str(data), "site", str(tmp_path / "out")]) == 0
    assert not feedparser.parse((tmp_path / "out/feeds/changes.atom").read_bytes()).bozo


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def test_asking_for_many_pages_that_do_not_exist_does_not_grow_the_server(desk):
    serving = desk[0]
    long_id = "x" * 100_000

    def ask(n: int, start: int) -> None:
        for i in range(start, start + n):
            assert serving.get(f"/pages/{i}{long_id}").status_code == 404

    ask(180, 0)  # the server's buffers and allocator arenas reach their working size
    before = rss_kib(serving.proc.pid)
    ask(120, 1000)
    # Each id kept costs its 100 kB and more: 120 of them would be well over 12 MB.
    assert rss_kib(serving.proc.pid) - before < 4_000


@pytest.mark.parametrize("number", ["²", "9" * 5000])
def test_an_odd_or_huge_timeline_page_number_shows_a_page_not_an_error(desk, number):
    answer = desk[0].get("/timeline", params={"p": number})
    assert answer.status_code == 200
    assert "Every change, newest first" in answer.text


def test_a_static_copy_forbids_scripts_even_where_the_host_sends_no_policy(desk, tmp_path: Path):
    _, config, data = desk
    out = tmp_path / "site"
    assert main(["-q", "-c", str(config), "-d", str(data), "site", str(out)]) == 0
    pages = list(out.rglob("*.html"))
    assert pages
    for page in pages:
        policy = re.search(
            r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page.read_text()
        )
        assert policy is not None, page
        content = unescape(policy.group(1))
        assert "default-src 'none'" in content and "script-src" not in content


def test_serve_refuses_a_user_name_without_a_password_rather_than_serving_unlocked(desk):
    _, config, data = desk
    half = {"POLICYWATCH_WEB_USER": "seller", "POLICYWATCH_WEB_PASSWORD": ""}
    try:
        unlocked = Serving(config, data, env=half)
    except AssertionError as refused:
        assert "POLICYWATCH_WEB_PASSWORD is empty: set both, or neither" in str(refused)
    else:
        unlocked.stop()
        pytest.fail("serve started unlocked with a user name and no password")


def test_an_unlocked_view_does_not_answer_a_web_page_that_rebinds_its_domain_to_loopback(
    desk, tmp_path: Path, pageserver: PageServer
):
    serving, _, data = desk
    port = serving.url.rsplit(":", 1)[1].strip("/")

    def status(host: str, **kwargs) -> int:
        return serving.get("/health", headers={"Host": f"{host}:{port}"}, **kwargs).status_code

    assert status("attacker.example") == 421
    assert "answers only to localhost" in serving.get("/", headers={"Host": "evil.test"}).text
    assert [status(h) for h in ("localhost", "127.0.0.1", "[::1]")] == [200, 200, 200]
    config = desk_watchlist(tmp_path, pageserver, base_url="https://desk.example.com/")
    named = Serving(config, data)
    locked = Serving(
        config, data, env={"POLICYWATCH_WEB_USER": "u", "POLICYWATCH_WEB_PASSWORD": "p"}
    )
    try:
        assert named.get("/", headers={"Host": "desk.example.com"}).status_code == 200
        assert named.get("/", headers={"Host": "attacker.example"}).status_code == 421
        # With a password the browser has nothing to send to the attacker's domain.
        assert locked.get("/", headers={"Host": "desk.example.org"}).status_code == 401
        assert locked.get("/", headers={"Host": "x.test"}, auth=("u", "p")).status_code == 200
    finally:
        named.stop()
        locked.stop()


def test_a_symlink_planted_inside_the_site_folder_cannot_make_site_write_outside_it(
    desk, tmp_path: Path
):
    _, config, data = desk
    out, outside = tmp_path / "site", tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.txt").write_text("mine\n")
    site = ["-q", "-c", str(config), "-d", str(data), "site", str(out)]
    assert main(site) == 0
    (out / MANIFEST).unlink()
    (out / MANIFEST).symlink_to(outside / "notes.txt")
    assert main(site) == 0
    assert (outside / "notes.txt").read_text() == "mine\n"
    shutil.rmtree(out / "pages")
    (out / "pages").symlink_to(outside)
    assert main(site) == 2
    assert sorted(p.name for p in outside.iterdir()) == ["notes.txt"]
