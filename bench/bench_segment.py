"""How well and how fast policywatch splits policy text into sentences, per language.

The labelled sentences are tests/fixtures/sentences/<language>.txt: seller-policy prose
written as a native reader would, one sentence a line, paragraphs apart. Each paragraph is
joined back into one block (with spaces; Japanese without) and split again; a labelled
sentence counts as found when it comes back whole. Speed is microseconds per paragraph
next to today's splitter (the English one every language used to go through), timed
interleaved in one run. pysbd and blingfire are measured too when installed
(`pip install pysbd blingfire numpy`): they were the other candidates.

    python bench/bench_segment.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from policywatch.document.segment import split_sentences

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sentences"
Splitter = Callable[[str, str], list[str]]


def paragraphs(language: str) -> list[list[str]]:
    text = (FIXTURES / f"{language}.txt").read_text(encoding="utf-8")
    return [block.splitlines() for block in text.strip().split("\n\n")]


def block(language: str, sentences: list[str]) -> str:
    return ("" if language == "ja" else " ").join(sentences)


def accuracy(split: Splitter, language: str) -> tuple[int, int]:
    found = total = 0
    for sentences in paragraphs(language):
        pieces = {piece.strip() for piece in split(block(language, sentences), language)}
        found += sum(1 for sentence in sentences if sentence in pieces)
        total += len(sentences)
    return found, total


def splitters() -> dict[str, Splitter]:
    found: dict[str, Splitter] = {
        "policywatch": split_sentences,
        "today (English rules)": lambda text, language: split_sentences(text, "en"),
    }
    if importlib.util.find_spec("pysbd"):
        import pysbd

        known = {"en", "de", "fr", "es", "it", "ja", "nl", "pl", "ar"}
        found["pysbd"] = lambda text, language: pysbd.Segmenter(
            language=language if language in known else "en", clean=False
        ).segment(text)
    if importlib.util.find_spec("blingfire"):
        import blingfire

        found["blingfire"] = lambda text, language: blingfire.text_to_sentences(text).split("\n")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    languages = sorted(path.stem for path in FIXTURES.glob("*.txt"))
    contenders = splitters()
    print(f"{'sentences found':24}" + "".join(f"{code:>8}" for code in languages))
    for name, split in contenders.items():
        cells = []
        for code in languages:
            found, total = accuracy(split, code)
            cells.append(f"{found}/{total}")
        print(f"{name:24}" + "".join(f"{cell:>8}" for cell in cells))
    blocks = {code: [block(code, s) for s in paragraphs(code)] for code in languages}
    times: dict[str, dict[str, list[float]]] = {
        name: {code: [] for code in languages} for name in contenders
    }
    for _ in range(args.repeat):  # interleaved, so machine noise hits every contender alike
        for name, split in contenders.items():
            for code, texts in blocks.items():
                start = time.perf_counter()
                for text in texts:
                    split(text, code)
                times[name][code].append((time.perf_counter() - start) / len(texts))
    print(
        f"\n{'us/paragraph (median)':24}" + "".join(f"{code:>8}" for code in languages) + "     all"
    )
    for name in contenders:
        medians = [statistics.median(times[name][code]) for code in languages]
        mean = sum(medians) / len(medians)
        base = [statistics.median(times["today (English rules)"][c]) for c in languages]
        ratio = mean / (sum(base) / len(base))
        print(
            f"{name:24}"
            + "".join(f"{m * 1e6:8.1f}" for m in medians)
            + f"{mean * 1e6:8.1f} ({ratio:.2f}x today)"
        )


if __name__ == "__main__":
    main()
