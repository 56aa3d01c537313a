"""`check -q` (the cron line) keeps why an alert could not be sent.

-q hides everything but errors, and apprise says why a send failed in a warning.
The reason stored with the failed alert must be the receiver's answer, not
"apprise reported a failure without a reason", whatever the log level.
"""

from __future__ import annotations

from tests.notify_receivers import HttpReceiver
from tests.pageserver import PageServer
from tests.seller import CONDUCT, REWORDED, Seller, pages_at, write_watchlist


def test_a_quiet_cron_check_records_the_receivers_error_for_a_failed_alert(
    tmp_path, capsys, pageserver: PageServer, webhook: HttpReceiver
):
    pageserver.route("/conduct", CONDUCT)
    hook = {"url": webhook.url(), "name": "hook"}
    pages = pages_at({"conduct": pageserver.url("/conduct")})
    seller = Seller(tmp_path, write_watchlist(tmp_path / "watchlist.yaml", pages, notify=[hook]))
    assert seller(capsys, "-q", "check")[0] == 0
    webhook.status = 500
    pageserver.route("/conduct", REWORDED)

    seller(capsys, "-q", "check")

    assert webhook.posts, "the receiver was asked and refused"
    [entry] = seller.alerts(capsys)
    assert entry["status"] != "sent"
    assert "without a reason" not in (entry["last_error"] or "")
    assert "500" in entry["last_error"]
