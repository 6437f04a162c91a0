"""`ponder diff` streams both runs: it agrees with the all-in-memory alignment on recorded runs, and
lists a bounded number of one-sided steps with their count.

`benchmarks/diff_stream.py` measures a 1M-event run against a small one (memory and time).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ponder.replay.diff import ALIGNED, ONLY_LISTED, STRUCTURE, diff_runs, lanes
from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore

RECORDINGS = Path(__file__).parents[1] / "recordings"


def _aligned(e: Any) -> tuple[Any, ...]:
    return tuple(getattr(e, f) for f in ALIGNED)


def in_memory_diff(sa: TraceStore, a: str, sb: TraceStore, b: str) -> dict[str, Any]:
    """What `diff_runs` computed before it streamed: every lane in memory (the oracle)."""
    la, lb = lanes(sa, sa.get_run(a)), lanes(sb, sb.get_run(b))
    first = None
    for lane in sorted(set(la) | set(lb)):
        xs, ys = la.get(lane, []), lb.get(lane, [])
        for pos in range(max(len(xs), len(ys))):
            x = xs[pos] if pos < len(xs) else None
            y = ys[pos] if pos < len(ys) else None
            if x is not None and y is not None and _aligned(x) == _aligned(y):
                continue
            if first is None:
                first = ("/".join(p for p in lane if p), pos + 1, x, y)
            break

    def structure(ls: dict[Any, list[Any]]) -> list[tuple[str, str, str]]:
        return sorted(("/".join(p for p in k if p), e.kind, e.label) for k, es in ls.items() for e in es
                      if e.kind in STRUCTURE)  # fmt: skip

    sa_, sb_ = structure(la), structure(lb)
    only_a = list(sa_)
    for k in sb_:
        if k in only_a:
            only_a.remove(k)
    only_b = list(sb_)
    for k in sa_:
        if k in only_b:
            only_b.remove(k)
    return {
        "first": first,
        "events": (sum(map(len, la.values())), sum(map(len, lb.values()))),
        "only": (sorted(only_a), sorted(only_b)),
    }


def _copy(tmp_path: Path, name: str) -> TraceStore:
    shutil.copyfile(RECORDINGS / f"{name}.db", tmp_path / f"{name}.db")
    return TraceStore(tmp_path / f"{name}.db", readonly=True)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("tot_game24", "tot_game24_faithful"),
        ("tot_game24", "tot_game24_checked"),
        ("sc_k3_paths", "sc_k3_n"),
        ("reflexion_household", "lats_household"),  # child runs on one side
        ("react_search", "react_calculator"),
        ("got_sorting32", "mcts_game24"),
    ],
)
def test_the_streamed_diff_agrees_with_the_in_memory_alignment(tmp_path: Path, left: str, right: str) -> None:
    sa, sb = _copy(tmp_path, left), _copy(tmp_path, right)
    (ra,), (rb,) = sa.list_runs(), sb.list_runs()
    for (s1, r1), (s2, r2) in [((sa, ra.id), (sb, rb.id)), ((sb, rb.id), (sa, ra.id))]:
        d = diff_runs(s1, r1, s2, r2)
        want = in_memory_diff(s1, r1, s2, r2)
        assert (d.events_a, d.events_b) == want["events"]
        if want["first"] is None:
            assert d.first is None
        else:
            assert d.first is not None
            lane, pos, x, y = want["first"]
            got_lane, got_pos, gx, gy = d.first
            assert (got_lane, got_pos) == (lane, pos)
            assert gx == x and gy == y  # the same views: positions and parents in canonical order too
        formatted = lambda only: sorted(  # noqa: E731
            f"{k} {lbl}" + (f" [{ln}]" if ln else "") for ln, k, lbl in only
        )
        assert sorted(d.only_a) == formatted(want["only"][0]) and d.only_a_count == len(want["only"][0])
        assert sorted(d.only_b) == formatted(want["only"][1]) and d.only_b_count == len(want["only"][1])


def test_one_sided_steps_are_listed_up_to_a_bound_and_counted(tmp_path: Path) -> None:
    with TraceStore(tmp_path / "t.db") as store:
        long = Recorder.start(store, agent="react", task={"input": "q"}, run_id="long")
        for i in range(ONLY_LISTED + 300):
            long.event("action", f"Search[item {i}]", f"Search[item {i}]")
        long.finish(status="ok", answer="a")
        short = Recorder.start(store, agent="react", task={"input": "q"}, run_id="short")
        short.event("action", "Search[item 0]", "Search[item 0]")
        short.finish(status="ok", answer="a")
        d = diff_runs(store, "long", store, "short")
    assert d.only_a_count == ONLY_LISTED + 299 and len(d.only_a) == ONLY_LISTED
    assert d.only_b == [] and d.only_b_count == 0
    assert d.events_a == ONLY_LISTED + 300 and d.first is not None and d.first[1] == 2
    assert f"… {ONLY_LISTED + 299 - 8} more" in d.render()
    assert d.to_dict()["only_a_count"] == ONLY_LISTED + 299
