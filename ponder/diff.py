"""Compare two runs: events aligned by branch path and position within the branch, then totals.

Concurrent branches interleave differently from one execution to the next, so raw `seq`
numbers say little; the branch path an event was written from (its own, or a child run's)
and its position in that branch are what two runs of the same strategy share. What a provider
assigns is no difference either: a native tool call's id (fresh on every call) is left out of
the compared event data, and a request is compared by its key with those ids renamed in order.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ponder.errors import ConfigError
from ponder.replay import EventView, canonical_events
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore
from ponder.types import request_identity

ALIGNED = ("kind", "label", "status", "summary", "score", "data")
# the steps of a run that a reader counts: tree nodes, agent steps, sampled paths, trials, actions
STRUCTURE = frozenset({"node", "step", "path", "trial", "action", "plan", "outline"})

Lane = tuple[str, str]  # (child run branch, event branch)


@dataclass
class Side:
    """One run's totals as the summary shows them."""

    run_id: str
    agent: str
    status: str
    answer: str | None
    correct: bool | None
    calls: int
    tokens: int
    cost_usd: float | None
    wall_s: float | None
    forked_from: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return dict(self.__dict__)


@dataclass
class RunDiff:
    """Where two runs first differ (aligned by branch and position), and how their totals compare."""

    a: Side
    b: Side
    events_a: int
    events_b: int
    first: tuple[str, int, EventView | None, EventView | None] | None = None
    field: str | None = None
    only_a: list[str] = dataclasses.field(default_factory=list)
    only_b: list[str] = dataclasses.field(default_factory=list)

    @property
    def identical(self) -> bool:
        """No event differs, and neither do answer, correctness or status."""
        same_outcome = (self.a.answer, self.a.correct, self.a.status) == (self.b.answer, self.b.correct, self.b.status)
        return self.first is None and same_outcome

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        first = None
        if self.first is not None:
            lane, pos, x, y = self.first
            first = {
                "branch": lane,
                "position": pos,
                "field": self.field,
                "a": None if x is None else x.to_dict(),
                "b": None if y is None else y.to_dict(),
            }
        return {
            "identical": self.identical,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "events": {"a": self.events_a, "b": self.events_b},
            "first_divergence": first,
            "only_a": self.only_a,
            "only_b": self.only_b,
        }

    def render(self) -> str:
        """The first divergence with both sides, then the summary, as plain text lines."""
        lines = [f"A {self.a.run_id} ({self.a.agent})  vs  B {self.b.run_id} ({self.b.agent})"]
        if self.first is None:
            lines.append("events: identical" if self.events_a == self.events_b else "events: aligned, none differ")
        else:
            lane, pos, x, y = self.first
            where = f"branch {lane!r}" if lane else "the top level"
            what = f" ({self.field} differs)" if self.field else ""
            lines.append(f"first divergence: {where}, step {pos}{what}")
            lines.append(f"  A: {'(nothing)' if x is None else f'#{x.seq} {x.describe()}'}")
            lines.append(f"  B: {'(nothing)' if y is None else f'#{y.seq} {y.describe()}'}")

        def row(name: str, x: Any, y: Any) -> str:
            mark = "" if x == y else "   *"
            return f"  {name:<8} {x!s:<24} {y!s}{mark}"

        lines.append("summary:   A                        B")
        a, b = self.a, self.b
        lines.append(row("answer", a.answer, b.answer))
        lines.append(row("correct", a.correct, b.correct))
        lines.append(row("status", a.status, b.status))
        lines.append(row("calls", a.calls, b.calls))
        lines.append(row("tokens", a.tokens, b.tokens))
        lines.append(row("cost", _money(a.cost_usd), _money(b.cost_usd)))
        lines.append(row("wall", _secs(a.wall_s), _secs(b.wall_s)))
        lines.append(row("events", self.events_a, self.events_b))
        for name, only in (("A", self.only_a), ("B", self.only_b)):
            if only:
                shown = "; ".join(only[:8]) + (f"; … {len(only) - 8} more" if len(only) > 8 else "")
                lines.append(f"only in {name}: {shown}")
        return "\n".join(lines)


def _money(v: float | None) -> str:
    return "–" if v is None else f"${v:.6f}"


