"""The store as sellers rely on it: every version kept, found by any REF, never torn or lost.

Real files in tmp_path; crashes and concurrent writers are real forked processes.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from itertools import count
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from policywatch.clock import iso, parse_iso, utcnow
from policywatch.content import Block, Document, Section, Snapshot
from policywatch.errors import RefError, StoreError, StoreLocked
from policywatch.history import page as page_module
from policywatch.history.records import new_snapshot_id
from policywatch.history.store import Store
from policywatch.models import sha256_hex

FORK = multiprocessing.get_context("fork")
PAGE = "seller-code-of-conduct"
T0 = parse_iso("2026-01-05T09:00:00Z")
TITLE = "Seller Code of Conduct"
CONTACT = "Guidelines for contacting buyers"
INTRO = "Sellers must act fairly and honestly."


def conduct(rule: str) -> Document:
    """A two-section Code of Conduct whose buyer-contact rule is `rule`."""
    sections = (
        Section((TITLE,), 1, (Block("p", INTRO),), sha256_hex(INTRO)),
        Section((TITLE, CONTACT), 2, (Block("li", rule),), sha256_hex(rule)),
    )
    digest = sha256_hex("".join(s.digest for s in sections))
    return Document(TITLE, sections, digest, {"lang": "en-US"})


def page_html(rule: str, padding: int = 0) -> bytes:
    return (
        f"<html><body><div id='full-help-page'><h1>Seller Code of Conduct</h1>"
        f"<h2>{CONTACT}</h2><ul><li>{rule}</li></ul></div>"
        f"<!-- {'x' * padding} --></body></html>"
    ).encode()


def snapshot_of(doc: Document, at: str, page_id: str = PAGE) -> Snapshot:
    return Snapshot(
        id=new_snapshot_id(page_id, doc.digest, at),
        page_id=page_id,
        digest=doc.digest,
        captured_at=at,
        last_seen_at=at,
        url="https://sellercentral.amazon.com/help/hub/reference/external/G1801",
        raw_key="",
        doc_key="",
        title=doc.title,
        section_digests={s.label: s.digest for s in doc.sections},
    )


def alert_for(snap: Snapshot, route: str = "email") -> dict:
    return {
        "key": f"{snap.page_id}:{snap.digest[:12]}:{route}",
        "page_id": snap.page_id,
        "route": route,
        "severity": "critical",
        "payload": {"title": "Seller Code of Conduct changed", "snapshot": snap.id},
    }


def record(store: Store, rule: str, at: str, *, alert: bool = False, page_id: str = PAGE):
    doc = conduct(rule)
    snap = snapshot_of(doc, at, page_id)
    return store.record_snapshot(snap, page_html(rule), doc, [alert_for(snap)] if alert else [])


def day(n: float) -> str:
    return iso(T0 + timedelta(days=n))


def run_child(target, *args) -> int:
    """Run `target(*args)` in a forked process and return its exit code.

    A child still running after 30 s is killed (a hang fails the test, not the suite).
    """
    process = FORK.Process(target=target, args=args)
    process.start()
    process.join(30)
    if process.exitcode is None:
        process.kill()
        process.join()
    return process.exitcode


# --------------------------------------------------------------------------- versions


def test_a_stored_version_gives_back_its_document_and_raw_html(tmp_path: Path) -> None:
    raw = page_html("You may not contact buyers for marketing.") + b"\xff\xfe caf\xe9"
    doc = conduct("You may not contact buyers for marketing.")
    with Store(tmp_path) as store:
        stored = store.record_snapshot(snapshot_of(doc, day(0)), raw, doc)

    reopened = Store(tmp_path)
    latest = reopened.latest(PAGE)
    assert latest == stored
    assert reopened.document(latest) == doc
    assert reopened.raw_html(latest) == raw
    blob = tmp_path / "blobs" / latest.raw_key[:2] / f"{latest.raw_key}.gz"
    assert gzip.decompress(blob.read_bytes()) == raw
    assert latest.raw_key == sha256_hex(raw)


def test_nothing_is_created_until_the_first_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "policywatch-data")
    assert store.page_ids() == [] and store.latest(PAGE) is None
    store.close()
    assert not (tmp_path / "policywatch-data").exists()


def test_unchanged_polls_add_no_snapshot_and_only_move_last_seen(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = record(store, "Do not send unsolicited messages.", day(0))
    index = tmp_path / "index.json"
    written = index.stat().st_mtime_ns, index.stat().st_ino

    for hour in range(1, 7):
        store.touch(PAGE, first.id, T0 + timedelta(hours=hour))
    assert (index.stat().st_mtime_ns, index.stat().st_ino) == written  # batched, not yet written
    assert store.latest(PAGE).last_seen_at == iso(T0 + timedelta(hours=6))
    store.flush()
    store.close()

    (again,) = Store(tmp_path).snapshots(PAGE)
    assert again.id == first.id
    assert again.captured_at == first.captured_at
    assert again.last_seen_at == iso(T0 + timedelta(hours=6))


def test_a_page_flapping_between_two_versions_adds_a_small_entry_per_flip_not_a_copy(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    a, b = "You may not ask buyers for reviews.", "You may ask buyers for reviews once."
    flips = [record(store, a if n % 2 == 0 else b, day(n / 2880)) for n in range(2, 102)]
    versions = tmp_path / "pages" / PAGE / "versions.json"
    blobs = len(list((tmp_path / "blobs").rglob("*.gz")))
    size = versions.stat().st_size
    more = [record(store, a if n % 2 == 0 else b, day(n / 2880)) for n in range(102, 202)]

    assert (versions.stat().st_size - size) / 100 < 400  # bytes per flip
    assert len(list((tmp_path / "blobs").rglob("*.gz"))) == blobs  # no raw copy per flip
    reopened = Store(tmp_path)
    history = reopened.snapshots(PAGE)
    assert [s.id for s in history] == [s.id for s in flips + more]
    assert reopened.latest(PAGE) == more[-1] and reopened.resolve(PAGE, "latest~1") == more[-2]
    assert reopened.find_by_digest(PAGE, more[-1].digest) == flips[1]
    assert reopened.document(more[-1]) == conduct(b)
    assert reopened.resolve(PAGE, more[-3].id[:12]).captured_at == more[-3].captured_at


def test_latest_is_the_version_recorded_last_whatever_its_clock_said(tmp_path: Path) -> None:
    store = Store(tmp_path)
    record(store, "You may contact buyers about their order.", day(0))
    ahead = record(store, "You may not contact buyers for marketing.", day(1))  # clock ran ahead
    real = record(store, "You may not send unsolicited messages.", day(0.01))

    reopened = Store(tmp_path)
    assert reopened.latest(PAGE) == real
    assert reopened.resolve(PAGE, "latest~1") == ahead
    assert reopened.resolve(PAGE, iso(T0 + timedelta(hours=1))) == real


def test_an_import_joins_history_at_its_date_and_a_future_one_is_superseded_by_the_next_poll(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    live = record(store, "You may contact buyers about their order.", day(10))
    doc = conduct("Older wording, saved by the seller.")
    old = store.record_snapshot(
        replace(snapshot_of(doc, day(2)), origin="import"), page_html("old"), doc
    )
    assert store.snapshots(PAGE) == [old, live] and store.latest(PAGE) == live
    doc = conduct("Wording dated 2062 by mistake.")
    future = store.record_snapshot(
        replace(snapshot_of(doc, "2062-01-01T00:00:00.000000Z"), origin="import"),
        page_html("future"),
        doc,
    )
    assert store.latest(PAGE) == future
    polled = record(store, "You may not contact buyers for marketing.", day(11))
    assert Store(tmp_path).latest(PAGE) == polled
    assert Store(tmp_path).snapshots(PAGE) == [old, live, future, polled]


def test_a_check_cycle_writes_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_writes: list[str] = []
    real_replace = os.replace

    def counting_replace(src: str, dst: str) -> None:
        index_writes.append(str(Path(dst).relative_to(tmp_path)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting_replace)
    store = Store(tmp_path)
    baseline = record(store, "Do not send unsolicited messages.", day(0))
    index_writes.clear()

    with store.lock():
        for hour in range(1, 4):  # three unchanged pages polled in one cycle
            store.touch(PAGE, baseline.id, T0 + timedelta(hours=hour))
            store.set_page_state(PAGE, etag=f'"{hour}"', consecutive_failures=0)
            store.record_outcome(PAGE, {"at": T0, "status": "blocked", "reason": "captcha"})
        index_writes.clear()  # (blobs)
        changed = record(store, "You may not ask for reviews.", day(1), alert=True)
        files = [w for w in index_writes if not w.startswith("blobs")]
        # The alert first, then the version: each file once.
        assert files == ["index.json", f"pages/{PAGE}/state.json", f"pages/{PAGE}/versions.json"]
        index_writes.clear()
        store.set_page_state(PAGE, etag='"4"')
    # The rest of the cycle: no file replaced, one line appended to the page's state.log.
    assert index_writes == []
    assert len((tmp_path / "pages" / PAGE / "state.log").read_bytes().splitlines()) == 1

    reopened = Store(tmp_path)
    assert [a["payload"]["snapshot"] for a in reopened.pending_alerts(utcnow())] == [changed.id]
    assert reopened.page_state(PAGE)["etag"] == '"4"'
    assert len(reopened.outcomes(PAGE)) == 3


def test_rederived_versions_keep_their_ids_times_and_raw_html_and_read_anew(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    first = record(store, "You may contact buyers.", day(0))
    second = record(store, "You may not contact buyers.", day(1))
    store.touch(PAGE, second.id, day(3))  # a batched poll is not lost
    anew = [conduct("You may contact buyers (read anew)."), conduct("You may not (read anew).")]

    stored = store.replace_documents(
        [(first.id, anew[0]), (second.id, anew[1])], rederived_at=T0 + timedelta(days=4)
    )

    reopened = Store(tmp_path)
    assert reopened.snapshots(PAGE) == stored
    for before, after, doc in zip((first, second), stored, anew, strict=True):
        assert (after.id, after.captured_at, after.raw_key) == (
            before.id,
            before.captured_at,
            before.raw_key,
        )
        assert after.digest == doc.digest != before.digest
        assert after.section_digests == {s.label: s.digest for s in doc.sections}
        assert after.rederived_at == day(4)
        assert reopened.document(after) == doc
    assert reopened.raw_html(stored[1]) == page_html("You may not contact buyers.")
    assert reopened.latest(PAGE).last_seen_at == day(3)
    assert reopened.find_by_digest(PAGE, anew[1].digest) == stored[1]
    with pytest.raises(KeyError):
        store.replace_documents([("0" * 64, anew[0])], rederived_at=T0)


def test_the_index_does_not_grow_with_the_page_size(tmp_path: Path) -> None:
    small, large = Store(tmp_path / "small"), Store(tmp_path / "large")
    doc = conduct("Do not send unsolicited messages.")
    small.record_snapshot(snapshot_of(doc, day(0)), page_html("x"), doc)
    large.record_snapshot(snapshot_of(doc, day(0)), os.urandom(2_000_000), doc)

    small_size = (tmp_path / "small" / "index.json").stat().st_size
    large_size = (tmp_path / "large" / "index.json").stat().st_size
    assert large_size == small_size < 8_000


def test_a_reader_sees_what_another_process_wrote(tmp_path: Path) -> None:
    reader = Store(tmp_path)
    assert reader.latest(PAGE) is None

    def write() -> None:
        record(Store(tmp_path), "Do not send unsolicited messages.", day(0))

    assert run_child(write) == 0
    assert reader.latest(PAGE).captured_at == day(0)


# --------------------------------------------------------------------------- REF


@pytest.fixture
def history(tmp_path: Path) -> tuple[Store, list[Snapshot]]:
    """Three versions of the Code of Conduct, a day apart, the first at 09:00 UTC."""
    store = Store(tmp_path)
    rules = [
        "You may contact buyers about their order.",
        "You may not contact buyers for marketing.",
        "You may not send unsolicited messages or ask for reviews.",
    ]
    return store, [record(store, rule, day(n)) for n, rule in enumerate(rules)]


def test_every_ref_form_names_the_right_snapshot(history) -> None:
    store, (v1, v2, v3) = history
    assert store.resolve(PAGE, v2.id) == v2
    assert store.resolve(PAGE, v2.id[:8]) == v2
    assert store.resolve(PAGE, v2.id[:8].upper()) == v2
    assert store.resolve(PAGE, "latest") == v3
    assert store.resolve(PAGE, "latest~0") == v3
    assert store.resolve(PAGE, "latest~1") == v2
    assert store.resolve(PAGE, "latest~2") == v1
    assert store.resolve(PAGE, "2026-01-06T12:30:00Z") == v2  # in force between v2 and v3
    assert store.resolve(PAGE, "2026-01-06T11:00:00+02:00") == v2  # 09:00 UTC: v2 exactly
    assert store.resolve(PAGE, "2026-01-06T10:59:59+02:00") == v1
    assert store.resolve(PAGE, "2030-01-01") == v3


def test_a_bare_date_means_what_was_in_force_as_that_day_began(history) -> None:
    store, (v1, v2, _v3) = history
    # v2 was first seen on 2026-01-06 at 09:00, so it was not yet in force as the day began.
    assert store.resolve(PAGE, "2026-01-06") == v1
    assert store.resolve(PAGE, "2026-01-07") == v2


def test_an_ambiguous_id_prefix_lists_the_candidates(tmp_path: Path) -> None:
    store = Store(tmp_path)
    doc = conduct("Do not send unsolicited messages.")
    seen: dict[str, str] = {}
    for minute in count():  # capture times whose ids share their first four hex digits
        at = iso(T0 + timedelta(minutes=minute))
        prefix = new_snapshot_id(PAGE, doc.digest, at)[:4]
        if prefix in seen:
            break
        seen[prefix] = at
    first, second = (
        record(store, "Do not send unsolicited messages.", t) for t in (seen[prefix], at)
    )

    with pytest.raises(RefError) as caught:
        store.resolve(PAGE, prefix)
    assert "matches 2 snapshots" in caught.value.message
    assert first.id[:12] in caught.value.hint and second.id[:12] in caught.value.hint
    assert store.resolve(PAGE, first.id) == first


@pytest.mark.parametrize(
    ("ref", "message", "hint"),
    [
        ("latest~9", "has 3 snapshots, so there is no latest~9", "the oldest is latest~2"),
        ("2025-12-31", "nothing of seller-code-of-conduct was stored", "2026-01-05T09:00:00Z"),
        ("deadbeef", "no snapshot of seller-code-of-conduct has an id", "lists its ids"),
        ("yesterday", "cannot read 'yesterday'", "latest~N"),
        ("abc", "cannot read 'abc'", "at least 4 characters"),
    ],
)
def test_a_ref_that_names_nothing_says_what_to_type(history, ref, message, hint) -> None:
    store, _ = history
    with pytest.raises(RefError) as caught:
        store.resolve(PAGE, ref)
    assert message in caught.value.message
    assert hint in caught.value.hint


def test_an_unknown_page_gets_a_did_you_mean_and_an_empty_store_says_run_check(
    history, tmp_path: Path
) -> None:
    store, _ = history
    with pytest.raises(RefError) as caught:
        store.resolve("seller-code-of-condcut", "latest")
    assert "did you mean seller-code-of-conduct?" in caught.value.hint

    with pytest.raises(RefError) as caught:
        Store(tmp_path / "empty").resolve(PAGE, "latest")
    assert "no snapshots yet" in caught.value.message
    assert "policywatch check" in caught.value.hint


def test_a_page_never_stored_because_blocked_says_why(history) -> None:
    store, _ = history
    store.record_outcome("communication-guidelines", {"status": "blocked", "reason": "sign-in"})
    with pytest.raises(RefError) as caught:
        store.resolve("communication-guidelines", "latest")
    assert "its last check was blocked: sign-in" in caught.value.message


def test_an_id_from_another_page_points_there(history) -> None:
    store, _ = history
    other = record(store, "Do not send unsolicited messages.", day(0), page_id=f"{PAGE}@UK")
    with pytest.raises(RefError) as caught:
        store.resolve(PAGE, other.id[:10])
    assert f"belongs to {PAGE}@UK" in caught.value.message


# --------------------------------------------------------------------------- outbox


def _record_then_die(data_dir: Path) -> None:
    record(Store(data_dir), "You may not ask buyers for reviews.", day(1), alert=True)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_snapshot_and_its_alert_survive_a_kill_right_after_recording(tmp_path: Path) -> None:
    assert run_child(_record_then_die, tmp_path) == -signal.SIGKILL

    store = Store(tmp_path)
    (snap,) = store.snapshots(PAGE)
    (pending,) = store.pending_alerts(utcnow())
    assert pending["payload"]["snapshot"] == snap.id
    assert pending["status"] == "pending" and pending["attempts"] == 0


def _crash_during_second_write(data_dir: Path) -> None:
    store = Store(data_dir)
    record(store, "You may contact buyers about their order.", day(0), alert=True)
    real_replace = os.replace

    def die_before_renaming_the_index(src: str, dst: str) -> None:
        if Path(dst).name == "index.json":
            os._exit(3)  # the temp index is complete; the rename never happens
        real_replace(src, dst)

    os.replace = die_before_renaming_the_index
    record(store, "You may not contact buyers for marketing.", day(1), alert=True)


def test_a_crash_in_the_middle_of_a_write_leaves_the_previous_index(tmp_path: Path) -> None:
    assert run_child(_crash_during_second_write, tmp_path) == 3
    assert list(tmp_path.glob(".index.json.*.tmp"))  # the half-done write, never renamed

    store = Store(tmp_path)
    (snap,) = store.snapshots(PAGE)
    assert store.document(snap).section(f"{TITLE} > {CONTACT}").text == (
        "You may contact buyers about their order."
    )
    assert [a["payload"]["snapshot"] for a in store.alerts()] == [snap.id]

    record(store, "You may not contact buyers for marketing.", day(1), alert=True)
    assert len(Store(tmp_path).snapshots(PAGE)) == 2
    assert not list(tmp_path.glob(".index.json.*.tmp"))  # the next writer swept it away


def test_an_alert_is_queued_only_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    snap = record(store, "You may not ask buyers for reviews.", day(0), alert=True)
    assert store.enqueue_alerts([alert_for(snap)]) == 0
    assert store.enqueue_alerts([alert_for(snap, "slack"), alert_for(snap, "slack")]) == 1
    doc = conduct("You may not ask buyers for reviews.")
    store.record_snapshot(snap, page_html("again"), doc, [alert_for(snap)])  # a replayed cycle

    assert sorted(a["route"] for a in Store(tmp_path).alerts()) == ["email", "slack"]
    assert len(Store(tmp_path).snapshots(PAGE)) == 1


def rendered_alert(snap: Snapshot, route: str, n: int) -> dict:
    """An outbox item the size real ones are: mostly the email's HTML, a few KB of text."""
    words = f"Sellers may not contact buyers for marketing, change {n}. " * 200
    return {
        **alert_for(snap, route),
        "key": f"{snap.page_id}:{n}:{route}",
        "payload": {
            "title": f"Seller Code of Conduct changed ({n})",
            "text": {"lines": [words[:4000]]},
            "markdown": {"lines": [words[:4000]]},
            "html": f"<html><body><p>{words}</p></body></html>",
        },
    }


