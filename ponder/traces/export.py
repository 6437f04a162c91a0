"""Export a recorded run (with its child runs) as JSON data or Markdown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ponder.traces.events import EventRecord
from ponder.traces.kinds import child_run_role, kind_spec, label_data_kinds, load_agent_kinds
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


def _fence(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


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


def _tree_lines(store: TraceStore, run_id: str, page: int = 500) -> Iterator[str]:
    """The run's events as a Markdown list nested by parent (not by depth in event order).

    Depth first, one page of siblings at a time: memory grows with the tree's depth, not its size.
    """
    need = label_data_kinds()
    stack: list[tuple[int | None, int, int]] = [(None, 0, 0)]  # (parent seq, after seq, indent)
    while stack:
        parent, after, indent = stack.pop()
        events = store.children(run_id, parent, after_seq=after, limit=page)
        for i, e in enumerate(events):
            if e.kind in need and e.data is None:
                e = store.event(run_id, e.seq)
            yield "  " * indent + event_markdown(e)
            if e.n_children:
                stack.append((parent, e.seq, indent))  # the rest of this level, after the subtree
                stack.append((e.seq, 0, indent + 1))
                break
            if i == len(events) - 1 and len(events) == page:
                stack.append((parent, e.seq, indent))


def iter_markdown(store: TraceStore, run_id: str, *, level: int = 1, role: str = "Run") -> Iterator[str]:
    """A readable Markdown report of the run, line by line: header, totals, the event tree, then child runs."""
    run = store.get_run(run_id)
    load_agent_kinds([run.agent])
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
    yield from _tree_lines(store, run.id)
    for c in store.child_runs(run.id):
        yield ""
        yield from iter_markdown(store, c.id, level=level + 1, role=child_run_role(c.branch).capitalize())


def export_markdown(store: TraceStore, run_id: str, *, level: int = 1) -> str:
    """`iter_markdown` as one string."""
    return "\n".join(iter_markdown(store, run_id, level=level))


def export_json_text(store: TraceStore, run_id: str) -> str:
    return json.dumps(export_run(store, run_id), indent=2, ensure_ascii=False)
