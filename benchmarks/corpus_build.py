"""`ponder corpus build` speed: prints JSON (pages/s, peak RSS), and a resumed build's.

Writes a JSONL of `--pages` encyclopedia-like pages (~1.7 KB of prose each, as the issue-22
probe's 200 MB / 118k-page file), builds a corpus from it in a fresh process, then builds again
from a copy of the file cut off in the middle and finished (the resume), and reports pages/s.
Target (issue 22): >= 2,000 pages/s.

Run: python benchmarks/corpus_build.py [--pages 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from show_stream import CHILD

WORDS = [f"{a}{b}" for a in ("al", "be", "co", "de", "el", "fa", "go", "ha", "in", "jo") for b in (
    "ta", "ron", "mik", "sel", "dun", "vor", "pal", "ken", "rin", "sto", "lumen", "grad", "fos", "tri")]  # fmt: skip


def write_pages(path: Path, pages: int) -> int:
    """A JSONL of `pages` pages of made-up prose; its size in bytes."""
    rng = random.Random(0)
    with path.open("w") as f:
        for i in range(pages):
            sentences = []
            for _ in range(18):
                words = rng.choices(WORDS, k=rng.randint(8, 16))
                sentences.append(" ".join(words).capitalize() + ".")
            f.write(json.dumps({"title": f"Topic {i} {rng.choice(WORDS)}", "text": " ".join(sentences)}) + "\n")
    return path.stat().st_size


def build(src: Path, db: Path, report: Path) -> dict[str, float | None]:
    code = CHILD.replace("REPORT", repr(str(report)))
    done = subprocess.run(
        [sys.executable, "-c", code, "-", "corpus", "build", str(src), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    took, rss = report.read_text().split()
    out = json.loads(done.stdout)
    return {"seconds": float(took), "peak_rss_mb": round(float(rss), 1), "resumed_at_line": out["resumed_at_line"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pages", type=int, default=50_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "pages.jsonl"
        size = write_pages(src, args.pages)
        whole = build(src, Path(d) / "whole.db", Path(d) / "r")
        # a build killed half way (SIGKILL after the batch that passes half the pages), then run again
        resumed_db = Path(d) / "resumed.db"
        killer = (
            "import os\nfrom ponder.tools.search import build_corpus\n"
            f"def stop(done, total, pages):\n    if pages >= {args.pages // 2}: os.kill(os.getpid(), 9)\n"
            f"build_corpus({str(src)!r}, {str(resumed_db)!r}, progress=stop)\n"
        )
        subprocess.run([sys.executable, "-c", killer])
        rest = build(src, resumed_db, Path(d) / "r")
    result = {
        "pages": args.pages,
        "file_mb": round(size / 1e6, 1),
        "seconds": round(whole["seconds"], 2),
        "pages_per_s": round(args.pages / whole["seconds"]),
        "peak_rss_mb": whole["peak_rss_mb"],
        "resumed": {"seconds": round(rest["seconds"], 2), "resumed_at_line": rest["resumed_at_line"]},
        "targets": {"pages_per_s": ">= 2000"},
        "meets_target": args.pages / whole["seconds"] >= 2000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