def test_months_of_alerts_keep_the_index_small_and_every_payload_readable(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    snap = record(store, "You may not ask buyers for reviews.", day(0))
    index = tmp_path / "index.json"
    baseline = index.stat().st_size
    for n in range(150):  # a change a day for five months, to two routes
        with store.lock():
            store.enqueue_alerts([rendered_alert(snap, r, n) for r in ("email", "slack")])
            for route in ("email", "slack"):
                store.mark_sent(f"{PAGE}:{n}:{route}", T0 + timedelta(days=n))

    payloads = 150 * len(json.dumps(rendered_alert(snap, "email", 0)["payload"]))
    assert payloads > 2_500_000
    assert index.stat().st_size - baseline < 300 * 1000  # under 1 KB per entry
    assert "Sellers may not contact" not in index.read_text()
    sent = Store(tmp_path).alerts("sent")
    assert len(sent) == 300
    assert sent[-1]["payload"] == rendered_alert(snap, "slack", 149)["payload"]
    assert sent[-1]["payload"]["title"] == "Seller Code of Conduct changed (149)"
    assert sent[-1]["status"] == "sent" and sent[-1]["route"] == "slack"
    # raw, document and record of the version; routes share a payload
    assert len(list((tmp_path / "blobs").rglob("*.gz"))) == 3 + 150


OLD_STORE = Path(__file__).parent / "fixtures" / "store-schema2"


def old_store(tmp_path: Path) -> Path:
    """A copy of a data directory written by the schema-2 store (one index.json)."""
    data = tmp_path / "old"
    shutil.copytree(OLD_STORE, data)
    return data


def test_an_old_data_directory_is_migrated_on_first_open_keeping_every_version(
    tmp_path: Path,
) -> None:
    data = old_store(tmp_path)
    before = json.loads((data / "index.json").read_text())
    versions = sorted(before["snapshots"].values(), key=lambda v: v["captured_at"])

    store = Store(data)

    assert (data / "index.json.bak-2").read_text() == json.dumps(before, separators=(",", ":"))
    for page_id in ("seller-code-of-conduct", "fair-pricing"):
        old = [v for v in versions if v["page_id"] == page_id]
        assert [s.to_dict() for s in store.snapshots(page_id)] == old
        assert store.latest(page_id).to_dict() == old[-1]
        assert store.document(store.latest(page_id)).digest == old[-1]["digest"]
    for entry in before["pages"].values():
        assert store.page_state(entry["page_id"]) == {
            k: v for k, v in entry.items() if k != "page_id"
        }
    for entry in before["outcomes"].values():
        assert store.outcomes(entry["page_id"]) == entry["log"]
    old_outbox = sorted(before["outbox"].values(), key=lambda e: e["key"])
    kept = sorted(store.alerts(), key=lambda e: e["key"])
    assert [{**e, "payload": None} for e in kept] == [
        {**{k: v for k, v in e.items() if k != "payload_key"}, "payload": None} for e in old_outbox
    ]
    assert [e["status"] for e in kept].count("sent") == 1
    assert json.loads((data / "index.json").read_text())["meta"]["1"]["schema"] == 3


def test_an_outbox_from_the_first_store_format_moves_its_payloads_out_on_migration(
    tmp_path: Path,
) -> None:
    data = old_store(tmp_path)
    index = data / "index.json"
    old = json.loads(index.read_text())
    payloads = {}
    for entry in old["outbox"].values():  # as schema 1 wrote them: the payload inline
        key = entry.pop("payload_key")
        entry["payload"] = payloads[entry["key"]] = json.loads(
            gzip.decompress((data / "blobs" / key[:2] / f"{key}.gz").read_bytes())
        )
        del entry["title"]
    old["meta"]["1"]["schema"] = 1
    index.write_text(json.dumps(old))

    store = Store(data)

    assert {a["key"]: a["payload"] for a in store.alerts()} == payloads
    moved = json.loads(index.read_text())
    assert all("payload" not in e and "payload_key" in e for e in moved["outbox"].values())
    assert (data / "index.json.bak-1").exists()


def test_deliveries_move_alerts_between_pending_sent_and_failed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    snap = record(store, "You may not ask buyers for reviews.", day(0))
    email, slack = alert_for(snap, "email"), alert_for(snap, "slack")
    store.enqueue_alerts([email, slack])
    now = utcnow()

    store.mark_attempt_failed(email["key"], "SMTP 451 try later", now + timedelta(minutes=5))
    assert [a["key"] for a in store.pending_alerts(now)] == [slack["key"]]
    assert [a["key"] for a in store.pending_alerts(now + timedelta(minutes=6))] == [
        email["key"],
        slack["key"],
    ]

    store.mark_sent(slack["key"], now)
    store.mark_attempt_failed(email["key"], "SMTP 550 mailbox unavailable", None, give_up=True)
    reopened = Store(tmp_path)
    (failed,) = reopened.alerts("failed")
    assert failed["attempts"] == 2 and failed["last_error"] == "SMTP 550 mailbox unavailable"
    (sent,) = reopened.alerts("sent")
    assert sent["sent_at"] == iso(now) and sent["attempts"] == 1
    assert reopened.pending_alerts(now + timedelta(days=1)) == []

    assert reopened.retry_failed(now + timedelta(days=2)) == 1
    (retried,) = Store(tmp_path).pending_alerts(now + timedelta(days=2))
    assert retried["key"] == email["key"] and retried["attempts"] == 0
    with pytest.raises(KeyError):
        reopened.mark_sent("no-such-alert", now)


# --------------------------------------------------------------------------- state


def test_page_state_merges_and_the_outcome_log_keeps_the_last_fifty(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.set_page_state(PAGE, etag='"v1"', consecutive_failures=2)
        store.set_page_state(PAGE, consecutive_failures=0, fetch_path="browser")
        for n in range(60):
            store.record_outcome(PAGE, {"at": T0 + timedelta(hours=n), "status": "blocked"})

    reopened = Store(tmp_path)
    assert reopened.page_state(PAGE) == {
        "etag": '"v1"',
        "consecutive_failures": 0,
        "fetch_path": "browser",
    }
    log = reopened.outcomes(PAGE)
    assert len(log) == 50
    assert log[0]["at"] == iso(T0 + timedelta(hours=10))
    assert log[-1]["at"] == iso(T0 + timedelta(hours=59))


def test_batched_state_and_outcomes_join_what_another_writer_stored_meanwhile(
    tmp_path: Path,
) -> None:
    daemon = Store(tmp_path)
    with daemon.lock():
        daemon.set_page_state(PAGE, etag='"v1"', consecutive_failures=0)
        daemon.set_page_state("other-page", etag='"o1"')
    daemon.set_page_state(PAGE, etag='"v2"')  # batched: nothing written yet
    daemon.record_outcome(PAGE, {"at": T0, "status": "blocked", "reason": "captcha"})

    def cron_check() -> None:
        cron = Store(tmp_path)
        record(cron, "Do not send unsolicited messages.", day(0))
        cron.set_page_state(PAGE, consecutive_failures=3, fetch_path="browser")
        cron.record_outcome(PAGE, {"at": T0, "status": "error", "reason": "HTTP 503"})
        cron.close()

    assert run_child(cron_check) == 0
    daemon.close()  # reloads what cron wrote, then adds its own batched changes

    reopened = Store(tmp_path)
    assert reopened.latest(PAGE) is not None
    assert reopened.page_state(PAGE) == {
        "etag": '"v2"',
        "consecutive_failures": 3,
        "fetch_path": "browser",
    }
    assert reopened.page_state("other-page") == {"etag": '"o1"'}
    assert [o["status"] for o in reopened.outcomes(PAGE)] == ["error", "blocked"]
    reopened.page_state(PAGE)["etag"] = "changed by a caller"
    reopened.outcomes(PAGE)[0]["status"] = "changed by a caller"
    assert reopened.page_state(PAGE)["etag"] == '"v2"'
    assert reopened.outcomes(PAGE)[0]["status"] == "error"


def polled_page(data_dir: Path) -> tuple[Store, Snapshot]:
    """A store holding the page's first version, as the first check leaves it."""
    store = Store(data_dir)
    return store, record(store, "Do not send unsolicited messages.", day(0))


def unchanged_poll(store: Store, snap: Snapshot, hour: int) -> None:
    """What a check records for a page that did not change, as `check_pages` does it."""
    with store.lock():
        store.touch(PAGE, snap.id, T0 + timedelta(days=1, hours=hour))
        store.set_page_state(PAGE, polls_on_latest=hour, consecutive_failures=0)


def journal_of(store_dir: Path) -> Path:
    return store_dir / "pages" / PAGE / "state.log"


def test_an_unchanged_poll_appends_a_line_and_a_reopened_store_reads_it(tmp_path: Path) -> None:
    store, baseline = polled_page(tmp_path)
    state_file = tmp_path / "pages" / PAGE / "state.json"
    before = state_file.stat()
    for hour in (1, 2, 3):
        unchanged_poll(store, baseline, hour)

    after = state_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(journal_of(tmp_path).read_bytes().splitlines()) == 3
    reopened = Store(tmp_path)
    assert reopened.latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=3))
    assert reopened.snapshots(PAGE)[-1].last_seen_at == iso(T0 + timedelta(days=1, hours=3))
    assert reopened.page_state(PAGE)["polls_on_latest"] == 3


