"""A watched page can never make policywatch read the metadata service, an intranet or this host.

Nothing here opens a connection outside 127.0.0.0/8: redirects to forbidden
addresses go through a recording proxy on loopback, which would answer them
itself, and the decision on other addresses is checked without connecting.
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator

import pytest

from policywatch.fetch.netpolicy import Refused, address_refusal, check_for_browser
from tests.pageserver import PageServer
from tests.seller import CONDUCT, SELLER_CENTRAL_PARTS, Seller, conduct_seller, write_watchlist

METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
STOLEN = "<html><body><div id='full-help-page'><h1>Keys</h1><p>AKIASECRET</p></div></body></html>"


class RecordingProxy:
    """An HTTP proxy on loopback that records every target and answers it itself."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, str], str]]) -> None:
        self.answers = answers
        self.targets: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.targets.append(self.path)  # a proxy sees the absolute URL
                status, headers, body = proxy.answers.get(self.path, (200, {}, STOLEN))
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    """A seller whose HTTP_PROXY is the recording proxy (and nothing bypasses it)."""
    page = "http://127.0.0.1:8/conduct"
    with RecordingProxy({page: (200, {}, CONDUCT)}) as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        yield proxy


def redirecting_seller(tmp_path, proxy: RecordingProxy, location: str) -> tuple[Seller, str]:
    page = "http://127.0.0.1:8/conduct"
    proxy.answers[page] = (302, {"Location": location}, "")
    entry = {"id": "conduct", "url": page, **SELLER_CENTRAL_PARTS, "fetch": "http"}
    return Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry])), page


@pytest.mark.parametrize(
    ("location", "named"),
    [
        (METADATA_URL, "169.254.169.254 is a cloud metadata address"),
        ("http://169.254.10.20/secret", "169.254.10.20 is a link-local address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("file:///etc/passwd", "only http and https"),
        # Spellings a proxy dials as the metadata address (decimal, hex, octal).
        ("http://2852039166/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://0xa9fea9fe/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://0251.0376.0251.0376/latest/", "169.254.169.254 is a cloud metadata address"),
    ],
)
def test_a_redirect_to_the_metadata_service_is_refused_even_for_an_intranet_page(
    tmp_path, behind_proxy: RecordingProxy, capsys, location: str, named: str
):
    seller, page = redirecting_seller(tmp_path, behind_proxy, location)  # allow_private: true

    [outcome] = seller.json(capsys, "check", "--no-deliver")["pages"]

    assert outcome["status"] == "error"
    assert "refused redirect 1 to" in outcome["reason"] and named in outcome["reason"]
    assert behind_proxy.targets == [page]  # the forbidden hop was never asked for
    assert seller.snapshots("conduct") == []


def test_a_loopback_page_without_allow_private_is_refused_before_anything_is_asked(
    tmp_path, pageserver: PageServer, capsys
):
    other = PageServer().start()
    try:
        other.route("/admin", CONDUCT)
        pageserver.route("/conduct", "", status=302, headers={"Location": other.url("/admin")})
        seller = conduct_seller(tmp_path, pageserver, allow_private=False)

        code, out, err = seller(capsys, "check", "--no-deliver")

        assert code == 2 and out == ""
        assert "watchlist.yaml:" in err and "pages[0].url: 127.0.0.1 is a loopback address" in err
        assert "allow_private: true" in err
        assert pageserver.hits("/conduct") == [] and other.hits("/admin") == []
        assert seller.snapshots("conduct") == []
    finally:
        other.stop()


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.1"])
def test_a_disguised_address_for_this_machine_is_judged_by_what_it_resolves_to(
    tmp_path, pageserver: PageServer, capsys, host: str
):
    pageserver.route("/conduct", CONDUCT)
    url = f"http://{host}:{pageserver.port}/conduct"
    entry = {"id": "conduct", "url": url, **SELLER_CENTRAL_PARTS, "fetch": "http"}
    entry["allow_private"] = False
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", [entry]))

    code, out, err = seller(capsys, "check", "--no-deliver")

    assert code == 2 and out == ""  # read as the address it spells, so refused at its line
    assert "pages[0].url: 127.0.0.1 is a loopback address" in err
    assert pageserver.hits("/conduct") == [] and seller.snapshots("conduct") == []


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "::1",
        "fc00::1",
        "fec0::1",  # IPv6 site-local, deprecated
        "::7f00:1",  # 127.0.0.1 written the old IPv4-compatible way
        "2002:a00:1::1",  # 6to4 for 10.0.0.1
        "64:ff9b:1::a00:1",  # a local-use NAT64 prefix
    ],
)
def test_private_and_loopback_addresses_need_allow_private(address: str):
    ip = ipaddress.ip_address(address)
    assert "set `allow_private: true`" in address_refusal(ip, allow_private=False)
    assert address_refusal(ip, allow_private=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.1.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "::a9fe:a9fe",  # the metadata address, IPv4-compatible
        "2002:a9fe:a9fe::1",  # and through 6to4
        "::ffff:0:a9fe:a9fe",  # and IPv4-translated
        "0.0.0.0",
        "::",
        "224.0.0.1",
    ],
)
def test_link_local_metadata_and_non_host_addresses_are_never_fetched(address: str):
    ip = ipaddress.ip_address(address)
    assert "never fetches these" in address_refusal(ip, allow_private=True)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_fetched(address: str):
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
        ("http://[::ffff:a9fe:a9fe]/", "cloud metadata address"),
        ("ftp://127.0.0.1/policy.html", "only http and https"),
        ("http://admin.localhost:8080/", "loopback address"),
    ],
)
def test_the_browser_refuses_the_same_targets_before_chromium_looks_them_up(url: str, named: str):
    with pytest.raises(Refused) as refused:
        check_for_browser(url, allow_private=url.startswith(("http://169", "https://meta")))
    assert named in refused.value.reason
