"""`ponder show` of a long run streams in constant memory: prints JSON (time and peak RSS per format).

Builds a ReAct-shaped run of `--events` events (every fourth an llm_call with its llm_calls
row) and a run ten times smaller, then runs `ponder show` in a fresh process for each run and
format (Markdown and JSON, output to /dev/null) and reports seconds and peak RSS. Constant
memory shows as `rss_ratio` (large run / small run) near 1.

Run: python benchmarks/show_stream.py [--events 200000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
sys.argv = ["ponder", *sys.argv[2:]]
from ponder.cli import app
t0 = time.perf_counter()
try:
    app(standalone_mode=False)
finally:
    sys.stdout.flush()
    took = time.perf_counter() - t0
    # this process's own peak (VmHWM): Linux's ru_maxrss carries over the parent's peak across
    # fork and exec, so a child of a parent that built a big run would report the parent's size
    try:
        hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
        rss = int(hwm[0].split()[1]) / 1024
    except (OSError, IndexError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(REPORT, "w") as f:
        f.write(f"{took} {rss}")
"""


def build(path: Path, run_id: str, events: int) -> None:
    from ponder.traces.recorder import Recorder
    from ponder.traces.store import TraceStore

    with TraceStore(path, flush_interval=0.5) as store:
        rec = Recorder.start(store, agent="react", task={"input": "a long ReAct run"}, run_id=run_id)
        for i in range(events // 4):
            call = rec.event("llm_call", f"step {i + 1}", f"Thought: step {i}. Action: Search[item {i}]")
            rec.llm_call(
                event_seq=call,
                request_key=f"k{i}",
                branch="",
                sample_index=0,
                request={"messages": [{"role": "user", "content": f"step {i} " + "context " * 40}]},
                response={"choices": [{"text": f"Thought: step {i}. Action: Search[item {i}]"}]},
                prompt_tokens=50,
                completion_tokens=12,
                latency_ms=1.0,
                origin="live",
            )
            rec.event("thought", "thought", f"I should look up item {i}.", parent=call)
            rec.event(
                "action",
                f"Search[item {i}]",
                f"Search[item {i}]",
                parent=call,
                data={"tool": "search", "input": f"item {i}"},
            )
            rec.event("observation", "observation", f"Item {i} is a thing. " * 5, parent=call)
        rec.finish(status="ok", answer="done")


def measure(db: Path, run_id: str, fmt: str, report: Path) -> tuple[float, float]:
    code = CHILD.replace("REPORT", repr(str(report)))
    with open("/dev/null", "w") as sink:
        subprocess.run(
            [sys.executable, "-c", code, "-", "show", run_id, "--db", str(db), "--format", fmt],
            stdout=sink,
            check=True,
        )
    took, rss = report.read_text().split()
    return float(took), float(rss)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=200_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "show.db"
        t0 = time.perf_counter()
        build(db, "large", args.events)
        build(db, "small", args.events // 10)
        built = time.perf_counter() - t0
        result: dict[str, object] = {"events": args.events, "build_s": round(built, 1)}
        for fmt in ("md", "json"):
            _, s_rss = measure(db, "small", fmt, Path(d) / "r")
            l_took, l_rss = measure(db, "large", fmt, Path(d) / "r")
            result[fmt] = {
                "seconds": round(l_took, 2),
                "peak_rss_mb": round(l_rss, 1),
                "small_run_peak_rss_mb": round(s_rss, 1),
                "rss_ratio": round(l_rss / s_rss, 2),
                "events_per_s": round(args.events / l_took),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
