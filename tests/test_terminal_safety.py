"""Page text can never drive the seller's terminal.

A page is attacker-controlled. A heading carrying `ESC [2J` clears the screen, an
OSC sequence retitles the window or plants a hyperlink whose target differs from
its text, a C1 CSI (U+009B) does the same without ESC, and a bidi override makes
a sentence read backwards. Whatever the page says, `check`, `show`, `diff`,
`history` and `alerts` print only printable characters (controls as escapes).
"""

from __future__ import annotations

from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer
from tests.seller import CONDUCT, Seller, pages_at, write_watchlist

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://127.0.0.1:9/steal\x1b\\Seller Central\x1b]8;;\x1b\\"
C1_CSI = "\u009b31m"
BIDI = "\u202eseiciloP\u202c"
HOSTILE = (
    CONDUCT.replace("<h1>Seller Code of Conduct</h1>", f"<h1>Seller Code of Conduct{TITLE}</h1>")
    .replace(
        "<h2>Ratings, Feedback, and Reviews</h2>",
        f"<h2>Ratings{CLEAR}{TITLE}, Feedback, and Reviews {BIDI}</h2>",
    )
    .replace(
        "<li>Not send unsolicited or inappropriate communications</li>",
        f"<li>Not send unsolicited{C1_CSI} messages, see {LINK}</li>",
    )
)
# Bytes a terminal obeys: C0 controls but newline, DEL, C1 controls, bidi controls.
FORBIDDEN = {chr(c) for c in range(0x20) if chr(c) not in "\n"} | {
    chr(c) for c in range(0x7F, 0xA0)
}
FORBIDDEN |= {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def obeyed(text: str) -> set[str]:
    return {hex(ord(c)) for c in set(text) & FORBIDDEN}


def test_a_page_with_escape_sequences_in_its_text_prints_them_as_harmless_escapes(
    tmp_path, capsys, pageserver: PageServer, webhook: HttpReceiver
):
    pageserver.route("/conduct", CONDUCT)
    hook = {"url": webhook.url(), "name": "hook"}
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    watchlist = write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[hook], defaults={})
    seller = Seller(tmp_path, watchlist)
    assert seller(capsys, "check")[0] == 0
    pageserver.route("/conduct", HOSTILE)

    outputs = {"check": seller(capsys, "check")}
    outputs["show"] = seller(capsys, "show", "conduct")
    outputs["diff"] = seller(capsys, "diff", "conduct")
    outputs["diff --format markdown"] = seller(capsys, "diff", "conduct", "--format", "markdown")
    outputs["history"] = seller(capsys, "history", "conduct")
    outputs["alerts"] = seller(capsys, "alerts")
    for name, (code, out, err) in outputs.items():
        assert code == 0, f"{name}: {out}{err}"
        assert obeyed(out + err) == set(), f"{name} printed raw controls"

    shown = outputs["show"][1]
    assert "Ratings\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07, Feedback" in shown  # visible, not obeyed
    assert "\\u202eseiciloP\\u202c" in shown
    assert "Seller Code of Conduct\\x1b]0;pwned\\x07" in outputs["alerts"][1]
    diff = outputs["diff"][1]
    assert "\\x9b31m" in diff and "\\x1b]8;;http://127.0.0.1:9/steal" in diff

    stored = seller.json(capsys, "show", "conduct")
    labels = [section["label"] for section in stored["sections"]]
    assert any(CLEAR in label for label in labels)  # the record keeps what the page said
