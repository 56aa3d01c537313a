"""What a page becomes on its way through: a fetch's result, the document extracted from it,
and the stored version of that document.

Frozen dataclasses like the rest of `models`, with the serialisation the store and the JSON
outputs share, so both agree on one shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from policywatch.models import PATH_SEPARATOR

# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Block:
    """One readable unit of a section: a paragraph, a list item, a table row."""

    kind: str  # "p", "li", "tr", "pre", "dt", "dd", "blockquote" ...
    text: str  # normalised text
    links: tuple[str, ...] = ()  # normalised link targets found in the block

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.links:
            data["links"] = list(self.links)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Block:
        return cls(data["kind"], data["text"], tuple(data.get("links", ())))


@dataclass(frozen=True)
class Section:
    """A heading and the blocks under it, up to the next heading of any level.

    `path` is the chain of headings from the page title down to this heading, so
    two sections with the same heading in different places stay distinct.
    """

    path: tuple[str, ...]
    level: int
    blocks: tuple[Block, ...]
    digest: str

    @property
    def heading(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def label(self) -> str:
        return PATH_SEPARATOR.join(self.path)

    @property
    def text(self) -> str:
        return "\n".join(block.text for block in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "level": self.level,
            "digest": self.digest,
            "blocks": [block.to_dict() for block in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        return cls(
            tuple(data["path"]),
            int(data["level"]),
            tuple(Block.from_dict(b) for b in data["blocks"]),
            data["digest"],
        )


@dataclass(frozen=True)
class Document:
    """The policy as a reader sees it: title, sections, and metadata kept out of the text.

    Metadata (country banner, breadcrumb, "Last updated" date, language) is
    recorded but never hashed, so a date-only bump is not a new version.
    """

    title: str
    sections: tuple[Section, ...]
    digest: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def section(self, label: str) -> Section | None:
        for section in self.sections:
            if section.label == label:
                return section
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "digest": self.digest,
            "metadata": dict(self.metadata),
            "sections": [s.to_dict() for s in self.sections],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Document:
        return cls(
            data["title"],
            tuple(Section.from_dict(s) for s in data["sections"]),
            data["digest"],
            dict(data.get("metadata", {})),
        )


# --------------------------------------------------------------------------- fetching

FetchStatus = Literal["ok", "not_modified", "blocked", "error"]


@dataclass(frozen=True)
class FetchResult:
    """What one poll of one URL gave, before any extraction.

    `blocked` means the server answered but not with the policy (sign-in wall,
    captcha, JavaScript shell, wrong marketplace); `error` means no usable
    answer (network failure, HTTP error, oversize body). Neither is ever stored
    as a snapshot.
    """

    url: str
    status: FetchStatus
    final_url: str | None = None
    http_status: int | None = None
    text: str | None = None  # decoded body, for status "ok"
    raw: bytes | None = None  # body bytes as received (decompressed), for status "ok"
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None  # human sentence for blocked/error: what happened and what to do
    via: Literal["http", "browser"] = "http"
    elapsed: float = 0.0
    # A browser read taken after a short quiet (tab.SETTLE_QUICK), not once the page kept
    # still: good to recognise the version held, never to believe a new one.
    quick: bool = False


# Whether a quick browser read is the version held (see BrowserFetcher.fetch_each); the
# browser runs it in a worker thread, as it parses the page.
Recognise = Callable[[FetchResult], bool]


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class Snapshot:
    """One stored version of one page. Content lives in blobs; this is the index entry."""

    id: str  # hex, unique; a unique prefix is enough on the command line
    page_id: str
    digest: str  # Document.digest
    captured_at: str  # ISO 8601 UTC, when this content was first seen
    last_seen_at: str  # ISO 8601 UTC, when this content was last seen
    url: str
    raw_key: str  # blob key of the compressed raw HTML
    doc_key: str  # blob key of the compressed Document JSON
    title: str = ""
    section_digests: Mapping[str, str] = field(default_factory=dict)  # label -> digest
    metadata: Mapping[str, str] = field(default_factory=dict)
    origin: Literal["fetch", "import", "rederive"] = "fetch"
    marketplace: str | None = None
    # When `policywatch rederive` last re-extracted this version from its raw HTML.
    rederived_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "page_id": self.page_id,
            "digest": self.digest,
            "captured_at": self.captured_at,
            "last_seen_at": self.last_seen_at,
            "url": self.url,
            "raw_key": self.raw_key,
            "doc_key": self.doc_key,
            "title": self.title,
            "section_digests": dict(self.section_digests),
            "metadata": dict(self.metadata),
            "origin": self.origin,
            "marketplace": self.marketplace,
            "rederived_at": self.rederived_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            id=data["id"],
            page_id=data["page_id"],
            digest=data["digest"],
            captured_at=data["captured_at"],
            last_seen_at=data["last_seen_at"],
            url=data["url"],
            raw_key=data["raw_key"],
            doc_key=data["doc_key"],
            title=data.get("title", ""),
            section_digests=dict(data.get("section_digests", {})),
            metadata=dict(data.get("metadata", {})),
            origin=data.get("origin", "fetch"),
            marketplace=data.get("marketplace"),
            rederived_at=data.get("rederived_at"),
        )
