"""A recorded run (with its child runs) as one document: JSON data or Markdown (`ponder show`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ponder.traces.events import EventRecord
from ponder.traces.kinds import child_run_role, kind_spec, label_data_kinds
from ponder.traces.store import TraceStore


def export_run(store: TraceStore, run_id: str, *, children: bool = True) -> dict[str, Any]:
    """The whole run as plain data: run row, events (with data), llm calls, tool calls, child runs."""
    run = store.get_run(run_id)
    out: dict[str, Any] = run.model_dump(mode="json")
    out["events"] = [e.model_dump(mode="json") for e in store.iter_events(run.id)]
    out["llm_calls"] = [c.model_dump(mode="json") for c in store.llm_calls(run.id)]
    out["tool_calls"] = [t.model_dump(mode="json") for t in store.tool_calls(run.id)]
    if children:
        out["children"] = [export_run(store, c.id) for c in store.child_runs(run.id)]
    return out


def event_markdown(e: EventRecord) -> str:
    """One event as a Markdown list item (without indent): seq, kind, score, status, then label and summary.

    How label and summary join, whether the score shows and the extra text from the data
    come from the kind's declaration (`ponder.traces.kinds`), as in the TUI.
    """
    spec = kind_spec(e.kind)
    score = f" [{e.score:g}]" if e.score is not None and spec.shows_score else ""
    status = f" ({e.status})" if e.status != "ok" else ""
    label, summary = e.label.strip(), e.summary.strip()
    if not summary or summary == label:
        body = label
    elif not label or (spec.body == "colon" and label == e.kind):
        body = summary
    else:
        body = label + {"colon": ": ", "dot": " · ", "arrow": " → "}[spec.body] + summary
    extra = spec.detail(e.data)
    return f"- {e.seq}. **{e.kind}**{score}{status} {body}" + (f" — {extra}" if extra else "")


class _Level:
    """One level of the tree walk: a parent's children, one page at a time."""

    def __init__(self, parent: int | None, indent: int) -> None:
        self.parent, self.indent = parent, indent
        self.page: list[EventRecord] = []
        self.pos = 0
        self.after = 0
        self.done = False


def _tree_lines(store: TraceStore, run_id: str, page: int = 500) -> Iterator[str]:
    """The run's events as a Markdown list nested by parent (not by depth in event order).

    Depth first, one page of siblings per level: memory grows with the tree's depth, not its size.
    """
    need = label_data_kinds()
    stack = [_Level(None, 0)]
    while stack:
        level = stack[-1]
        if level.pos >= len(level.page):
            if level.done:
                stack.pop()
                continue
            level.page = store.children(run_id, level.parent, after_seq=level.after, limit=page)
            level.pos = 0
            level.done = len(level.page) < page
            continue
        e = level.page[level.pos]
        level.pos += 1
        level.after = e.seq
        if e.kind in need and e.data is None:
            e = store.event(run_id, e.seq)
        yield "  " * level.indent + event_markdown(e)
        if e.n_children:
            stack.append(_Level(e.seq, level.indent + 1))


def _window_lines(store: TraceStore, run_id: str, after_seq: int, limit: int | None) -> Iterator[str]:
    """Events `after_seq`+1 … in seq order (at most `limit`), indented by depth."""
    need = label_data_kinds()
    for e in store.iter_events(run_id, after_seq=after_seq, limit=limit, with_data=False):
        if e.kind in need:
            e = store.event(run_id, e.seq)
        yield "  " * e.depth + event_markdown(e)


def iter_markdown(
    store: TraceStore,
    run_id: str,
    *,
    level: int = 1,
    role: str = "Run",
    after_seq: int = 0,
    limit: int | None = None,
) -> Iterator[str]:
    """A readable Markdown report of the run, line by line: header, totals, the event tree, then child runs.

    after_seq/limit: only the run's own events after that seq (at most `limit`), in seq order,
    without child runs. Memory stays constant in the run's length either way.
    """
    run = store.get_run(run_id)
    h = "#" * level
    yield from [
        f"{h} {role} {run.id} — {run.agent}",
        "",
        f"- status: {run.status}",
        f"- question: {run.question}",
        f"- answer: {run.answer if run.answer is not None else '(none)'}",
    ]
    if run.correct is not None:
        yield f"- correct: {run.correct}"
    yield f"- backend: {run.backend} · model: {run.model}"
    yield (
        f"- calls: {run.calls} · tokens: {run.prompt_tokens} prompt + {run.completion_tokens} completion"
        + (f" · cost: ${run.cost_usd:.6f}" if run.cost_usd is not None else "")
    )
    if run.wall_s is not None:
        yield f"- wall: {run.wall_s:.2f} s"
    if run.error:
        yield f"- error: {run.error}"
    yield from ["", f"{h}# Events", ""]
    if after_seq or limit is not None:
        yield from _window_lines(store, run.id, after_seq, limit)
        return
    yield from _tree_lines(store, run.id)
    for c in store.child_runs(run.id):
        yield ""
        yield from iter_markdown(store, c.id, level=level + 1, role=child_run_role(c.branch).capitalize())


def export_markdown(store: TraceStore, run_id: str, *, level: int = 1) -> str:
    """`iter_markdown` as one string."""
    return "\n".join(iter_markdown(store, run_id, level=level))


def iter_json(
    store: TraceStore, run_id: str, *, after_seq: int = 0, limit: int | None = None, children: bool = True
) -> Iterator[str]:
    """`export_run` as compact JSON text, in chunks, reading the run a page at a time (constant memory).

    after_seq/limit: only the run's own events after that seq (at most `limit`) and the llm and
    tool calls of those events; no child runs then.
    """
    run = store.get_run(run_id)
    head = json.dumps(run.model_dump(mode="json"), ensure_ascii=False)
    yield head[:-1] + ', "events": ['
    windowed = bool(after_seq) or limit is not None
    first = last = None
    for i, e in enumerate(store.iter_events(run.id, after_seq=after_seq, limit=limit)):
        first = e.seq if first is None else first
        last = e.seq
        yield ("" if i == 0 else ", ") + json.dumps(e.model_dump(mode="json"), ensure_ascii=False)
    seqs = None if not windowed else ((first, last) if first is not None and last is not None else (1, 0))
    yield '], "llm_calls": ['
    for i, c in enumerate(store.iter_llm_calls(run.id, seqs=seqs)):
        yield ("" if i == 0 else ", ") + json.dumps(c.model_dump(mode="json"), ensure_ascii=False)
    yield '], "tool_calls": ['
    for i, t in enumerate(store.iter_tool_calls(run.id, seqs=seqs)):
        yield ("" if i == 0 else ", ") + json.dumps(t.model_dump(mode="json"), ensure_ascii=False)
    yield "]"
    if children and not windowed:
        yield ', "children": ['
        for i, child in enumerate(store.child_runs(run.id)):
            if i:
                yield ", "
            yield from iter_json(store, child.id)
        yield "]"
    yield "}"
