"""What a server or a page says can drive no terminal, ping no channel and expose no route.

Every byte of a fetched page or a server's answer is attacker-controlled, and it
reaches log lines (`policywatch run`, `-v`), `diff --format json`, Discord and
Slack. Notify URLs reach `validate`, logs and errors: an ntfy topic or a gotify
token is a route's only credential, however much it reads like a word.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest
import responses

from policywatch import logs
from policywatch.alerts.changes import change_alert
from policywatch.alerts.notify import send
from policywatch.diff.markdown import markdown_escape
from policywatch.models import Route
from policywatch.redact import redact
from policywatch.run import loop
from tests.notify_scenes import conduct_change
from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, pages_at, write_watchlist

# A status line whose reason phrase retitles the window (OSC) and clears the screen (C1 CSI).
REASON = "Not\x1b]0;PWNED\x07 Found\x9b2J"
BIDI = "\u202eseiciloP\u202c"
# Bytes a terminal obeys: C0 controls but newline, DEL, C1 controls, bidi controls.
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) != "\n"} | {chr(c) for c in range(0x7F, 0xA0)}
FORBIDDEN |= {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
MASS_PING = re.compile(r"@(?:everyone|here)", re.IGNORECASE)
DISCORD_URL = "https://discord.com/api/webhooks/112233445566778899/DiscordSecretToken-abc_XYZ"
SLACK_URL = "https://hooks.slack.com/services/T0POLICY1/B0WATCH22/xoxSlackSecretToken123"


def obeyed(text: str) -> set[str]:
    return {hex(ord(c)) for c in set(text) & FORBIDDEN}


class HostileStatusServer:
    """A server that answers every GET with `404 <REASON>`, which `PageServer` cannot say."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(404, REASON)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> HostileStatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hostile_server() -> Iterator[HostileStatusServer]:
    with HostileStatusServer() as server:
        yield server


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`logs.setup` replaces the root handler: give the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


# --------------------------------------------------------------------------- A: log lines


def test_a_servers_reason_phrase_cannot_retitle_the_operators_terminal_through_the_log(
    tmp_path, capsys, hostile_server, root_logging
):
    pages = pages_at({"conduct": hostile_server.url("/conduct")})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages))
    code, out, err = seller(capsys, "-v", "check")
    assert code == 1, out + err
    [logged] = [line for line in err.splitlines() if "page=conduct status=error" in line]
    assert obeyed(err) == set()
    assert "HTTP 404 Not\\x1b]0;PWNED\\x07 Found\\x9b2J" in logged  # visible, not obeyed


def test_a_log_collector_gets_the_reason_phrase_as_json_that_no_terminal_obeys(
    tmp_path, hostile_server, root_logging
):
    pages = pages_at({"conduct": hostile_server.url("/conduct")})
    config = write_watchlist(tmp_path / "watchlist.yaml", pages, defaults={"interval": "2s"})
    stream, stop = io.StringIO(), threading.Event()
    logs.setup(logging.INFO, "json", stream)  # what `policywatch run --log-format json` does
    daemon = threading.Thread(
        target=loop.run, args=(config, tmp_path / "data"), kwargs={"stop_event": stop}
    )
    daemon.start()
    try:
        for _ in range(300):
            if "status=error" in stream.getvalue():
                break
            stop.wait(0.1)
    finally:
        stop.set()
        daemon.join(30)
    text = stream.getvalue()
    [record] = [json.loads(line) for line in text.splitlines() if "status=error" in line]
    assert obeyed(text) == set()
    assert f"HTTP 404 {REASON}" in record["msg"]  # the collector decodes what the server said


def test_a_japanese_or_german_title_stays_readable_in_the_log_while_its_controls_are_escaped(
    root_logging,
):
    title = "規約の変更 Grüße"
    for fmt in logs.FORMATS:
        stream = io.StringIO()
        logs.setup(logging.INFO, fmt, stream)
        logging.getLogger("policywatch.pipeline").info(
            "title %s", f"{title}{BIDI}\x9b2J", extra={"page": f"{title}\x1b[2J"}
        )
        line = stream.getvalue()
        assert obeyed(line) == set(), fmt
        assert title in line, fmt  # not \\u-escaped: people read these logs


def test_a_traceback_keeps_its_lines_but_a_message_cannot_forge_a_log_line_of_its_own(
    root_logging,
):
    stream = io.StringIO()
    logs.setup(logging.INFO, "text", stream)
    forged = "\n2026-11-29T22:40:00Z INFO policywatch.pipeline page=conduct status=unchanged"
    try:
        raise ValueError(f"bad answer{forged}\x1b[2J")
    except ValueError:
        logging.getLogger("policywatch.pipeline").exception("title %s", f"Conduct{forged}")
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("ERROR policywatch.pipeline title Conduct")
    assert "    Traceback (most recent call last):" in rest
    assert all(row.startswith("    ") for row in rest)  # every row belongs to the one event
    assert "    ValueError: bad answer" in rest and obeyed(stream.getvalue()) == set()


# --------------------------------------------------------------------------- B: diff json

HOSTILE = CONDUCT.replace(
    "<li>Not send unsolicited or inappropriate communications</li>",
    f"<li>Not send unsolicited\u009b31m messages 規約 über {BIDI}, see \u2066this\u2069</li>",
)


