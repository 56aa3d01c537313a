"""Seller Central-like help pages whose article only exists once their script has run.

Each page is bench/pages.py's page (same size, chrome, scripts and per-request
noise) with the `#full-help-page` article cut out of the HTML: as on the real
site, the shell's script fetches the article (JSON) and builds it into the page,
so only a browser can read it. The shell also links the stylesheet, logo and a
web font the real chrome loads.

`python bench/js_pages.py serve --pages N` serves N pages in its own process,
prints the base URL on one line and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import json

import pages

ARTICLE_START = '<div id="full-help-page"'
ARTICLE_END = '<div class="kat-col-md-3">'  # the related-articles column that follows it
ASSETS = {
    "/static/main.701fddbf52f17565c8e0.chunk.min.css": ("text/css", b"body{margin:0}" * 2000),
    "/static/logo.png": ("image/png", b"\x89PNG" + b"\x00" * 8000),
    "/static/ember.woff2": ("font/woff2", b"wOF2" + b"\x00" * 30000),
}
# Like the React bundle: fetch the article, then build it into the page.
_APP = """<script>
fetch(location.pathname + ".json").then(function (r) { return r.json(); }).then(function (d) {
  document.fonts.add(new FontFace("Amazon Ember", "url(/static/ember.woff2)"));
  document.querySelector(".hh-help-page .kat-row").insertAdjacentHTML("afterbegin", d.html);
});
</script>
"""


def split_page(index: int) -> tuple[str, str]:
    """(shell HTML without the article, the article's HTML) of page `index`."""
    html = pages.page_html(index)
    start, end = html.index(ARTICLE_START), html.index(ARTICLE_END)
    shell = html[:start] + html[end:]
    return shell.replace("</body>", _APP + "</body>"), html[start:end]


def serve(count: int) -> None:
    """Serve `count` pages and their articles until stdin closes; print the base URL first."""
    server = pages.page_server_class()()
    for index in range(count):
        shell, article = split_page(index)
        server.route(pages.page_path(index), shell)
        server.route(
            pages.page_path(index) + ".json",
            json.dumps({"html": article}),
            content_type="application/json",
        )
    for path, (content_type, body) in ASSETS.items():
        server.route(path, body, content_type=content_type)
    pages.serve_until_stdin_closes(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="serve N pages on 127.0.0.1 until stdin closes")
    serve_cmd.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    serve(args.pages)


if __name__ == "__main__":
    main()
