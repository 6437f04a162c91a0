"""How the event tree names things: one line per event (as its kind declares) and per run.

Labels are `rich.text.Text` built from cleaned strings, never markup: model text such as
`Finish[yes]` shows as written.
"""

from __future__ import annotations

from rich.text import Text

from ponder.experiments.labels import agent_label
from ponder.traces.events import EventRecord, RunRecord
from ponder.traces.kinds import child_run_role, kind_spec
from ponder.tui.widgets.safe import clean, one_line

TAG_MIN, TAG_MAX = 7, 24
FAILED_MARK = "−"  # a step that ran and did not succeed (a Reflexion trial judged wrong): not an error


def failed_not_errored(ev: EventRecord) -> bool:
    """A step closed as `error` because its verdict said no (`data.success` is false), not because it broke."""
    return ev.status == "error" and isinstance(ev.data, dict) and ev.data.get("success") is False


def _fmt_score(score: float | None) -> str:
    if score is None:
        return ""
    return f"{score:.3g}" if abs(score) < 1000 else f"{score:.0f}"


def event_body(ev: EventRecord) -> str:
    """An event's label and summary joined as its kind declares (without the label when it adds nothing)."""
    spec = kind_spec(ev.kind)
    label = clean(ev.label).strip()
    summary = clean(ev.summary).strip()
    if not summary or summary == label:
        return label
    if not label or (spec.body == "colon" and label == ev.kind):
        return summary
    join = {"colon": ": ", "dot": " · ", "arrow": " → "}[spec.body]
    return f"{label}{join}{summary}"


def event_label(ev: EventRecord, width: int = 90) -> Text:
    """One line for an event: seq, kind tag, score/status marks, then its label and summary.

    Tag, style, whether the score shows and the extra text from the data all come from the
    kind's declaration (`ponder.traces.kinds`), so a strategy's own kinds render here too.
    """
    spec = kind_spec(ev.kind)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{ev.seq:>4} ", style="dim")
    # a tag is never cut (a plugin's kind may have a long name); the usual ones are padded to line up
    line.append(f"{one_line(spec.tag, TAG_MAX):<{TAG_MIN}}", style=spec.style)
    line.append(" ")
    if ev.status == "chosen":
        line.append("★ ", style="bold green")
    elif ev.status == "pruned":
        line.append("✗ ", style="dim")
    elif failed_not_errored(ev):
        line.append(f"{FAILED_MARK} ", style="bold yellow")
    elif ev.status in ("error", "invalid"):
        line.append("! ", style="bold red")
    elif ev.status == "running":
        line.append("… ", style="yellow")
    if ev.score is not None and spec.shows_score:
        line.append(f"{_fmt_score(ev.score)} ", style="bold")
    line.append(one_line(event_body(ev), width))
    extra = spec.detail(ev.data)
    if extra:
        line.append(f"  {one_line(extra, 60)}", style=spec.style or "dim")
    if ev.n_children:
        line.append(f"  ({ev.n_children})", style="dim")
    if ev.status == "pruned":
        line.stylize("dim")
    elif ev.status == "chosen":
        line.stylize("bold")
    return line


def run_label(run: RunRecord, *, root: bool = False) -> Text:
    """One line for a run node: agent, status, answer and question."""
    line = Text(no_wrap=True, overflow="ellipsis")
    # a child run is named as its parent named it (a Reflexion "trial 2", a plan's "step 3")
    line.append("run " if root else f"{child_run_role(run.branch)} ", style="bold magenta")
    line.append(f"{run.id[:8]} ", style="dim")
    line.append(f"{agent_label(run.agent, run.config)} ", style="bold")
    status_style = {"ok": "green", "error": "red", "cancelled": "yellow", "interrupted": "yellow"}.get(
        run.status, "cyan"
    )
    line.append(f"{run.status} ", style=status_style)
    if run.correct is not None:
        line.append("✓ " if run.correct else "✗ ", style="green" if run.correct else "red")
    if run.answer:
        line.append(f"→ {one_line(run.answer, 40)} ")
    line.append(one_line(run.question, 60), style="italic")
    return line


def shared_label(ev: EventRecord, under: str) -> Text:
    """An event shown again under `under`, one of the events it was made from (a GoT aggregated thought):
    "↳ also under <the others>", then its own label."""
    field = kind_spec(ev.kind).shared_under
    named = (ev.data or {}).get(field) if field else None
    others = [str(n) for n in named if str(n) != under] if isinstance(named, list) else []
    mark = f"↳ also under {', '.join(others)} · " if others else "↳ shared · "
    return Text.assemble((clean(mark), "cyan"), event_label(ev))
