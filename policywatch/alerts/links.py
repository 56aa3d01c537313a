"""Permalinks into the web view (`policywatch serve`, `policywatch site`).

Alerts, digests, feeds and the web view's own pages all name a change by the same path,
so a link in an email keeps working on a static copy of the site too.
"""

from __future__ import annotations

from urllib.parse import quote

from policywatch.models import short_id


def quote_id(page_id: str) -> str:
    """A page id as one path segment ("conduct@DE" keeps its @)."""
    return quote(page_id, safe="@")


def change_path(page_id: str, old_id: str, new_id: str) -> str:
    """The path of one change's page, relative to the web view's root."""
    return f"changes/{quote_id(page_id)}/{short_id(old_id)}..{short_id(new_id)}"


def change_url(base_url: str | None, page_id: str, old_id: str, new_id: str) -> str | None:
    """The absolute permalink of a change, or None when no base_url is configured."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{change_path(page_id, old_id, new_id)}"