def test_state_json_takes_in_the_log_every_few_polls_so_the_log_stays_small(
    tmp_path: Path,
) -> None:
    store, baseline = polled_page(tmp_path)
    lines = []
    for hour in range(1, 101):
        unchanged_poll(store, baseline, hour)
        journal = journal_of(tmp_path)
        lines.append(len(journal.read_bytes().splitlines()) if journal.exists() else 0)

    # Eight polls appended, the ninth writes state.json whole and the log starts again.
    assert lines[:18] == [1, 2, 3, 4, 5, 6, 7, 8, 0] * 2
    assert max(lines) == 8 and lines.count(0) == 100 // 9
    assert journal_of(tmp_path).stat().st_size < 1500
    reopened = Store(tmp_path)
    assert reopened.page_state(PAGE)["polls_on_latest"] == 100
    assert reopened.latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=100))


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_next_poll_still_reads(
    tmp_path: Path,
) -> None:
    store, baseline = polled_page(tmp_path)
    unchanged_poll(store, baseline, 1)
    unchanged_poll(store, baseline, 2)
    journal = journal_of(tmp_path)
    journal.write_bytes(journal.read_bytes()[:-9])  # the second poll's line, torn mid-write

    torn = Store(tmp_path)
    assert torn.page_state(PAGE)["polls_on_latest"] == 1
    assert torn.latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=1))
    unchanged_poll(torn, baseline, 3)
    assert Store(tmp_path).page_state(PAGE)["polls_on_latest"] == 3
    assert Store(tmp_path).latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=3))


