"""What a new user ran into: a typo'd duration, a token in a header, a hostile page in an
alert, and `site` pointed at a folder of their own.

Each story drives `policywatch` as a seller types it (`tests.seller.Seller`), against
pages on the loopback page server and real webhook and SMTP receivers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.watchlist.load import load_config
from tests.notify_receivers import HttpReceiver, SmtpReceiver
from tests.pageserver import PageServer
from tests.seller import CONDUCT, SELLER_CENTRAL_PARTS, Seller, pages_at, write_watchlist

# The loopback SMTP server asks for a password without TLS on purpose: it proves apprise logs in.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

# Bytes a mail or chat client obeys or hides: C0 controls but newline and tab, DEL, C1
# controls, and the bidi embeddings, overrides and isolates.
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) not in "\n\t"} | {
    chr(c) for c in (*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def line_of(config: Path, text: str) -> int:
    """The 1-based line of the watchlist that holds `text`."""
    lines = config.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def watching(tmp_path: Path, page: dict, defaults: dict | None = None, **route) -> Seller:
    """A seller whose watchlist has this one page (and these defaults and route settings)."""
    notify = [{"url": "json://127.0.0.1:9/", "name": "inbox", **route}]
    config = write_watchlist(
        tmp_path / "watchlist.yaml", [page], notify=notify, defaults=defaults or {}
    )
    return Seller(tmp_path, config)


PAGE = {"id": "conduct", "url": "https://sellercentral.example/help/G1801"}


# --------------------------------------------------------------------------- 1: durations


@pytest.mark.parametrize(
    ("where", "key", "value", "refused", "most"),
    [
        ("defaults", "interval", "99999999999d", "defaults.interval", "365d"),
        ("page", "timeout", "99999999999d", "pages[0].timeout", "10m"),
        ("page", "settle", "400d", "pages[0].settle", "365d"),
        ("page", "translation_lag", "2000d", "pages[0].translation_lag", "365d"),
        ("defaults", "timeout", 86400, "defaults.timeout", "10m"),
        ("route", "timeout", "1d", "notify[0].timeout", "10m"),
    ],
)
def test_a_typo_in_a_duration_is_refused_at_its_line_not_when_run_or_check_trips_on_it(
    tmp_path, capsys, where, key, value, refused, most
):
    setting = {key: value}
    seller = watching(
        tmp_path,
        {**PAGE, **setting} if where == "page" else PAGE,
        setting if where == "defaults" else None,
        **(setting if where == "route" else {}),
    )
    line = line_of(seller.config, f"{key}: ")

    for command in ("validate", "check", "run"):
        code, out, err = seller(capsys, command)
        assert code == 2, (command, out, err)
        assert f"watchlist.yaml:{line}: {refused}: " in err, (command, err)
        assert f"is too long: it may be at most {most}" in err
        assert f"hint: e.g. {key}: " in err
        assert "Traceback" not in err and "OverflowError" not in err


def test_durations_up_to_their_limits_and_bare_seconds_still_load(tmp_path, capsys):
    seller = watching(
        tmp_path,
        {**PAGE, "interval": "365d", "settle": {"polls": 2, "for": "365d"}},
        {"timeout": 45, "translation_lag": "365d"},  # a bare number is seconds
        timeout="10m",
    )
    code, out, err = seller(capsys, "validate")
    assert code == 0, err
    assert "every 365d" in out
    config = load_config(seller.config, env={})
    page = config.page("conduct")
    assert (page.interval, page.timeout, page.settle.seconds) == (365 * 86400, 45, 365 * 86400)
    assert (config.defaults.translation_lag, config.routes[0].timeout) == (365 * 86400, 600)


# --------------------------------------------------------------------------- 2: header secrets

TOKEN = "Pol1cy-T0ken-xyz"


def header_seller(tmp_path: Path, server: PageServer, **page) -> Seller:
    entry = {**pages_at({"conduct": server.url("/conduct")})[0], **page}
    return watching(tmp_path, entry)


def test_a_token_in_a_page_header_comes_from_the_environment_and_reaches_the_site(
    tmp_path, capsys, pageserver: PageServer, monkeypatch
):
    pageserver.route("/conduct", CONDUCT)
    monkeypatch.setenv("POLICY_TOKEN", TOKEN)
    seller = header_seller(
        tmp_path, pageserver, headers={"Authorization": "Bearer ${POLICY_TOKEN}"}
    )
    checked = seller(capsys, "check")
    assert checked[0] == 0, checked
    [seen] = pageserver.hits("/conduct")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    validated = seller(capsys, "validate")
    assert validated[0] == 0, validated
    assert TOKEN not in seller.config.read_text() + "".join(checked[1:] + validated[1:])


def test_an_unset_header_variable_is_refused_at_its_line_with_how_to_set_it(
    tmp_path, capsys, pageserver: PageServer, monkeypatch
):
    monkeypatch.delenv("POLICY_TOKEN", raising=False)
    seller = header_seller(
        tmp_path, pageserver, headers={"Authorization": "Bearer ${POLICY_TOKEN}"}
    )
    code, out, err = seller(capsys, "validate")
    assert code == 2, out + err
    line = line_of(seller.config, "Authorization")
    assert (
        f"watchlist.yaml:{line}: pages[0].headers.Authorization: "
        "environment variable POLICY_TOKEN is not set (or empty)"
    ) in err
    assert "export POLICY_TOKEN=..." in err
    assert pageserver.hits("/conduct") == []


def test_commands_that_send_nothing_work_without_the_secrets_they_are_not_given(
    tmp_path, capsys, pageserver: PageServer, monkeypatch
):
    """The web service's environment holds no token: its diff, history and site still work."""
    pageserver.route("/conduct", CONDUCT)
    monkeypatch.setenv("POLICY_TOKEN", TOKEN)
    seller = header_seller(
        tmp_path, pageserver, headers={"Authorization": "Bearer ${POLICY_TOKEN}"}
    )
    assert seller(capsys, "check")[0] == 0
    monkeypatch.delenv("POLICY_TOKEN")

    for command in (["diff", "conduct", "latest", "latest"], ["site", str(tmp_path / "site")]):
        code, out, err = seller(capsys, *command)
        assert code == 0, out + err
    assert seller(capsys, "check")[0] == 2  # a command that fetches still needs it


