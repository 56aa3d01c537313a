"""The data directory as a seller meets it: damage, repair, and a clock that stepped.

Damage gives one clear line naming the file and the way out, never a traceback or a
silent fresh start; each story damages a real directory written by `policywatch check`
on loopback, then runs `policywatch fsck --repair`.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from policywatch.clock import iso, parse_iso
from policywatch.history.store import Store
from policywatch.run.check import check_pages
from policywatch.watchlist.load import load_config
from tests.pageserver import PageServer
from tests.seller import CONDUCT, REWORDED, Seller, conduct_seller, pages_at, write_watchlist

PAGE = "conduct"


@pytest.fixture
def seller(tmp_path: Path, pageserver: PageServer, capsys) -> Seller:
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    assert seller(capsys, "check", "--no-deliver")[0] == 0
    pageserver.route("/conduct", REWORDED)  # a real change waits for the next poll
    return seller


def edit_index(seller: Seller, change) -> None:
    index = seller.data / "index.json"
    data = json.loads(index.read_text())
    change(data)
    index.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["meta"]["1"].__setitem__("schema", "three"),
        lambda d: d["pages"]["1"].pop("page_id"),
        lambda d: d.__setitem__("outbox", {"1": {"status": "pending"}}),
    ],
    ids=["schema-as-text", "page-without-id", "outbox-without-key"],
)
def test_a_damaged_index_entry_names_the_file_and_fsck_repair_recovers_the_history(
    seller: Seller, capsys, damage
) -> None:
    edit_index(seller, damage)

    code, out, err = seller(capsys, "check", "--no-deliver")
    assert code == 1 and "Traceback" not in err
    assert "index.json is damaged" in err and "fsck --repair" in err

    code, out, _ = seller(capsys, "fsck", "--repair")
    assert code == 0 and "repaired:" in out
    code, out, _ = seller(capsys, "check", "--no-deliver")
    assert code == 0 and "changed" in out
    assert len(seller.snapshots(PAGE)) == 2


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_an_index_that_vanished_is_refused_and_fsck_repair_rebuilds_it(
    seller: Seller, capsys, how: str
) -> None:
    index = seller.data / "index.json"
    if how == "emptied":
        index.write_text("{}")
    else:
        index.unlink()

    code, out, err = seller(capsys, "check", "--no-deliver")
    assert code == 1 and "fsck --repair" in err and "Traceback" not in err
    assert "new" not in out

    code, out, _ = seller(capsys, "fsck")
    assert code == 1 and "problem:" in out
    code, out, _ = seller(capsys, "fsck", "--repair")
    assert code == 0 and "lost: the alert outbox" in out
    code, out, _ = seller(capsys, "check", "--no-deliver")
    assert code == 0 and "changed" in out


def test_a_repair_that_cannot_write_the_new_index_keeps_the_old_one_and_its_alerts(
    seller: Seller, capsys, monkeypatch
) -> None:
    assert seller(capsys, "check", "--no-deliver")[0] == 0  # the change queues its alert
    queued = [a["title"] for a in seller.alerts(capsys)]
    edit_index(seller, lambda d: d["meta"]["1"].__setitem__("schema", "three"))
    index = seller.data / "index.json"
    damaged = index.read_bytes()
    replace = os.replace

    def disk_full_at_the_index(src, dst, *args, **kwargs):
        if Path(dst) == index:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full_at_the_index)
    code, _, err = seller(capsys, "fsck", "--repair")
    assert code != 0 and "No space left" in err and "Traceback" not in err
    assert index.read_bytes() == damaged

    monkeypatch.undo()
    code, out, _ = seller(capsys, "fsck", "--repair")
    assert code == 0 and "lost: the alert outbox" not in out
    assert queued and [a["title"] for a in seller.alerts(capsys)] == queued


@pytest.mark.parametrize("how", ["missing", "garbage"])
def test_a_lost_latest_blob_rebaselines_once_with_a_notice_instead_of_erroring_forever(
    seller: Seller, capsys, how: str
) -> None:
    latest = seller.snapshots(PAGE)[-1]
    blob = seller.data / "blobs" / latest.doc_key[:2] / f"{latest.doc_key}.gz"
    if how == "missing":
        blob.unlink()
    else:
        blob.write_bytes(b"not gzip at all")

    code, out, err = seller(capsys, "check", "--no-deliver")
    assert code == 0 and "Traceback" not in err
    assert len(seller.snapshots(PAGE)) == 2  # the pending change is recorded
    titles = [a["title"] for a in seller.alerts(capsys)]
    assert any(t.startswith("[unreachable history]") for t in titles)
    code, out, _ = seller(capsys, "check", "--no-deliver")
    assert code == 0 and "unchanged" in out

    code, out, _ = seller(capsys, "fsck")
    assert code == 1 and latest.id[:12] in out


def test_a_poll_under_a_clock_a_day_ahead_does_not_stay_latest(
    tmp_path: Path, pageserver: PageServer
) -> None:
    pageserver.route("/conduct", CONDUCT)
    seller = conduct_seller(tmp_path, pageserver)
    config = load_config(seller.config)
    now = parse_iso("2026-03-02T09:00:00Z")
    check_pages(config, seller.store(), now=now, deliver=False)
    pageserver.route("/conduct", REWORDED)
    ahead = check_pages(config, seller.store(), now=now + timedelta(days=1), deliver=False)
    assert ahead.outcomes[0].status == "changed"
    back = check_pages(config, seller.store(), now=now + timedelta(minutes=5), deliver=False)
    assert back.outcomes[0].status == "unchanged"

    pageserver.route("/conduct", REWORDED.replace("between 4 and 30 days", "within 9 days"))
    real = check_pages(config, seller.store(), now=now + timedelta(minutes=10), deliver=False)
    again = check_pages(config, seller.store(), now=now + timedelta(minutes=15), deliver=False)

    assert real.outcomes[0].status == "changed" and real.outcomes[0].revert_of is None
    assert again.outcomes[0].status == "unchanged"
    with seller.store() as store:
        versions = store.snapshots(PAGE)
        assert len(versions) == 3
        assert store.latest(PAGE).id == real.outcomes[0].snapshot_id
        alerts = store.alerts()
    assert not any("revert" in a["title"].lower() for a in alerts)


def _check_killed_after(watchlist: Path, data: Path, now: datetime, polls: int) -> None:
    """A `check` that loses its power once it has reported `polls` pages."""
    reported = []

    def power_cut(outcome) -> None:
        reported.append(outcome.page_id)
        if len(reported) == polls:
            os.kill(os.getpid(), signal.SIGKILL)

    check_pages(load_config(watchlist), Store(data), now=now, deliver=False, on_outcome=power_cut)


def test_a_check_killed_halfway_keeps_every_poll_it_had_reported(
    tmp_path: Path, pageserver: PageServer
) -> None:
    pageserver.route("/conduct", CONDUCT)
    urls = {f"conduct-{n}": pageserver.url("/conduct") for n in range(4)}
    watchlist = write_watchlist(tmp_path / "watchlist.yaml", pages_at(urls), notify=())
    first = parse_iso("2026-03-02T09:00:00Z")
    check_pages(load_config(watchlist), Store(tmp_path / "data"), now=first, deliver=False)

    later = first + timedelta(hours=1)
    child = multiprocessing.get_context("fork").Process(
        target=_check_killed_after, args=(watchlist, tmp_path / "data", later, 2)
    )
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL

    with Store(tmp_path / "data") as store:
        seen = [page for page in urls if store.latest(page).last_seen_at == iso(later)]
        polls = [store.page_state(page)["polls_on_latest"] for page in urls]
    assert len(seen) >= 2  # each poll is on disk once it is reported, not at the end
    assert sorted(polls, reverse=True) == [2] * len(seen) + [1] * (len(urls) - len(seen))


def test_fsck_of_a_healthy_directory_finds_nothing(seller: Seller, capsys) -> None:
    assert seller(capsys, "check", "--no-deliver")[0] == 0

    code, out, _ = seller(capsys, "fsck")

    assert code == 0 and "no problems found" in out


def test_a_damaged_line_of_a_pages_poll_log_is_named_and_repair_writes_its_state_whole(
    seller: Seller, capsys, pageserver: PageServer
) -> None:
    pageserver.route("/conduct", CONDUCT)  # unchanged: each poll appends a line to state.log
    for _ in range(4):
        assert seller(capsys, "check", "--no-deliver")[0] == 0
    log = seller.data / "pages" / PAGE / "state.log"
    first, *_, last = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(first + b'{"gen": "\xff\x00 damaged\n' + last)

    code, out, _ = seller(capsys, "fsck")
    assert code == 1 and f"{log}: 1 line(s) cannot be read" in out

    code, out, _ = seller(capsys, "fsck", "--repair")
    assert code == 0 and f"{PAGE}: wrote its state.json whole" in out and "lost: " in out
    assert not log.exists()
    code, out, _ = seller(capsys, "fsck")
    assert code == 0 and "no problems found" in out
    code, out, _ = seller(capsys, "check", "--no-deliver")
    assert code == 0 and "unchanged" in out


def test_a_deleted_page_history_is_rebuilt_from_the_version_records(seller: Seller, capsys) -> None:
    assert seller(capsys, "check", "--no-deliver")[0] == 0
    before = seller.snapshots(PAGE)
    (seller.data / "pages" / PAGE / "versions.json").unlink()
    (seller.data / "pages" / PAGE / "state.json").write_text("{not json")

    code, out, err = seller(capsys, "history", PAGE)
    assert code == 1 and "state.json is damaged" in err and "fsck" in err

    code, out, _ = seller(capsys, "fsck", "--repair")
    assert code == 0 and f"{PAGE}: rebuilt 2 version(s)" in out
    assert "lost: " in out and "page state" in out
    assert [s.id for s in seller.snapshots(PAGE)] == [s.id for s in before]
    assert seller(capsys, "fsck")[0] == 0


def test_an_alert_whose_payload_is_gone_is_named_and_repair_removes_it(
    seller: Seller, capsys
) -> None:
    assert seller(capsys, "check", "--no-deliver")[0] == 0
    (alert,) = seller.alerts(capsys)
    key = json.loads((seller.data / "index.json").read_text())["outbox"]["1"]["payload_key"]
    (seller.data / "blobs" / key[:2] / f"{key}.gz").unlink()

    code, out, err = seller(capsys, "alerts")
    assert code == 1 and "Traceback" not in err and "fsck" in err
    code, out, _ = seller(capsys, "fsck")
    assert code == 1 and f"the payload of alert {alert['key'][:12]}" in out
    code, out, err = seller(capsys, "fsck", "--repair")
    assert code == 0 and "removed from the outbox" in out, (out, err)
    assert seller(capsys, "alerts")[0] == 0