def test_lines_left_over_from_before_state_json_was_written_again_are_ignored(
    tmp_path: Path,
) -> None:
    store, baseline = polled_page(tmp_path)
    unchanged_poll(store, baseline, 5)
    left_over = journal_of(tmp_path).read_bytes()
    with store.lock():  # a blocked poll logs an outcome: state.json is written whole
        store.set_page_state(PAGE, polls_on_latest=0, consecutive_failures=1)
        store.record_outcome(PAGE, {"at": day(2), "status": "blocked", "reason": "captcha"})
    assert not journal_of(tmp_path).exists()
    journal_of(tmp_path).write_bytes(left_over)  # a crash before the old log was removed

    assert Store(tmp_path).page_state(PAGE)["polls_on_latest"] == 0
    assert Store(tmp_path).page_state(PAGE)["consecutive_failures"] == 1


def test_a_store_opened_earlier_sees_the_polls_another_process_appended(tmp_path: Path) -> None:
    daemon, baseline = polled_page(tmp_path)
    unchanged_poll(daemon, baseline, 1)
    state_file = tmp_path / "pages" / PAGE / "state.json"
    before = state_file.stat()

    assert run_child(lambda: unchanged_poll(Store(tmp_path), baseline, 2)) == 0
    after = state_file.stat()  # the other process only appended: the log alone tells
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert daemon.page_state(PAGE)["polls_on_latest"] == 2
    with daemon.lock():
        assert daemon.latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=2))
    unchanged_poll(daemon, baseline, 3)
    assert Store(tmp_path).page_state(PAGE)["polls_on_latest"] == 3


