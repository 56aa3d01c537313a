"""How long the semantic diff of a large policy takes, next to difflib's line diff.

The semantic diff does more than a line diff (sections, sentences, words, rules),
so it is allowed to cost more, but not much: the goal is at most 2x
`difflib.unified_diff` over the same extracted text (one line per block), timed
in the same run on the same two ~300 KB documents, interleaved so a noisy
machine slows both alike. Peak memory of one run of each is measured with
tracemalloc, separately from the timings (tracing slows everything down).

A faster diff must say exactly what the old one said: before timing, the results on
a few fixed inputs are compared with digests saved from the code before the speed-ups
(REFERENCE), and the bench exits 1 when one differs.

    python bench/bench_diff.py [--kb 300] [--sections 40] [--changed 0.02] [--repeat 80]
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

from policywatch.content import Block, Document, Section
from policywatch.diff.compare import diff_documents
from policywatch.models import DiffResult, sha256_hex
from policywatch.watchlist.rules import DEFAULT_RULES

SUBJECTS = ["Sellers", "You", "Amazon", "Buyers", "Your messages", "Brand owners", "Your listings"]
MODALS = ["must", "may", "may not", "should", "must not", "can", "cannot", "are required to"]
VERBS = [
    "contact",
    "send messages to",
    "request reviews from",
    "offer refunds to",
    "share information with",
    "respond to",
    "provide tracking details to",
    "report problems to",
]
OBJECTS = [
    "customers",
    "buyers who placed an order",
    "the Selling Partner Support team",
    "customers who had a positive experience",
    "your own customers",
    "the carrier",
]
CONDITIONS = [
    "within 30 days of the order delivery date",
    "only through Buyer-Seller Messaging",
    "when it is necessary to complete the order",
    "unless the buyer asked for it, e.g. to change an address",
    "in a neutral manner and without offering any incentive",
    "after the order has shipped from the U.S. warehouse",
    "as described in the Seller Code of Conduct",
    "between 4 and 30 days after delivery",
]
HEADINGS = [
    "Communication guidelines",
    "Permitted messages",
    "Prohibited messages",
    "Request a Review",
    "Customer information",
    "Feedback and reviews",
    "Order fulfilment",
    "Returns and refunds",
    "Account health",
    "Enforcement",
]


def sentence(rng: random.Random) -> str:
    words = [
        rng.choice(SUBJECTS),
        rng.choice(MODALS),
        rng.choice(VERBS),
        rng.choice(OBJECTS),
        rng.choice(CONDITIONS),
    ]
    tail = rng.choice(["", " in every marketplace", " for each order", " at any time"])
    return " ".join(words) + tail + "."


def outline(rng: random.Random, kb: int, sections: int) -> list[tuple[str, list[list[str]]]]:
    """Sections of blocks of sentences, about `kb` KB of text in all."""
    per_section = kb * 1024 // sections
    result = []
    for s in range(sections):
        blocks: list[list[str]] = []
        size = 0
        while size < per_section:
            count = 1 if rng.random() < 0.4 else rng.randint(2, 5)  # a bullet or a paragraph
            block = [sentence(rng) for _ in range(count)]
            size += sum(len(x) + 1 for x in block)
            blocks.append(block)
        result.append((f"{HEADINGS[s % len(HEADINGS)]} {s + 1}", blocks))
    return result


def edit(rng: random.Random, sections: list[tuple[str, list[list[str]]]], share: float) -> int:
    """Change `share` of all sentences in place: reword, insert, delete, flip or renumber."""
    spots = [
        (s, b, i)
        for s, (_, blocks) in enumerate(sections)
        for b, block in enumerate(blocks)
        for i in range(len(block))
    ]
    chosen = rng.sample(spots, round(len(spots) * share))
    for s, b, i in sorted(chosen, reverse=True):
        block = sections[s][1][b]
        action = rng.choice(["reword", "insert", "delete", "flip", "number"])
        text = block[i]
        if action == "reword":
            block[i] = text.replace(" customers", " your customers", 1)[:-1] + " today."
        elif action == "insert":
            block.insert(i + 1, sentence(rng))
        elif action == "delete" and len(block) > 1:
            del block[i]
        elif action == "flip":
            block[i] = text.replace(" may ", " may not ", 1) if " may " in text else "Never " + text
        else:
            block[i] = (
                text.replace("30", "14", 1) if "30" in text else text[:-1] + " within 2 days."
            )
    return len(chosen)


def document(title: str, sections: list[tuple[str, list[list[str]]]]) -> Document:
    built = []
    for heading, blocks in sections:
        body = tuple(Block("p", " ".join(block)) for block in blocks)
        digest = sha256_hex("\n".join(b.text for b in body))
        built.append(Section((title, heading), 2, body, digest))
    return Document(title, tuple(built), sha256_hex("".join(s.digest for s in built)))


# sha256 (first 16 hex digits) of repr(DiffResult) for (kb, sections, changed, seed), taken
# with the diff as it was at commit bf794e1, before the speed-ups of issue 15.
REFERENCE = {
    (300, 40, 0.02, 1801): "b7a524a63e056a34",
    (300, 40, 0.1, 1801): "8e245beffa333001",
    (60, 12, 0.02, 7): "43b53cb54fb95332",
    (60, 12, 0.3, 42): "4468269f61aa2d35",
    (30, 5, 0.5, 3): "d1122e4e8be2563f",
}


def inputs(kb: int, sections: int, changed: float, seed: int) -> tuple[Document, Document, int]:
    """The old and the edited document, and how many sentences were edited."""
    rng = random.Random(seed)
    original = outline(rng, kb, sections)
    edited = [(heading, [list(block) for block in blocks]) for heading, blocks in original]
    count = edit(rng, edited, changed)
    old = document("Seller Code of Conduct", original)
    return old, document("Seller Code of Conduct", edited), count


def semantic_diff(old: Document, new: Document) -> DiffResult:
    return diff_documents(old, new, page_id="bench", old_id="a", new_id="b", rules=DEFAULT_RULES)


def differing_references() -> list[tuple[int, int, float, int]]:
    """The reference inputs on which this diff no longer gives what the old one gave."""
    return [
        key
        for key, digest in REFERENCE.items()
        if hashlib.sha256(repr(semantic_diff(*inputs(*key)[:2])).encode()).hexdigest()[:16]
        != digest
    ]


def lines(doc: Document) -> list[str]:
    return [line for s in doc.sections for line in (s.heading, *(b.text for b in s.blocks))]


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak_kib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=int, default=300, help="size of each document's text")
    parser.add_argument("--sections", type=int, default=40)
    parser.add_argument("--changed", type=float, default=0.02, help="share of sentences edited")
    parser.add_argument("--repeat", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1801)
    args = parser.parse_args()

    differing = differing_references()
    if differing:
        print(f"bench_diff: the diff differs from the reference on {differing}", file=sys.stderr)
        sys.exit(1)
    print(f"results identical to the reference on all {len(REFERENCE)} inputs")
    old, new, count = inputs(args.kb, args.sections, args.changed, args.seed)
    old_lines, new_lines = lines(old), lines(new)

    def semantic() -> object:
        return semantic_diff(old, new)

    def line_diff() -> object:
        return list(difflib.unified_diff(old_lines, new_lines, lineterm=""))

    result = semantic()
    contenders = {"policywatch diff_documents": semantic, "difflib.unified_diff": line_diff}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    # Interleaved, so machine noise hits both. On a busy 2-core machine 15 rounds gave
    # ratios anywhere from 2.5x to 3.3x for the same code; 80 keep the median steady.
    for _ in range(args.repeat):
        for name, run in contenders.items():
            times[name].append(timed(run))
    peaks = {name: peak_kib(run) for name, run in contenders.items()}

    size = sum(len(line) + 1 for line in old_lines) / 1024
    print(
        f"documents: {size:.0f} KB, {len(old.sections)} sections, {len(old_lines)} blocks; "
        f"{count} sentences edited ({args.changed:.0%}); "
        f"diff found {len(result.changes)} changes in "
        f"{sum(1 for s in result.sections if s.kind != 'unchanged')} sections"
    )
    print(f"{'':28} {'median ms':>10} {'min ms':>8} {'peak KiB':>9}")
    for name in contenders:
        print(
            f"{name:28} {statistics.median(times[name]) * 1000:10.1f} "
            f"{min(times[name]) * 1000:8.1f} {peaks[name]:9.0f}"
        )
    names = list(contenders)
    ratio = statistics.median(times[names[0]]) / statistics.median(times[names[1]])
    # The minimum is what each costs when nothing else on the machine gets in the way.
    least = min(times[names[0]]) / min(times[names[1]])
    memory = peaks[names[0]] / peaks[names[1]]
    verdict = "within" if ratio <= 2 else "OVER"
    print(
        f"ratio (median time): {ratio:.2f}x ({verdict} the 2x goal); min time: {least:.2f}x; "
        f"peak memory: {memory:.2f}x"
    )


if __name__ == "__main__":
    main()