def test_a_header_variable_holding_a_line_break_cannot_smuggle_a_second_header(
    tmp_path, capsys, pageserver: PageServer, monkeypatch
):
    monkeypatch.setenv("POLICY_TOKEN", f"{TOKEN}\r\nX-Evil: 1")
    seller = header_seller(tmp_path, pageserver, headers={"Cookie": "session=${POLICY_TOKEN}"})
    code, out, err = seller(capsys, "validate")
    assert code == 2, out + err
    assert "pages[0].headers.Cookie: a header value must fit on one line" in err
    assert TOKEN not in out + err


def test_a_page_url_with_a_variable_is_refused_and_points_at_headers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POLICY_TOKEN", TOKEN)
    seller = watching(tmp_path, {**PAGE, "url": f"{PAGE['url']}?token=${{POLICY_TOKEN}}"})
    code, out, err = seller(capsys, "validate")
    assert code == 2, out + err
    line = line_of(seller.config, "url: https://sellercentral")
    assert f"watchlist.yaml:{line}: pages[0].url: a page `url` takes no ${{...}}" in err
    assert 'headers: {Authorization: "Bearer ${POLICY_TOKEN}"}' in err


# --------------------------------------------------------------------------- 3: hostile alerts

EVIL_H1 = "<h1>Evil \x1b[31mRED\x1b[0m policy</h1>"
EVIL_BEFORE = CONDUCT.replace("<h1>Seller Code of Conduct</h1>", EVIL_H1)
EVIL_AFTER = EVIL_BEFORE.replace(
    "<li>Not send unsolicited or inappropriate communications</li>",
    "<li>Not send unsolicited\x1b[2J or inappropriate\x1b]0;pwned\x07 communications "
    "to \u202eseiciloP\u202c buyers</li>",
)


