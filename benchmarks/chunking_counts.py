"""What chunking a text with no sentence end costs in tokenizer calls (each one an HTTP request to
the server's /tokenize in real use).

A sentence longer than a chunk is cut at clauses, then between characters, each piece found by
galloping (1, 2, 4, ... parts, then a binary search), so every text sent for counting is at most
about twice a chunk. Prints calls and characters counted per character of the text, for Chinese
run-on text with commas only and with no punctuation at all, and a paragraph-per-page document.
A binary search over the whole sentence, as chunking did before, counted about 60 characters
per character of such text (62 and 67 on these 50,000-character inputs; now 9 and 14).

    python benchmarks/chunking_counts.py [--chars 50000] [--budget 512]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import zh_text  # noqa: E402  (the tests' seeded Chinese generator)

from slmbench import longdoc  # noqa: E402


class Counting:
    """One token per Han character, else per word or mark (a byte-level BPE on Chinese is close)."""

    source, exact = "counting", True

    def __init__(self) -> None:
        self.calls = self.chars = 0

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return len(re.findall(r"[\u3400-\u9fff]|\w+|[^\w\s]", text))

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return sum(self.count(m["content"]) + 3 for m in messages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=50_000)
    parser.add_argument("--budget", type=int, default=512)
    args = parser.parse_args()
    rng = random.Random(1)
    texts = {
        "commas only": zh_text.run_on(rng, args.chars),
        "no punctuation": zh_text.run_on(rng, args.chars, separator=""),
        "pages of sentences": zh_text.document(args.chars // zh_text.PAGE_CHARS, seed=1),
    }
    print(f"{'text':<20} {'chars':>7} {'chunks':>6} {'calls':>6} {'counted/char':>12} {'seconds':>7}")
    for name, text in texts.items():
        counter = Counting()
        started = time.perf_counter()
        chunks = longdoc.chunk_text(text, counter, args.budget)
        seconds = time.perf_counter() - started
        print(
            f"{name:<20} {len(text):>7} {len(chunks):>6} {counter.calls:>6} {counter.chars / len(text):>12.1f} {seconds:>7.2f}"
        )


if __name__ == "__main__":
    main()