def _secs(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def _side(store: TraceStore, run: RunRecord) -> Side:
    runs = [store.get_run(i) for i in store.descendant_run_ids(run.id)]
    costs = [r.cost_usd for r in runs if r.calls]
    return Side(
        run_id=run.id,
        agent=run.agent,
        status=run.status,
        answer=run.answer,
        correct=run.correct,
        calls=sum(r.calls for r in runs),
        tokens=sum(r.prompt_tokens + r.completion_tokens for r in runs),
        cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        wall_s=run.wall_s,
        forked_from=run.forked_from,
    )


def _provider_free(store: TraceStore, run_id: str, events: list[EventView]) -> list[EventView]:
    """`events` with each llm call's request key replaced by its `request_identity`."""
    identity = {c.event_seq: request_identity(c.request) for c in store.llm_calls([run_id])}
    out = []
    for e in events:
        if e.kind == "llm_call" and e.data is not None and e.seq in identity:
            data = json.loads(e.data)
            if "request_key" in data:
                data["request_key"] = identity[e.seq]
                e = dataclasses.replace(e, data=json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))
        out.append(e)
    return out


def lanes(store: TraceStore, run: RunRecord) -> dict[Lane, list[EventView]]:
    """A run's events (its child runs' too) by lane — (child run branch, event branch) — in seq order."""
    out: dict[Lane, list[EventView]] = {}
    for rid in store.descendant_run_ids(run.id):
        child = store.get_run(rid)
        prefix = "" if rid == run.id else child.branch
        for e in _provider_free(store, rid, canonical_events(store, rid)):
            out.setdefault((prefix, e.branch), []).append(e)
    return out


def _key(e: EventView) -> tuple[Any, ...]:
    return tuple(getattr(e, f) for f in ALIGNED)


def _lane_name(lane: Lane) -> str:
    run, branch = lane
    return "/".join(p for p in (run, branch) if p)


def diff_runs(store_a: TraceStore, run_a: str, store_b: TraceStore, run_b: str) -> RunDiff:
    """Align runs `run_a` and `run_b` by branch and position; the first divergence and the totals.

    A `ConfigError` when both name the same run (there is nothing to compare).
    """
    ra, rb = store_a.get_run(run_a), store_b.get_run(run_b)
    if ra.id == rb.id and store_a.path == store_b.path:
        raise ConfigError(f"both sides are run {ra.id}; give two different runs to compare")
    la, lb = lanes(store_a, ra), lanes(store_b, rb)
    result = RunDiff(
        a=_side(store_a, ra),
        b=_side(store_b, rb),
        events_a=sum(len(v) for v in la.values()),
        events_b=sum(len(v) for v in lb.values()),
    )
    for lane in sorted(set(la) | set(lb)):
        xs, ys = la.get(lane, []), lb.get(lane, [])
        for pos in range(max(len(xs), len(ys))):
            x = xs[pos] if pos < len(xs) else None
            y = ys[pos] if pos < len(ys) else None
            if x is not None and y is not None and _key(x) == _key(y):
                continue
            if result.first is None:
                result.first = (_lane_name(lane), pos + 1, x, y)
                if x is not None and y is not None:
                    result.field = next(f for f in ALIGNED if getattr(x, f) != getattr(y, f))
            break

    def structure(ls: dict[Lane, list[EventView]]) -> list[tuple[str, str, str]]:
        return [(_lane_name(k), e.kind, e.label) for k, es in ls.items() for e in es if e.kind in STRUCTURE]

    sa, sb = structure(la), structure(lb)
    result.only_a = [f"{k} {lbl}" + (f" [{lane}]" if lane else "") for lane, k, lbl in _minus(sa, sb)]
    result.only_b = [f"{k} {lbl}" + (f" [{lane}]" if lane else "") for lane, k, lbl in _minus(sb, sa)]
    return result


def _minus(xs: list[tuple[str, str, str]], ys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    left: dict[tuple[str, str, str], int] = {}
    for y in ys:
        left[y] = left.get(y, 0) + 1
    out = []
    for x in xs:
        if left.get(x, 0):
            left[x] -= 1
        else:
            out.append(x)
    return out
