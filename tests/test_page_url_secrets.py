"""A page URL that carries credentials never shows them: not on screen, in the store or in an alert.

Intranet policy pages are often behind basic auth (`https://user:pass@host/...`) or
served from presigned links (`?X-Amz-Signature=...`). The real URL is fetched; every
copy a person, a log collector or a chat channel can read is redacted.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from policywatch.cli import main
from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer, fixture
from tests.seller import SELLER_CENTRAL_PARTS

PASSWORD = "Hunter2-intranet"
TOKEN = "tok3nValue42"
SIGNATURE = "a1b2c3d4e5f6signature"
A = fixture("conduct-v1.html")
COMMUNICATIONS = "Marketing communications are prohibited."
B = A.replace(COMMUNICATIONS, f"{COMMUNICATIONS} Sellers must not send unsolicited messages.")
SECRETS = (PASSWORD, TOKEN, SIGNATURE)


def run(capsys, config: Path, data: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["-c", str(config), "-d", str(data), *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_page_url_with_a_password_and_a_signed_query_is_fetched_but_never_shown(
    tmp_path, capsys, pageserver: PageServer, webhook: HttpReceiver
):
    pageserver.route("/conduct", A)
    url = (
        f"http://intranet:{PASSWORD}@127.0.0.1:{pageserver.port}/conduct"
        f"?locale=en-GB&token={TOKEN}&X-Amz-Signature={SIGNATURE}"
    )
    config = tmp_path / "watchlist.yaml"
    page = {"id": "conduct", "url": url, **SELLER_CENTRAL_PARTS, "fetch": "http"}
    watchlist = {
        "defaults": {"timeout": "5s", "retries": 0, "allow_private": True},  # on loopback
        "pages": [page],
        "notify": [{"name": "hook", "url": webhook.url()}],
    }
    config.write_text(yaml.safe_dump(watchlist), encoding="utf-8")
    data = tmp_path / "data"

    code, validate = run(capsys, config, data, "validate")
    assert code == 0, validate
    assert f"127.0.0.1:{pageserver.port}/conduct?locale=en-GB" in validate

    code, first = run(capsys, config, data, "check", "--format", "json")
    assert code == 0, first
    assert json.loads(first)["pages"][0]["status"] == "new"
    assert pageserver.hits("/conduct")  # the real URL, credentials and all, was fetched

    pageserver.route("/conduct", B)
    code, second = run(capsys, config, data, "check")
    assert "changed" in second
    assert webhook.posts, "the change alert was sent"
    _, shown = run(capsys, config, data, "show", "conduct")

    seen = {
        "validate": validate,
        "check --format json": first,
        "check": second,
        "show": shown,
        "alert": json.dumps([post["json"] for post in webhook.posts]),
        "index.json": (data / "index.json").read_text(encoding="utf-8"),
    }
    for where, text in seen.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} shown in {where}"
    assert "****" in seen["alert"] and "locale=en-GB" in seen["alert"]