def test_a_reader_never_goes_back_in_time_when_a_writer_takes_the_log_in_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, baseline = polled_page(tmp_path)
    for hour in range(1, 6):
        unchanged_poll(writer, baseline, hour)
    real_open_db, pending = page_module.open_db, [True]

    def writer_between_the_two_files(path: Path):
        db = real_open_db(path)
        if path.name == "state.json" and pending:  # the reader has read state.json: now
            pending.clear()
            for hour in range(6, 11):  # takes the log into state.json, starts a new log
                unchanged_poll(writer, baseline, hour)
        return db

    monkeypatch.setattr(page_module, "open_db", writer_between_the_two_files)
    assert Store(tmp_path).page_state(PAGE)["polls_on_latest"] >= 5


def test_a_failed_state_json_write_is_retried_whole_so_no_poll_hides_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, baseline = polled_page(tmp_path)
    unchanged_poll(store, baseline, 1)
    real_replace, full = os.replace, [True]

    def disk_full_once(src: str, dst: str) -> None:
        if Path(dst).name == "state.json" and full:
            full.clear()
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", disk_full_once)
    with pytest.raises(StoreError, match="No space left"), store.lock():
        store.set_page_state(PAGE, unreachable_alerted=True)  # guards the alert queued with it
        store.enqueue_alerts([alert_for(baseline, "unreachable")])
    unchanged_poll(store, baseline, 3)

    reopened = Store(tmp_path)
    assert reopened.page_state(PAGE)["unreachable_alerted"] is True
    assert reopened.page_state(PAGE)["polls_on_latest"] == 3
    assert len(reopened.alerts()) == 1


