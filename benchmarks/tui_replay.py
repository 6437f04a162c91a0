"""Replay of a 100,000-event run in the TUI: the timeline (read in a worker) and moves by level: prints JSON.

The fixture is `tui_open.py`'s (a ReAct-shaped run written through `Recorder`: 25,000 steps,
each an llm_call with thought / action / observation children). Figures:

- `timeline_s`, `timeline_us_per_event`: `load_timeline` (every event's start time, read a page
  at a time, the times alone) — what the run screen's worker does once per run, so that 1x plays
  as recorded. `timeline_vs_bare_scan`: that time over a read of the same pages' whole event rows
  (what it read before it read the start times alone; 1.0: no saving).
- in the app (headless, 160x48): `app_first_screen_s` and `app_timeline_ready_s` from opening
  the run; `app_ui_max_stall_ms`: the longest the UI loop went without a turn while the timeline
  loaded (it runs in a thread worker: the tree is drawn and the keys answer meanwhile).
- `level_jump_ms` (median, p95, max) over sampled events, forward and back: `next_on_level`, what
  `n`/`p` run per key; `level_jump_vs_timeline`: one jump as a fraction of the timeline load.
- `seq_at_us`: the per-tick lookup of the replay clock (a bisect over the timeline).
- `branch_jump_worst_ms`: `b` on a run with one branch, which scans its bound of 20 pages.

Run: python benchmarks/tui_replay.py [--events 100000] [--samples 200] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from tui_open import RUN_ID, build  # the same fixture as the open benchmark


def _ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median": round(statistics.median(ordered) * 1000, 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
    }


def measure_reads(path: Path, samples: int) -> dict[str, Any]:
    """The store reads the run screen's workers make, timed directly."""
    from ponder.tui._data import store_for
    from ponder.tui._timeline import _PAGE, load_timeline, next_branch, next_on_level

    store = store_for(str(path))
    events = store.get_run(RUN_ID).last_seq
    load_timeline(store, RUN_ID)  # warm the OS and SQLite caches alike for both reads
    t0 = time.perf_counter()
    timeline = load_timeline(store, RUN_ID)
    timeline_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    after, read = 0, 0
    while True:
        page = store.events(RUN_ID, after_seq=after, limit=_PAGE)
        read += len(page)
        if len(page) < _PAGE:
            break
        after = page[-1].seq
    bare_s = time.perf_counter() - t1
    assert read == len(timeline.at) == events, (read, len(timeline.at), events)

    rng = random.Random(0)
    seqs = [rng.randint(1, events) for _ in range(samples)]
    forward, back = [], []
    for seq in seqs:
        t = time.perf_counter()
        next_on_level(store, RUN_ID, seq, True)
        forward.append(time.perf_counter() - t)
        t = time.perf_counter()
        next_on_level(store, RUN_ID, seq, False)
        back.append(time.perf_counter() - t)
    clock = [rng.uniform(0, timeline.at[-1]) for _ in range(10_000)]
    t2 = time.perf_counter()
    for c in clock:
        timeline.seq_at(c)
    seq_at_s = (time.perf_counter() - t2) / len(clock)
    t3 = time.perf_counter()
    next_branch(store, RUN_ID, 1)
    branch_s = time.perf_counter() - t3
    jumps = forward + back
    return {
        "events": events,
        "timeline_s": round(timeline_s, 3),
        "timeline_us_per_event": round(timeline_s / events * 1e6, 2),
        "timeline_vs_bare_scan": round(timeline_s / bare_s, 2),
        "level_jump_forward_ms": _ms(forward),
        "level_jump_back_ms": _ms(back),
        "level_jump_vs_timeline": round(statistics.median(jumps) / timeline_s, 6),
        "seq_at_us": round(seq_at_s * 1e6, 3),
        "branch_jump_worst_ms": round(branch_s * 1000, 2),
    }


async def measure_app(path: Path) -> dict[str, Any]:
    """Open the run in the app (headless) and time the first screen and the timeline's arrival."""
    from ponder.tui.app import PonderApp
    from ponder.tui.screens.run import RunScreen
    from ponder.tui.widgets.event_tree import EventTree

    app = PonderApp(str(path), run_id=RUN_ID)
    t0 = time.perf_counter()
    first_screen: float | None = None
    stall = 0.0
    async with app.run_test(size=(160, 48)) as pilot:
        last = time.perf_counter()
        deadline = t0 + 120
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stall = max(stall, now - last - 0.005)
            last = now
            screen = app.screen
            if not isinstance(screen, RunScreen):
                continue
            if first_screen is None and screen.run is not None and screen.query_one(EventTree).root.children:
                await pilot.pause()  # the frame with the tree is drawn
                first_screen = time.perf_counter() - t0
                last = time.perf_counter()
            if screen.timeline is not None:
                break
        else:
            raise SystemExit("the timeline never arrived within 120 s")
        ready = time.perf_counter() - t0
    return {
        "app_first_screen_s": round(first_screen if first_screen is not None else ready, 3),
        "app_timeline_ready_s": round(ready, 3),
        "app_ui_max_stall_ms": round(stall * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=200, help="events to jump from, by level, each way")
    ap.add_argument("--db", help="reuse (or create) this fixture database")
    args = ap.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "tui_replay.db"
    build_s = None if path.exists() else build(path, args.events)
    result: dict[str, Any] = {"build_fixture_s": None if build_s is None else round(build_s, 1)}
    result.update(measure_reads(path, args.samples))
    result.update(asyncio.run(measure_app(path)))
    print(json.dumps(result))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
