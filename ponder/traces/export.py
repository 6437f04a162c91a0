"""Export a recorded run (with its child runs) as JSON data or Markdown."""

from __future__ import annotations

import json
from typing import Any

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


def export_markdown(store: TraceStore, run_id: str, *, level: int = 1) -> str:
    """A readable Markdown report of the run: header, totals, then every event indented by depth."""
    run = store.get_run(run_id)
    h = "#" * level
    lines = [
        f"{h} Run {run.id} — {run.agent}",
        "",
        f"- status: {run.status}",
        f"- question: {run.question}",
        f"- answer: {run.answer if run.answer is not None else '(none)'}",
    ]
    if run.correct is not None:
        lines.append(f"- correct: {run.correct}")
    lines += [
        f"- backend: {run.backend} · model: {run.model}",
        f"- calls: {run.calls} · tokens: {run.prompt_tokens} prompt + {run.completion_tokens} completion"
        + (f" · cost: ${run.cost_usd:.6f}" if run.cost_usd is not None else ""),
    ]
    if run.wall_s is not None:
        lines.append(f"- wall: {run.wall_s:.2f} s")
    if run.error:
        lines.append(f"- error: {run.error}")
    lines += ["", f"{h}# Events", ""]
    for e in store.iter_events(run.id, with_data=False):
        score = f" [{e.score:g}]" if e.score is not None else ""
        status = f" ({e.status})" if e.status not in ("ok",) else ""
        lines.append(f"{'  ' * e.depth}- {e.seq}. **{e.kind}** {e.label}{score}{status}: {e.summary}")
    for c in store.child_runs(run.id):
        lines += ["", export_markdown(store, c.id, level=level + 1)]
    return "\n".join(lines)


def export_json_text(store: TraceStore, run_id: str) -> str:
    return json.dumps(export_run(store, run_id), indent=2, ensure_ascii=False)
