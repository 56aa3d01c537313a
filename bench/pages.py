"""Seller Central-like help pages of real size, and a loopback server for them.

The benchmark must poll what policywatch polls in production: ~150 KB pages of
which the policy is a few KB. Around it sit ~45 KB of inline script in <head>,
60-80 KB of trailing script, a header, a related-articles sidebar and a footer,
with request and session ids that change on every request (the markers of
tests/pageserver.py), so every body differs while the policy does not. The text
is generated from a seed, never copied from the real corpus.

`python bench/pages.py serve --pages N` serves N pages in its own process (so the
server never competes with the contenders for one interpreter lock), prints the
base URL on one line and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import random
import string
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PATH_PREFIX = "/help/hub/reference/external/"
QUERY = "?locale=en-US"
SELECT = "#full-help-page"

HEAD_SCRIPT_BYTES = 48_000
TAIL_SCRIPT_BYTES = (68_000, 85_000)

_SUBJECTS = (
    "You",
    "Sellers",
    "Each seller",
    "The selling partner",
    "Your account",
    "Third-party sellers",
    "Any agent acting for you",
)
_MODALS = ("must", "may not", "may", "must not", "should", "are required to", "cannot")
_VERBS = (
    "send messages to buyers",
    "request a product review",
    "contact customers",
    "offer an incentive",
    "share customer information",
    "include links to external websites",
    "use Buyer-Seller Messaging",
    "ask for positive feedback",
    "respond to a customer service question",
    "include marketing content",
    "attach images or documents",
    "collect buyer email addresses",
)
_QUALIFIERS = (
    "except to complete an order",
    "within 30 days of the order delivery date",
    "in a neutral manner",
    "unless the buyer asked for it",
    "through the Request a Review button only",
    "for any reason other than fulfilling the order",
    "more than once per order",
    "outside of the Amazon store",
    "without the prior consent of Amazon",
    "as described in the Communication guidelines",
)
_CONSEQUENCES = (
    "Violations may result in the suspension of your selling privileges.",
    "Amazon may remove listings that do not follow this policy.",
    "Repeated violations can lead to the permanent removal of your account.",
    "We may withhold payments while we review your account.",
    "Messages that break these rules may be blocked before delivery.",
)
_HEADINGS = (
    "Ratings, feedback, and reviews",
    "Communications",
    "Customer information",
    "Guidelines for contacting buyers",
    "Permitted messages",
    "Prohibited messages",
    "Request a Review",
    "Marketing communications",
    "Incentivised reviews",
    "Circumventing the sales process",
    "Misuse of sales rank",
    "Multiple selling accounts",
    "Deceptive, fraudulent, or illegal activity",
    "Consequences of violating this policy",
    "Frequently asked questions",
    "Additional resources",
)
_TITLES = (
    "Seller Code of Conduct",
    "Communication guidelines",
    "Customer product reviews policies",
    "Prohibited seller activities and actions",
    "Buyer-Seller Messaging policy",
    "Request a Review rules",
    "Selling policies and seller code of conduct",
    "Marketing through Buyer-Seller Messaging",
)
_MONTHS = ("January", "March", "May", "July", "September", "November")


def article_id(index: int) -> str:
    """A help-hub article id of the real shape (`G` + 15 capitals and digits)."""
    rng = random.Random(f"id-{index}")
    return "G" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=15))


def page_path(index: int) -> str:
    return PATH_PREFIX + article_id(index)


def page_url(base: str, index: int) -> str:
    return base + page_path(index) + QUERY


def _sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_MODALS)} {rng.choice(_VERBS)} "
        f"{rng.choice(_QUALIFIERS)}."
    )


def _paragraph(rng: random.Random, sentences: int) -> str:
    parts = [_sentence(rng) for _ in range(sentences)]
    if rng.random() < 0.3:
        parts.append(rng.choice(_CONSEQUENCES))
    if rng.random() < 0.25:
        target = article_id(rng.randrange(10_000))
        parts.append(f'See <a href="{PATH_PREFIX}{target}">this help page</a> for details.')
    return "<p>" + " ".join(parts) + "</p>"


def _bullets(rng: random.Random, items: int) -> str:
    rows = "".join(f"<li>{_sentence(rng)}</li>" for _ in range(items))
    return f"<ul>{rows}</ul>"


def _table(rng: random.Random) -> str:
    rows = "".join(
        f"<tr><td>{rng.choice(_VERBS).capitalize()}</td><td>{rng.choice(_MODALS)}</td>"
        f"<td>{rng.choice(_QUALIFIERS)}</td></tr>"
        for _ in range(rng.randint(3, 6))
    )
    return f"<table><tr><th>Message</th><th>Rule</th><th>Condition</th></tr>{rows}</table>"


def article(index: int) -> tuple[str, str]:
    """(title, HTML of #help-content): headings, paragraphs, lists, a table, a date."""
    rng = random.Random(f"article-{index}")
    title = f"{_TITLES[index % len(_TITLES)]} ({article_id(index)[-4:]})"
    parts = [_paragraph(rng, 2), _bullets(rng, rng.randint(4, 7))]
    for heading in rng.sample(_HEADINGS, rng.randint(6, 9)):
        parts.append(f"<h2>{heading}</h2>")
        parts.extend(_paragraph(rng, rng.randint(2, 4)) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.6:
            parts.append(_bullets(rng, rng.randint(3, 6)))
        if rng.random() < 0.3:
            parts.append(f"<h3>{rng.choice(_HEADINGS)} in detail</h3>")
            parts.append(_paragraph(rng, 3))
        if rng.random() < 0.2:
            parts.append(f"<p><strong>{rng.choice(_HEADINGS)}</strong></p>")
            parts.append(_paragraph(rng, 2))
        if rng.random() < 0.15:
            parts.append(_table(rng))
    parts.append(f"<p>Last updated: {rng.choice(_MONTHS)} {rng.randint(1, 28)}, 2026</p>")
    # Real pages wrap lines inside paragraphs; the markup is not one long line.
    return title, "\n".join(parts)


def _script(rng: random.Random, size: int, noise_every: int) -> str:
    """Minified-looking JavaScript with per-request ids sprinkled in, as the CSM code has."""
    names = ["".join(rng.choices(string.ascii_letters, k=rng.randint(1, 3))) for _ in range(400)]
    chunks: list[str] = []
    total = 0
    count = 0
    while total < size:
        a, b, c, d = rng.sample(names, 4)
        count += 1
        if count % noise_every == 0:
            chunk = f"ue.tag('{a}',{{rid:'{{{{request_id}}}}',sid:'{{{{session_id}}}}'}});"
        else:
            number = rng.randint(0, 99_999)
            chunk = rng.choice(
                (
                    f"function {a}({b},{c}){{var {d}={b}.{c}||{{}};return {d}.{a}?{number}:{c}}}",
                    f'{a}.{b}=function({c}){{if({c}&&{c}.{d})"{names[number % 400]}"in {c};}};',
                    f"var {a}={b}&&{b}.{c}?{b}.{c}({d},{number}):void 0;",
                    f'{a}["{b}-{c}"]=(new Date).getTime()-{number};',
                    f"if(typeof {a}!=='undefined'){{{b}.push([{number},'{c}','{d}'])}}",
                )
            )
        chunks.append(chunk)
        total += len(chunk)
    return "".join(chunks)


def _related(rng: random.Random) -> str:
    links = "".join(
        f'<li><a href="{PATH_PREFIX}{article_id(rng.randrange(10_000))}'
        f'?ref=efph_related&amp;locale=en-US">{rng.choice(_TITLES)}</a></li>'
        for _ in range(rng.randint(25, 50))
    )
    return (
        '<div class="kat-col-md-3"><kat-box class="related-articles-box">'
        f"<h3>Related articles</h3><ul>{links}</ul></kat-box>"
        '<kat-box class="support-box"><h3>Need more help?</h3>'
        f'<a href="{PATH_PREFIX}G2">Visit Seller Central Help</a></kat-box></div>'
    )


def page_html(index: int) -> str:
    """One page with the `{{request_id}}`/`{{session_id}}`/`{{timestamp}}` markers in place."""
    rng = random.Random(f"page-{index}")
    aid = article_id(index)
    title, body = article(index)
    sign_in = (
        f"/gp/sign-in/sign-in.html?destination=%2Fhelp%2Fhub%2Freference%2Fexternal%2F{aid}"
        "%3Flocale%3Den-US&amp;initialSessionID={{session_id}}"
    )
    head_script = _script(rng, HEAD_SCRIPT_BYTES, noise_every=60)
    tail_script = _script(rng, rng.randint(*TAIL_SCRIPT_BYTES), noise_every=80)
    return f"""<!doctype html>
<html lang="en-US" data-aui-build-date="3.24.8-2026-11-02">
<head>
<meta charset="utf-8">
<meta name="a2z:request_id" content="{{{{request_id}}}}">
<meta name="a2z:mons_app_name" content="HelpHubWebsite">
<meta name="a2z:mons_weblab_treatment" content="SC_HELP_EXTERNAL_PINBALL_TRIM_1304248=T1">
<title>{title} - Amazon Seller Central</title>
<link rel="stylesheet" href="/static/main.701fddbf52f17565c8e0.chunk.min.css">
<script>var ue_t0={{{{timestamp}}}},ue_id='{{{{request_id}}}}',ue_sid='{{{{session_id}}}}',\
ue_mid='ATVPDKIKX0DER',ue_sn='sellercentral.amazon.com';</script>
<script>{head_script}</script>
</head>
<body>
<div id="sc-content-container"><noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root" class="katal"><div class="spaui-squishy-container"><div class="application">
<div id="hh-body"><div class="hh-header"><nav id="hh-public-header">
<div class="hh-nav-logo"><a class="hh-simple-link" href="{sign_in}">
<img src="/static/logo.png" alt=""></a></div>
<div class="hh-language-dropdown"><kat-dropdown value="en-US" size="large"></kat-dropdown></div>
<div class="hh-sign-in"><a class="hh-simple-link" href="{sign_in}">
<kat-button label="Sign in" variant="primary"></kat-button></a></div>
<div class="hh-soa-link">
<a class="hh-simple-link" href="https://sell.amazon.com/?ld=SCHelpUSSOA-header">
Sell on Amazon</a></div>
</nav></div>
<div class="hh-help-page"><div class="kat-row">
<div id="full-help-page" class="kat-col-md-9">
<div><kat-box class="hh-article-country-box" variant="white">
This article applies to selling in: <b>United States</b></kat-box></div>
<kat-breadcrumb role="list">
<kat-breadcrumb-item label="Seller Central Help"
 href="{PATH_PREFIX}G2?ref=efph_{aid}&amp;locale=en-US">
</kat-breadcrumb-item>
<kat-breadcrumb-item label="{title}" href="{PATH_PREFIX}{aid}?locale=en-US"></kat-breadcrumb-item>
</kat-breadcrumb>
<kat-divider class="help-page-bc-divider" variant="athens"></kat-divider>
<h1>{title}</h1>
<div hidden=""><div class="hh-external-workflow-placeholder-text">
Sign in to use the tool and get personalized help (desktop browser required).</div>
<a href="{sign_in}&amp;t={{{{timestamp}}}}">Sign in</a></div>
<div class="help-content-with-scroll-to-top kat-row"><div id="help-content">
{body}
</div><kat-button class="hh-scroll-to-top-box" label="Top"></kat-button></div>
</div>
{_related(rng)}
</div></div>
<footer><div id="hh-public-footer"><p>Reach Hundreds of Millions of Customers</p>
<p class="copyright-text">© 1999-2026, Amazon.com, Inc. or its affiliates</p></div></footer>
</div></div></div></div></div>
<div id="athena-controlled-width-area"></div>
<div id="be" style="display:none"><form name="ue_backdetect">
<input type="hidden" name="ue_back" value="1"></form></div>
<script>{tail_script}</script>
<!-- {{{{request_id}}}} -->
</body>
</html>
"""


def serve(count: int) -> None:
    """Serve `count` pages until stdin closes; print the base URL first."""
    server = page_server_class()()
    for index in range(count):
        server.route(page_path(index), page_html(index))
    serve_until_stdin_closes(server)


def page_server_class() -> type:
    """The tests' PageServer, importable from the repository root."""
    sys.path.insert(0, str(ROOT))
    from tests.pageserver import PageServer

    return PageServer


def serve_until_stdin_closes(server: Any) -> None:
    """Start `server`, print its base URL on one line, and serve until stdin closes."""
    server.start()
    print(server.url(""), flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


@contextmanager
def child_server(script: Path, count: int) -> Iterator[str]:
    """`script serve --pages COUNT` in a child process, so it never takes a contender's GIL.

    Yields the base URL it printed; it stops when its stdin is closed.
    """
    server = subprocess.Popen(
        [sys.executable, str(script), "serve", "--pages", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"page server {script.name} did not start (said {base!r})")
        yield base
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="serve N pages on 127.0.0.1 until stdin closes")
    serve_cmd.add_argument("--pages", type=int, default=200)
    show_cmd = sub.add_parser("show", help="print page INDEX (with its noise markers)")
    show_cmd.add_argument("index", type=int)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.pages)
    else:
        sys.stdout.write(page_html(args.index))


if __name__ == "__main__":
    main()
