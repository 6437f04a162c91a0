"""Compare two runs: events aligned by branch path and position within the branch, then totals.

Concurrent branches interleave differently from one execution to the next, so raw `seq`
numbers say little; the branch path an event was written from (its own, or a child run's)
and its position in that branch are what two runs of the same strategy share. What a provider
assigns is no difference either: a native tool call's id (fresh on every call) is left out of
the compared event data, and a request is compared by its key with those ids renamed in order.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ponder.errors import ConfigError
from ponder.replay.compare import EventView, canonical_events, stable_data
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore
from ponder.types import request_identity

ALIGNED = ("kind", "label", "status", "summary", "score", "data")
# the steps of a run that a reader counts: tree nodes, agent steps, sampled paths, trials, actions
STRUCTURE = frozenset({"node", "step", "path", "trial", "action", "plan", "outline"})
ONLY_LISTED = 200  # structure steps listed per side (`only_a_count` says how many there are)

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
    only_a_count: int = 0  # how many structure steps only A has (`only_a` lists the first ones)
    only_b_count: int = 0

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
            "only_a_count": self.only_a_count,
            "only_b_count": self.only_b_count,
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
        for name, only, count in (("A", self.only_a, self.only_a_count), ("B", self.only_b, self.only_b_count)):
            if count:
                shown = "; ".join(only[:8]) + (f"; … {count - 8} more" if count > 8 else "")
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
    """A run's events (its child runs' too) by lane — (child run branch, event branch) — in seq order.

    All in memory, for a view of small runs; `aligned` streams any run.
    """
    out: dict[Lane, list[EventView]] = {}
    for rid in store.descendant_run_ids(run.id):
        child = store.get_run(rid)
        prefix = "" if rid == run.id else child.branch
        for e in _provider_free(store, rid, canonical_events(store, rid)):
            out.setdefault((prefix, e.branch), []).append(e)
    return out


def _groups(store: TraceStore, run: RunRecord) -> list[tuple[str, list[str]]]:
    """A run's runs by lane prefix (its own: "", a child run's: its branch), prefixes in order."""
    groups: dict[str, list[str]] = {}
    for rid in store.descendant_run_ids(run.id):
        prefix = "" if rid == run.id else store.get_run(rid).branch
        groups.setdefault(prefix, []).append(rid)
    return sorted(groups.items())


class Step(NamedTuple):
    """One event as a diff reads it (a plain tuple: a long run is read without a model per row)."""

    run_id: str
    seq: int
    parent_seq: int | None
    branch: str
    kind: str
    label: str
    summary: str
    status: str
    score: float | None
    data_json: str | None

    @property
    def data(self) -> dict[str, Any] | None:
        """The event's data, decoded."""
        return json.loads(self.data_json) if self.data_json else None


def iter_lanes(store: TraceStore, run: RunRecord) -> Iterator[tuple[Lane, Iterator[Step]]]:
    """A run's lanes in order, each with its events in order, read as a stream (flat memory).

    Each lane's events must be read before the next lane is asked for.
    """
    for prefix, rids in _groups(store, run):
        steps = map(Step._make, store.iter_lane_rows(rids))
        for branch, events in itertools.groupby(steps, key=lambda e: e.branch):
            yield (prefix, branch), events


def aligned(
    store_a: TraceStore, run_a: RunRecord, store_b: TraceStore, run_b: RunRecord
) -> Iterator[tuple[Lane, int, Step | None, Step | None]]:
    """Every aligned step of two runs: (lane, position in it from 1, A's event, B's event), lanes in order."""
    ia, ib = iter_lanes(store_a, run_a), iter_lanes(store_b, run_b)
    a, b = next(ia, None), next(ib, None)
    while a is not None or b is not None:
        lane = min(x[0] for x in (a, b) if x is not None)
        xs: Iterator[Step] = a[1] if a is not None and a[0] == lane else iter(())
        ys: Iterator[Step] = b[1] if b is not None and b[0] == lane else iter(())
        for pos, (x, y) in enumerate(itertools.zip_longest(xs, ys), 1):
            yield lane, pos, x, y
        if a is not None and a[0] == lane:
            a = next(ia, None)
        if b is not None and b[0] == lane:
            b = next(ib, None)