def test_a_flag_set_from_0_to_false_is_stored_as_false(tmp_path: Path) -> None:
    store, baseline = polled_page(tmp_path)
    with store.lock():
        store.set_page_state(PAGE, unreachable_alerted=0, backoff=2.0)
    unchanged_poll(store, baseline, 1)
    with store.lock():
        store.set_page_state(PAGE, unreachable_alerted=False, backoff=2)

    state = Store(tmp_path).page_state(PAGE)
    assert state["unreachable_alerted"] is False and type(state["backoff"]) is int


@pytest.mark.parametrize("odd", ["dangling symlink", "directory", "fifo"])
def test_a_state_log_that_is_no_plain_file_is_ignored_and_polls_are_kept(
    tmp_path: Path, odd: str
) -> None:
    _, baseline = polled_page(tmp_path)
    journal = journal_of(tmp_path)
    if odd == "dangling symlink":
        journal.symlink_to(tmp_path / "elsewhere")
    elif odd == "directory":
        journal.mkdir()
    else:
        os.mkfifo(journal)

    def three_polls() -> None:  # in a child: a FIFO that blocked the read would hang it
        for hour in (1, 2, 3):
            unchanged_poll(Store(tmp_path), baseline, hour)

    assert run_child(three_polls) == 0
    reopened = Store(tmp_path)
    assert reopened.page_state(PAGE)["polls_on_latest"] == 3
    assert reopened.latest(PAGE).last_seen_at == iso(T0 + timedelta(days=1, hours=3))
    assert not (tmp_path / "elsewhere").exists()


