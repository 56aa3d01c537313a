"""The alert outbox: alerts queued with their change, then sent, retried or parked.

Entries live in index.json; each payload is a blob written before the index write that
names it. Every change of an entry's status is written before the method returns (a
send must never be repeated, or lost, because a crash forgot it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from policywatch.clock import iso, parse_iso, utcnow
from policywatch.history.blobs import Blobs
from policywatch.history.index import Index
from policywatch.history.records import Stamp, canonical_json, plain, stamp, when

_OUTBOX_REQUIRED = ("key", "page_id", "route", "severity", "payload")

Durable = Callable[[Callable[[], Any]], Any]


class Outbox:
    """Queued alerts. `durable(op)` applies `op` under the lock and writes it at once."""

    def __init__(self, index: Index, blobs: Blobs, durable: Durable) -> None:
        self.index = index
        self.blobs = blobs
        self.durable = durable

    def enqueue(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue alerts durably, skipping keys already queued; returns how many were new."""
        entries = self.entries(items)
        return self.durable(lambda: self.insert(entries))

    def entries(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Complete outbox entries (status, attempts, times) from what the alert stage gives.

        Each payload is written to a blob here, before the index write that will name
        it; the entry keeps the blob key and the title, enough to list alerts.
        """
        now = iso(utcnow())
        entries = []
        for item in items:
            missing = [k for k in _OUTBOX_REQUIRED if k not in item]
            if missing:
                raise ValueError(f"outbox item lacks {', '.join(missing)}: {dict(item)!r}")
            entry = plain(
                {
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": None,
                    "last_error": None,
                    "sent_at": None,
                    **{k: v for k, v in item.items() if k != "payload"},
                    "severity": str(item["severity"]),
                }
            )
            entry["next_attempt_at"] = entry["next_attempt_at"] or entry["created_at"]
            entries.append(self._payload_to_blob(entry, item["payload"]))
        return entries

    def _payload_to_blob(self, entry: dict[str, Any], payload: Any) -> dict[str, Any]:
        title = payload.get("title") if isinstance(payload, Mapping) else None
        entry.setdefault("title", str(title or ""))
        entry["payload_key"] = self.blobs.put(canonical_json(payload))
        return entry

    def insert(self, entries: list[dict[str, Any]]) -> int:
        """Add entries whose keys are not queued yet (written with the next index save)."""
        added = 0
        for entry in entries:
            if entry["key"] not in self.index.outbox_docs:
                self.index.outbox_docs[entry["key"]] = self.index.outbox.insert(entry)
                added += 1
        return added

    def alerts(self, status: str | None = None, *, payloads: bool = True) -> list[dict[str, Any]]:
        """Outbox entries, oldest first, optionally only those with one status.

        Each carries its `payload`, read from its blob (once per call for the
        routes that share it), unless `payloads` is False: the entries alone cost no
        blob reads, however long the outbox has grown.
        """
        self.index.fresh()
        blobs: dict[str, bytes] = {}
        return [
            self._with_payload(doc, blobs) if payloads else copy.deepcopy(dict(doc))
            for doc in self.index.outbox
            if status is None or doc["status"] == status
        ]

    def _with_payload(self, doc: Mapping[str, Any], blobs: dict[str, bytes]) -> dict[str, Any]:
        entry = copy.deepcopy(dict(doc))
        key = entry.pop("payload_key", None)
        if key not in blobs:
            blobs[key] = self.blobs.get(str(key))
        entry["payload"] = json.loads(blobs[key])
        return entry

    def pending(self, now: Stamp) -> list[dict[str, Any]]:
        """Alerts waiting to be sent whose next attempt is due at `now`."""
        cutoff = when(now)
        return [
            entry
            for entry in self.alerts("pending")
            if not entry.get("next_attempt_at") or parse_iso(entry["next_attempt_at"]) <= cutoff
        ]

    def mark_sent(self, key: str, at: Stamp) -> None:
        sent_at = stamp(at)

        def sent(doc: dict[str, Any]) -> None:
            doc.update(
                status="sent",
                sent_at=sent_at,
                attempts=doc.get("attempts", 0) + 1,
                next_attempt_at=None,
                last_error=None,
            )
            doc.pop("in_flight_since", None)

        self.durable(lambda: self._update(key, sent))

    def mark_attempt_failed(
        self,
        key: str,
        error: str,
        next_attempt_at: Stamp | None,
        give_up: bool = False,
        *,
        maybe_arrived: bool = False,
    ) -> None:
        """Count a failed delivery: retry at `next_attempt_at`, or park it as failed.

        `maybe_arrived` (the receiver took the message but did not answer in time)
        leaves the entry in flight, so its next send is flagged as a possible repeat.
        """
        retry_at = None if give_up or next_attempt_at is None else stamp(next_attempt_at)

        def failed(doc: dict[str, Any]) -> None:
            doc.update(
                status="failed" if give_up else "pending",
                attempts=doc.get("attempts", 0) + 1,
                last_error=error,
                next_attempt_at=retry_at,
            )
            if not maybe_arrived:
                doc.pop("in_flight_since", None)

        self.durable(lambda: self._update(key, failed))

    def queued(self, key: str) -> bool:
        """Whether an alert with this key is already in the outbox (queuing it adds nothing)."""
        self.index.fresh()
        return key in self.index.outbox_docs

    def mark_in_flight(self, key: str, at: Stamp) -> bool:
        """Record, on disk before the send starts, that the alert is being sent.

        A send cut off by a crash or a timeout leaves the mark; the next send of the
        same entry is then flagged `possibly_delivered_twice` (the receiver may have
        the first copy) and True is returned. At most one repeat per crash or timeout.
        """
        since = stamp(at)
        again: list[bool] = []

        def flying(doc: dict[str, Any]) -> None:
            again.append(bool(doc.get("in_flight_since")))
            doc["in_flight_since"] = since
            doc["possibly_delivered_twice"] = doc.get("possibly_delivered_twice") or again[0]

        self.durable(lambda: self._update(key, flying))
        return again[0]

    def retry_failed(self, now: Stamp) -> int:
        """Give every parked alert a fresh start (pending, due at `now`); returns how many.

        The caller passes its clock so a retried alert is due on the same clock that
        `pending` is later asked with (tests run on injected times).
        """
        due = stamp(now)

        def revive(doc: dict[str, Any]) -> None:
            doc.update(status="pending", attempts=0, next_attempt_at=due)

        def op() -> int:
            doc_ids = [doc.doc_id for doc in self.index.outbox if doc["status"] == "failed"]
            if doc_ids:
                self.index.outbox.update(revive, doc_ids=doc_ids)
            return len(doc_ids)

        return self.durable(op)

    def _update(self, key: str, change: Callable[[dict[str, Any]], None]) -> None:
        doc_id = self.index.outbox_docs.get(key)
        if doc_id is None:
            raise KeyError(f"no alert with key {key!r} in the outbox")
        self.index.outbox.update(change, doc_ids=[doc_id])