class StepCompare:
    """Compares aligned `Step`s of a run in `store_a` with one in `store_b` as `ALIGNED` says: volatile
    data left out, and a request key taken as its `request_identity` (provider ids renamed).

    A run's request identities are worked out only if two request keys differ (then once per run).
    """

    def __init__(self, store_a: TraceStore, store_b: TraceStore) -> None:
        self.stores = (store_a, store_b)
        self._identities: dict[tuple[int, str], dict[int, str]] = {}

    def _identity(self, side: int, e: Step, key: Any) -> Any:
        store = self.stores[side]
        known = self._identities.get((side, e.run_id))
        if known is None:
            known = {
                c.event_seq: request_identity(c.request)
                for c in store.iter_llm_calls(e.run_id)
                if c.event_seq is not None
            }
            self._identities[(side, e.run_id)] = known
        return known.get(e.seq, key)

    def data(self, side: int, e: Step) -> str | None:
        """`e`'s data as compared (`stable_data`, the request key as its identity)."""
        data = e.data
        if e.kind == "llm_call" and data and "request_key" in data:
            data = {**data, "request_key": self._identity(side, e, data["request_key"])}
        return stable_data(data, e.kind)

    def key(self, side: int, e: Step) -> tuple[Any, ...]:
        """The `ALIGNED` fields of `e`, in that order."""
        return (e.kind, e.label, e.status, e.summary, e.score, self.data(side, e))

    def same(self, x: Step | None, y: Step | None) -> bool:
        """Whether two aligned events agree on every `ALIGNED` field."""
        if x is None or y is None or x[4:9] != y[4:9]:  # kind, label, summary, status, score
            return False
        if x.data_json == y.data_json:  # the same text: the same request key, the same everything
            return True
        dx, dy = x.data, y.data
        if x.kind == "llm_call" and dx and dy and "request_key" in dx and "request_key" in dy:
            rest = stable_data({**dx, "request_key": None}, x.kind) == stable_data({**dy, "request_key": None}, y.kind)
            if not rest or dx["request_key"] == dy["request_key"]:
                return rest
        return self.data(0, x) == self.data(1, y)

    def view(self, side: int, e: Step | None) -> EventView | None:
        """`e` as replay shows it: its position, and its parent's, in its run's canonical order."""
        if e is None:
            return None
        store = self.stores[side]
        parent = None if e.parent_seq is None else store.canonical_index(e.run_id, e.parent_seq) or -e.parent_seq
        return EventView(
            index=store.canonical_index(e.run_id, e.seq) or 0,
            seq=e.seq,
            branch=e.branch,
            kind=e.kind,
            label=e.label,
            summary=e.summary,
            status=e.status,
            score=e.score,
            parent=parent,
            data=self.data(side, e),
        )


def _lane_name(lane: Lane) -> str:
    run, branch = lane
    return "/".join(p for p in (run, branch) if p)


def diff_runs(store_a: TraceStore, run_a: str, store_b: TraceStore, run_b: str) -> RunDiff:
    """Align runs `run_a` and `run_b` by branch and position; the first divergence and the totals.

    Streams both runs (memory does not grow with them). A `ConfigError` when both name the same run.
    """
    ra, rb = store_a.get_run(run_a), store_b.get_run(run_b)
    if ra.id == rb.id and store_a.path == store_b.path:
        raise ConfigError(f"both sides are run {ra.id}; give two different runs to compare")
    ids_a, ids_b = store_a.descendant_run_ids(ra.id), store_b.descendant_run_ids(rb.id)
    result = RunDiff(
        a=_side(store_a, ra),
        b=_side(store_b, rb),
        events_a=store_a.count_rows("events", ids_a),
        events_b=store_b.count_rows("events", ids_b),
    )
    compare = StepCompare(store_a, store_b)
    for lane, pos, x, y in aligned(store_a, ra, store_b, rb):
        if not compare.same(x, y):
            result.first = (_lane_name(lane), pos, compare.view(0, x), compare.view(1, y))
            if x is not None and y is not None:
                kx, ky = compare.key(0, x), compare.key(1, y)
                result.field = next(f for f, u, v in zip(ALIGNED, kx, ky, strict=True) if u != v)
            break
    only = _only(_structure(store_a, ra), _structure(store_b, rb))
    result.only_a, result.only_a_count, result.only_b, result.only_b_count = only
    return result


def _structure(store: TraceStore, run: RunRecord) -> Iterator[tuple[Lane, str, str]]:
    """A run's structure steps as sorted (lane, kind, label) keys: a multiset read in order."""
    kinds = sorted(STRUCTURE)
    for prefix, rids in _groups(store, run):
        for branch, kind, label in store.iter_event_keys(rids, kinds):
            yield (prefix, branch), kind, label


def _only(
    xs: Iterator[tuple[Lane, str, str]], ys: Iterator[tuple[Lane, str, str]]
) -> tuple[list[str], int, list[str], int]:
    """What one sorted multiset has more of than the other, both ways: (the first `ONLY_LISTED`, how many)."""
    out: tuple[list[str], list[int], list[str], list[int]] = ([], [0], [], [0])
    ga, gb = itertools.groupby(xs), itertools.groupby(ys)
    a, b = next(ga, None), next(gb, None)
    while a is not None or b is not None:
        key = min(g[0] for g in (a, b) if g is not None)
        na = sum(1 for _ in a[1]) if a is not None and a[0] == key else 0
        nb = sum(1 for _ in b[1]) if b is not None and b[0] == key else 0
        if na != nb:
            listed, count = (out[0], out[1]) if na > nb else (out[2], out[3])
            lane, kind, label = key
            name = _lane_name(lane)
            for _ in range(abs(na - nb)):
                count[0] += 1
                if len(listed) < ONLY_LISTED:
                    listed.append(f"{kind} {label}" + (f" [{name}]" if name else ""))
        if a is not None and a[0] == key:
            a = next(ga, None)
        if b is not None and b[0] == key:
            b = next(gb, None)
    return out[0], out[1][0], out[2], out[3][0]
