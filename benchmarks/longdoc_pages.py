"""Long-document summarisation at 25 and 100 pages: time and memory of `slmbench longdoc summarize`.

Builds a real .docx of N pages (python-docx, a page break every 500 words of seeded
pseudo-essay text with section headings), runs `slmbench longdoc summarize` on it against
the embedded model (or --model NAME=URL), and samples the resident memory of the slmbench
process and of its llama-server every 0.2 s. Bounded memory means the client's peak barely
moves from 25 to 100 pages: only one chunk per request and the partial summaries are held.

    python benchmarks/longdoc_pages.py [--pages 25,100] [--model NAME=URL]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docx
from docx.enum.text import WD_BREAK

from slmbench.tasks.haystack import essay_words, join_words

WORDS_PER_PAGE = 500


def write_docx(path: Path, pages: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    document = docx.Document()
    words = 0
    for page in range(pages):
        document.add_heading(f"Section {page + 1}", level=2)
        text = join_words(essay_words(rng, WORDS_PER_PAGE))
        for paragraph in text.split("\n\n"):
            document.add_paragraph(paragraph)
            words += len(paragraph.split())
        document.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    document.save(str(path))
    return words


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def summarise(path: Path, model: str | None) -> dict[str, float | str]:
    argv = [str(Path(sys.executable).parent / "slmbench"), "longdoc", "summarize", str(path), "-q"]
    argv += ["--model", model] if model else []
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = server = 0
    while proc.poll() is None:
        client = max(client, rss_kib(proc.pid))
        server = max(server, sum(rss_kib(c) for c in children(proc.pid)))
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"slmbench longdoc summarize failed ({proc.returncode}): {err.strip()[-500:]}")
    return {"seconds": time.perf_counter() - start, "client_mib": client / 1024, "server_mib": server / 1024,
            "stats": err.strip().splitlines()[-1], "summary": out.strip()[:200]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", default="25,100")
    parser.add_argument("--model", help="NAME=URL of a running endpoint (default: the embedded model)")
    args = parser.parse_args()
    pages = [int(p) for p in args.pages.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in pages:
            path = Path(tmp) / f"report-{n}-pages.docx"
            words = write_docx(path, n)
            results[n] = summarise(path, args.model)
            r = results[n]
            print(f"{n} pages ({words:,} words, {path.stat().st_size / 1024:.0f} KiB .docx): {r['seconds']:.0f} s, "
                  f"client peak RSS {r['client_mib']:.0f} MiB, llama-server peak RSS {r['server_mib']:.0f} MiB")  # fmt: skip
            print(f"  {r['stats']}")
            print(f"  summary begins: {r['summary']!r}")
    if len(pages) > 1:
        a, b = results[pages[0]], results[pages[-1]]
        print(f"{pages[-1]} / {pages[0]} pages: time x{b['seconds'] / a['seconds']:.2f}, "
              f"client memory x{b['client_mib'] / a['client_mib']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