def test_a_page_full_of_terminal_controls_reaches_webhook_and_email_with_them_escaped(
    tmp_path, capsys, pageserver: PageServer, webhook: HttpReceiver, mailbox: SmtpReceiver
):
    pageserver.route("/conduct", EVIL_BEFORE)
    entry = {
        "id": "conduct",
        "url": pageserver.url("/conduct"),
        **SELLER_CENTRAL_PARTS,
        "fetch": "http",
    }
    routes = [{"url": webhook.url(), "name": "hook"}, {"url": mailbox.url(), "name": "email"}]
    config = write_watchlist(tmp_path / "watchlist.yaml", [entry], notify=routes)
    seller = Seller(tmp_path, config)
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", EVIL_AFTER)
    code, out, err = seller(capsys, "check")
    assert code == 0, out + err

    [post] = webhook.posts
    title, message = post["json"]["title"], post["json"]["message"]
    [mail] = mailbox.messages
    subject = mail["Subject"]
    html_part = mail.get_body(("html",)).get_content().replace("\r\n", "\n")  # mail's line ends
    for shown in (title, message, subject, html_part):
        assert set(shown) & FORBIDDEN == set()
    assert "Evil \\x1b[31mRED\\x1b[0m policy" in title  # visible, not obeyed
    assert "Evil \\x1b[31mRED\\x1b[0m policy" in subject
    for text in (message, html_part):
        for escaped in ("\\x1b[2J", "\\x1b]0;pwned\\x07", "\\u202eseiciloP\\u202c"):
            assert escaped in text


# --------------------------------------------------------------------------- 4: site folder


@pytest.fixture
def seller_with_history(tmp_path, capsys, pageserver: PageServer) -> Seller:
    pageserver.route("/conduct", CONDUCT)
    config = write_watchlist(
        tmp_path / "watchlist.yaml", pages_at({"conduct": pageserver.url("/conduct")}), notify=()
    )
    seller = Seller(tmp_path, config)
    assert seller(capsys, "check")[0] == 0
    return seller


def test_site_refuses_a_folder_of_the_sellers_own_and_overwrites_nothing(
    tmp_path, capsys, seller_with_history: Seller
):
    mine = tmp_path / "mysite"
    mine.mkdir()
    (mine / "index.html").write_text("MY OWN HOMEPAGE\n")

    code, out, err = seller_with_history(capsys, "site", str(mine))

    assert code == 2, out + err
    assert f"{mine} is not empty and holds no .policywatch-site.json" in err
    assert "hint: name a new or empty folder" in err
    assert (mine / "index.html").read_text() == "MY OWN HOMEPAGE\n"
    assert [p.name for p in mine.iterdir()] == ["index.html"]
    # The folder that holds the watchlist and the data (or `/`) is refused the same way.
    before = sorted(p.name for p in tmp_path.iterdir())
    assert seller_with_history(capsys, "site", str(tmp_path))[0] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    code, out, err = seller_with_history(capsys, "site", str(seller_with_history.config))
    assert code == 2 and "is a file, not a folder" in err, out + err


def test_site_writes_a_new_or_empty_folder_and_updates_its_own_output(
    tmp_path, capsys, seller_with_history: Seller
):
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "public", empty):
        code, _, err = seller_with_history(capsys, "site", str(out))
        assert code == 0, err
        assert (out / "index.html").is_file() and (out / ".policywatch-site.json").is_file()
        code, again, err = seller_with_history(capsys, "site", str(out))
        assert code == 0, err
        assert " 0 file(s) written" in again
