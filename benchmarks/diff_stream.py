"""`ponder diff` of a long run streams: prints JSON (time and peak RSS).

Builds a ReAct-shaped run of `--events` events (as `show_stream.py` does), a run ten times
smaller, and a second long run with the same steps; then runs `ponder diff` in a fresh process
for long vs small (they part at once; the one-sided steps are counted to the end) and long vs
long (every step compared: the worst case). Targets (issue 22): <= 150 MB peak RSS and under a
minute for 1M events.

Run: python benchmarks/diff_stream.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from show_stream import CHILD, build


def diff(db: Path, a: str, b: str, report: Path) -> dict[str, object]:
    """`ponder diff A B --json` in a fresh process: seconds, peak RSS (MB), what it found."""
    code = CHILD.replace("REPORT", repr(str(report)))
    args = [sys.executable, "-c", code, "-", "diff", a, b, "--db", str(db), "--json"]
    done = subprocess.run(args, capture_output=True, text=True)
    took, rss = report.read_text().split()
    found = json.loads(done.stdout) if done.stdout.strip() else {}
    first = found.get("first_divergence") or {}
    return {
        "seconds": round(float(took), 2),
        "peak_rss_mb": round(float(rss), 1),
        "identical": found.get("identical"),
        "events": found.get("events"),
        "first_divergence_position": first.get("position"),
        "only_a_count": found.get("only_a_count"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "diff.db"
        t0 = time.perf_counter()
        build(db, "large", args.events)
        build(db, "large_again", args.events)
        build(db, "small", args.events // 10)
        result: dict[str, object] = {"events": args.events, "build_s": round(time.perf_counter() - t0, 1)}
        result["large_vs_small"] = diff(db, "large", "small", Path(d) / "r")
        result["large_vs_large"] = diff(db, "large", "large_again", Path(d) / "r")
    result["targets"] = {"peak_rss_mb": "<= 150", "seconds": "< 60"}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