def test_a_check_taking_the_lock_again_sees_a_version_another_process_stored_since(
    tmp_path: Path,
) -> None:
    check = Store(tmp_path)
    first = record(check, "You may contact buyers about their order.", day(0))
    with check.lock():  # one page's poll: the page is read and kept in memory
        check.touch(PAGE, first.id, day(0))

    def cron_check() -> None:
        record(Store(tmp_path), "You may not contact buyers for marketing.", day(1))

    assert run_child(cron_check) == 0
    with check.lock():  # the next page's poll
        assert check.latest(PAGE).captured_at == day(1)
        assert len(check.snapshots(PAGE)) == 2


def test_a_damaged_index_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    record(Store(tmp_path), "Do not send unsolicited messages.", day(0))
    index = tmp_path / "index.json"
    index.write_text(index.read_text()[:20])

    with pytest.raises(StoreError) as caught:
        Store(tmp_path)
    assert str(index) in caught.value.message
    assert "fsck --repair" in caught.value.hint


def test_a_store_from_a_newer_policywatch_is_refused(tmp_path: Path) -> None:
    record(Store(tmp_path), "Do not send unsolicited messages.", day(0))
    index = tmp_path / "index.json"
    data = json.loads(index.read_text())
    data["meta"]["1"]["schema"] = 99
    index.write_text(json.dumps(data))

    with pytest.raises(StoreError) as caught:
        Store(tmp_path)
    assert "newer policywatch" in caught.value.message


# --------------------------------------------------------------------------- lock


def _hold_lock(data_dir: Path, held, release) -> None:
    with Store(data_dir).lock(purpose="policywatch run"):
        held.set()
        release.wait(20)


@contextmanager
def held_elsewhere(data_dir: Path) -> Iterator[BaseProcess]:
    """Another process holding the data directory's lock as `policywatch run`."""
    held, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_lock, args=(data_dir, held, release))
    holder.start()
    try:
        assert held.wait(10)
        yield holder
    finally:
        release.set()
        holder.join(10)


