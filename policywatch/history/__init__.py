"""History: the data directory. Every version of every page, its content blobs, the alert
outbox and the per-page state, behind the `Store` facade."""