def test_diff_as_json_for_a_script_carries_the_pages_controls_only_as_json_escapes(
    tmp_path, capsys, pageserver: PageServer
):
    pageserver.route("/conduct", CONDUCT)
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages))
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", HOSTILE)
    assert seller(capsys, "check")[0] == 0

    code, out, err = seller(capsys, "diff", "conduct", "--format", "json")
    assert code == 0, err
    assert obeyed(out) == set()
    assert "規約 über" in out  # readable, as the other formats show it
    [added] = [c["new"] for c in json.loads(out)["changes"] if c["new"] and "規約" in c["new"]]
    assert f"unsolicited\u009b31m messages 規約 über {BIDI}, see \u2066this\u2069" in added


# --------------------------------------------------------------------------- C: mass pings

PINGS = "Ask a@everyone, _@everyone, x.@here, 1-@everyone or +@here: https://evil.example/@everyone"


@pytest.mark.parametrize("text", ["a@everyone", "_@everyone", "x.@here", "1-@everyone", "+@here"])
def test_everyone_and_here_are_defused_whatever_comes_before_the_at_sign(text):
    for syntax in (True, False):
        shown = markdown_escape(text, syntax=syntax)
        assert MASS_PING.findall(shown) == []
        assert shown.replace("\u200b", "").replace("\\", "") == text  # the same words


@responses.activate
def test_a_page_cannot_ping_the_whole_discord_server_while_addresses_read_as_before():
    responses.add(responses.POST, DISCORD_URL, status=204)
    responses.add(responses.POST, SLACK_URL, body="ok")
    scene = conduct_change(
        (
            "<li>Not send unsolicited or inappropriate communications</li>",
            f"<li>Not send unsolicited messages. {PINGS}; write to seller@example.com</li>",
        )
    )
    alert = change_alert(scene.diff, scene.page, scene.severity, scene.old, scene.new)
    assert send(Route(DISCORD_URL, "discord"), alert.to_payload()) == (True, None)
    assert send(Route(SLACK_URL, "slack"), alert.to_payload()) == (True, None)

    discord = json.loads(responses.calls[0].request.body)["content"]
    slack = json.loads(responses.calls[1].request.body)["attachments"][0]["text"]
    for content in (discord, slack):
        assert MASS_PING.findall(content) == []
        assert PINGS in content.replace("\u200b", "").replace("\\", "")  # still readable
        assert "seller@example.com" in content  # an address is no mention


@responses.activate
def test_a_link_the_page_added_cannot_ping_the_discord_server_from_its_address():
    responses.add(responses.POST, DISCORD_URL, status=204)
    href = "https://evil.example/@everyone/x@Here"
    scene = conduct_change(
        (
            "<li>Not send unsolicited or inappropriate communications</li>",
            f'<li>Not send unsolicited messages; see <a href="{href}">the rules</a></li>',
        )
    )
    alert = change_alert(scene.diff, scene.page, scene.severity, scene.old, scene.new)
    assert send(Route(DISCORD_URL, "discord"), alert.to_payload()) == (True, None)

    discord = json.loads(responses.calls[0].request.body)["content"]
    assert "https://evil.example/%40everyone/x%40Here" in discord  # the same link
    assert MASS_PING.findall(discord) == []


# --------------------------------------------------------------------------- D: notify URLs


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        ("ntfy://ntfy.sh/acmepolicyalerts", "acmepolicyalerts", "ntfy://ntfy.sh/"),
        ("https://ntfy.sh/acmepolicyalerts", "acmepolicyalerts", "https://ntfy.sh/"),
        ("ntfy://ntfy.sh/?to=acmepolicyalerts", "acmepolicyalerts", "ntfy://ntfy.sh/?to="),
        ("gotify://gotify.example/apptokenxyz", "apptokenxyz", "gotify://gotify.example/"),
        ("json://hooks.example/policyalerts", "policyalerts", "json://hooks.example/"),
        ("json://hooks.example/mysecretpath/hooks/x", "mysecretpath", "json://hooks.example/"),
    ],
)
def test_an_ntfy_topic_or_gotify_token_is_never_shown(url, secret, shown):
    masked = redact(url)
    assert secret not in masked
    assert masked.startswith(shown)


def test_validate_and_the_log_never_show_an_ntfy_topic(tmp_path, capsys, root_logging):
    topic = "acmepolicyalerts"
    route = {"name": "phone", "url": f"ntfy://ntfy.sh/{topic}"}
    pages = pages_at({"conduct": "https://sellercentral.example/help/G1801"})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[route]))
    code, out, err = seller(capsys, "validate")
    assert code == 0, err
    assert "ntfy://ntfy.sh/****" in out and topic not in out + err

    stream = io.StringIO()
    logs.add_secrets([route["url"]])
    logs.setup(logging.INFO, "text", stream)
    logging.getLogger("policywatch.notify").warning("ntfy said: topic %s is rate limited", topic)
    logging.getLogger("policywatch.notify").warning("fetched https://ntfy.sh/G1801/help")
    assert topic not in stream.getvalue()
    assert "https://ntfy.sh/G1801/help" in stream.getvalue()  # a page URL keeps its path


def test_a_page_url_with_a_password_keeps_its_readable_path_in_the_log(root_logging):
    stream = io.StringIO()
    logs.setup(logging.INFO, "text", stream)
    logging.getLogger("policywatch.fetch").info(
        "fetched https://intranet:Hunter2-intranet@wiki.example/policies/G200386250"
    )
    line = stream.getvalue()
    assert "Hunter2-intranet" not in line and "wiki.example/policies/G200386250" in line