def test_a_second_writer_waits_then_names_the_one_holding_the_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with held_elsewhere(tmp_path) as holder:
        started = time.monotonic()
        with pytest.raises(StoreLocked) as caught, store.lock(timeout=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        assert f"pid {holder.pid}, `policywatch run`, since" in caught.value.message
        assert str(tmp_path) in caught.value.message
    with store.lock(timeout=5):
        assert store.page_ids() == []


def test_the_holder_is_named_right_after_a_longer_holder_released_the_lock(
    tmp_path: Path,
) -> None:
    earlier = Store(tmp_path)
    with earlier.lock(purpose="policywatch check --page " + "a-long-page-id " * 8):
        pass
    with held_elsewhere(tmp_path) as holder:
        with pytest.raises(StoreLocked) as caught, earlier.lock(timeout=0.1):
            pass
        assert f"pid {holder.pid}, `policywatch run`, since" in caught.value.message
        assert json.loads((tmp_path / ".lock").read_text())["command"] == "policywatch run"


def test_a_lock_file_removed_by_hand_is_not_locked_by_two_writers(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.lock():
        pass
    (tmp_path / ".lock").unlink()  # "a stale lock file", removed by an operator
    with held_elsewhere(tmp_path) as holder:
        with pytest.raises(StoreLocked) as caught, store.lock(timeout=0.1):
            pass
        assert f"pid {holder.pid}, `policywatch run`" in caught.value.message
    with store.lock(timeout=5):
        assert store.page_ids() == []


def _lock_inherited_store(store: Store, outcome) -> None:
    try:
        with store.lock(timeout=0.3, purpose="forked worker"):
            outcome.value = 1
    except StoreLocked:
        outcome.value = 2


def test_a_forked_child_never_shares_its_parents_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.lock():  # the lock file is open from now on
        pass
    outcome = FORK.Value("i", 0)
    with store.lock(purpose="policywatch run"):
        assert run_child(_lock_inherited_store, store, outcome) == 0
        assert outcome.value == 2  # locked out, not let in through the inherited file
        with pytest.raises(StoreLocked), Store(tmp_path).lock(timeout=0.1):
            pass  # and the child's exit did not release the parent's lock


def test_a_child_forked_inside_a_hold_writes_nothing_when_it_leaves_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    go_on_read, go_on_write = os.pipe()
    child = None
    try:
        with store.lock():
            store.set_page_state(PAGE, etag='"before the fork"')
            child = os.fork()
            if child == 0:
                os.read(go_on_read, 1)  # leaves the hold once the parent stored something newer
    finally:
        if child == 0:
            os._exit(0)
    newer = Store(tmp_path)
    with newer.lock():
        newer.set_page_state(PAGE, etag='"newer"')
    os.write(go_on_write, b"x")
    os.waitpid(child, 0)

    assert Store(tmp_path).page_state(PAGE)["etag"] == '"newer"'


def test_a_lock_file_removed_once_is_taken_anew_even_without_waiting(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.lock():
        pass
    (tmp_path / ".lock").unlink()
    with store.lock(timeout=0):
        assert (tmp_path / ".lock").exists()


def test_a_store_opened_before_the_first_version_still_refuses_a_lost_index(
    tmp_path: Path,
) -> None:
    early = Store(tmp_path)  # the daemon, opened on a fresh directory
    record(Store(tmp_path), "Do not send unsolicited messages.", day(0))
    (tmp_path / "index.json").unlink()

    with pytest.raises(StoreError) as caught, early.lock():
        pass
    assert "fsck --repair" in caught.value.hint
    assert not (tmp_path / "index.json").exists()


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_lock_file_that_is_no_plain_file_is_refused_and_nothing_outside_is_written(
    tmp_path: Path, kind: str
) -> None:
    data, outside = tmp_path / "data", tmp_path / "notes.txt"
    data.mkdir()
    outside.write_text("keep me")
    if kind == "fifo":
        os.mkfifo(data / ".lock")
    else:
        (data / ".lock").symlink_to(outside)

    with pytest.raises(StoreError) as caught, Store(data).lock(timeout=0.1):
        pass
    assert str(data / ".lock") in caught.value.message
    assert outside.read_text() == "keep me"


def test_a_huge_lock_file_is_cut_down_to_one_record(tmp_path: Path) -> None:
    with open(tmp_path / ".lock", "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: no disk, but a read would take it all
    store = Store(tmp_path)
    with store.lock(purpose="policywatch run"):
        pass
    assert (tmp_path / ".lock").stat().st_size < 4096
    assert json.loads((tmp_path / ".lock").read_text())["command"] == "policywatch run"


def _record_twenty(data_dir: Path, who: str) -> None:
    store = Store(data_dir)
    for n in range(20):
        with store.lock(timeout=20):
            record(store, f"Rule {n} from {who}.", iso(utcnow()), alert=True, page_id=who)


def test_two_writers_at_once_keep_every_snapshot_and_readers_never_see_a_torn_index(
    tmp_path: Path,
) -> None:
    writers = [FORK.Process(target=_record_twenty, args=(tmp_path, w)) for w in ("cron", "daemon")]
    for writer in writers:
        writer.start()
    seen = 0
    while any(w.is_alive() for w in writers):  # `history` while a check runs: no lock needed
        reader = Store(tmp_path)
        now_seen = sum(len(reader.snapshots(p)) for p in reader.page_ids())
        assert now_seen >= seen
        seen = now_seen
    for writer in writers:
        writer.join(60)
    assert [w.exitcode for w in writers] == [0, 0]

    store = Store(tmp_path)
    assert {p: len(store.snapshots(p)) for p in store.page_ids()} == {"cron": 20, "daemon": 20}
    assert len(store.alerts("pending")) == 40
