"""`DetailPanel`: the tabs (Prompt, Response, Raw JSON, Stats) for the selected event or run.

Texts are cut to a preview (`PREVIEW_CHARS`); the full text of the active tab is kept
for the "full text" view, which the screen opens on demand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from ponder.backends.pricing import backend_is_free, cost_usd
from ponder.traces.events import RunRecord
from ponder.tui._data import EventDetail, event_json, load_event_detail
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.widgets.safe import clean, preview, to_json
from ponder.types import Usage

TABS = ("prompt", "response", "raw", "stats")


def fmt_time(ts: float | None) -> str:
    """A recorded timestamp as local wall-clock time (never "now")."""
    if ts is None:
        return "—"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _messages_text(request: dict[str, Any]) -> Text:
    out = Text()
    params = {k: v for k, v in request.items() if k not in ("messages", "tools") and v not in (None, [], {})}
    if params:
        out.append(clean(", ".join(f"{k}={v}" for k, v in params.items())) + "\n\n", style="dim")
    for m in request.get("messages") or []:
        role = str(m.get("role", "?"))
        out.append(f"── {clean(role)} ──\n", style="bold reverse" if role == "system" else "bold")
        out.append(clean(m.get("content") or ""))
        for tc in m.get("tool_calls") or []:
            out.append(f"\n→ tool call {clean(tc.get('name', ''))}({clean(tc.get('arguments', ''))})", style="magenta")
        out.append("\n\n")
    if request.get("tools"):
        names = ", ".join(clean(t.get("name", "?")) for t in request["tools"])
        out.append(f"tools: {names}\n", style="dim")
    return out


def _response_text(response: dict[str, Any] | None, error: str | None) -> Text:
    out = Text()
    if error:
        out.append(f"error: {clean(error)}\n\n", style="bold red")
    if not response:
        return out
    choices = response.get("choices") or []
    for i, ch in enumerate(choices):
        if len(choices) > 1:
            out.append(f"── choice {i} ──\n", style="bold")
        out.append(clean(ch.get("text") or ""))
        for tc in ch.get("tool_calls") or []:
            out.append(f"\n→ tool call {clean(tc.get('name', ''))}({clean(tc.get('arguments', ''))})", style="magenta")
        if ch.get("finish_reason") and ch.get("finish_reason") != "stop":
            out.append(f"\n[finish: {clean(ch['finish_reason'])}]", style="dim")
        out.append("\n\n")
    return out


def _data_text(data: dict[str, Any] | None) -> Text:
    out = Text()
    for k, v in (data or {}).items():
        out.append(f"{clean(k)}: ", style="bold")
        out.append(clean(v) if isinstance(v, str) else clean(to_json(v)))
        out.append("\n")
    return out


def _stats_table(rows: list[tuple[str, object]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for k, v in rows:
        table.add_row(k, Text(clean("—" if v is None or v == "" else v)))
    return table


def event_texts(d: EventDetail, run: RunRecord | None) -> dict[str, Text]:
    """The full contents of each tab for one event."""
    ev = d.event
    prompt = Text()
    response = Text()
    if d.llm_call is not None:
        prompt = _messages_text(d.llm_call.request)
        response = _response_text(d.llm_call.response, d.llm_call.error)
    for tc in d.tool_calls:
        prompt.append(f"tool {clean(tc.tool)}: ", style="bold magenta")
        prompt.append(clean(to_json(tc.args) if not isinstance(tc.args, str) else tc.args) + "\n")
        response.append(f"{clean(tc.tool)} → ", style="bold magenta")
        response.append(clean(tc.result if tc.error is None else f"error: {tc.error}") + "\n")
    content = Text()
    content.append(f"{clean(ev.label)}\n", style="bold")
    if ev.summary and ev.summary != ev.label:
        content.append(clean(ev.summary) + "\n")
    if ev.data:
        content.append("\n")
        content.append_text(_data_text(ev.data))
    if not prompt:
        prompt.append(f"({ev.kind} event: no model call; as recorded)\n\n", style="dim italic")
        prompt.append_text(content)
    if d.llm_call is None and not d.tool_calls:
        response.append_text(content)
    return {"prompt": prompt, "response": response, "raw": Text(clean(to_json(event_json(d))))}


def event_stats(d: EventDetail, run: RunRecord | None) -> list[tuple[str, object]]:
    ev = d.event
    rows: list[tuple[str, object]] = [
        ("event", f"#{ev.seq} {ev.kind}"),
        ("status", ev.status),
        ("score", ev.score),
        ("branch", ev.branch or "(main)"),
        ("depth", ev.depth),
        ("children", ev.n_children),
        ("started", fmt_time(ev.started_at)),
        ("took", fmt_duration(None if ev.ended_at is None else ev.ended_at - ev.started_at)),
    ]
    c = d.llm_call
    if c is not None:
        usage = Usage(prompt_tokens=c.prompt_tokens or 0, completion_tokens=c.completion_tokens or 0)
        cost = cost_usd(run.model, usage, free=backend_is_free(run.backend)) if run is not None else None
        rows += [
            ("prompt tokens", c.prompt_tokens),
            ("completion tokens", c.completion_tokens),
            ("latency", fmt_duration(None if c.latency_ms is None else c.latency_ms / 1000)),
            ("cost", "unknown" if cost is None else f"${cost:.6f}"),
            ("origin", c.origin),
            ("sample index", c.sample_index),
            ("request key", c.request_key[:16]),
        ]
    for tc in d.tool_calls:
        rows.append((f"tool {tc.tool}", fmt_duration(None if tc.duration_ms is None else tc.duration_ms / 1000)))
    return rows


def run_texts(run: RunRecord) -> dict[str, Text]:
    prompt = Text(clean(run.question or to_json(run.task)))
    response = Text()
    if run.answer is not None:
        response.append("answer: ", style="bold")
        response.append(clean(run.answer) + "\n")
    if run.error:
        response.append(f"error: {clean(run.error)}\n", style="bold red")
    if not response:
        response.append(f"(no answer; status {run.status})", style="dim italic")
    return {"prompt": prompt, "response": response, "raw": Text(clean(to_json(run.model_dump(mode="json"))))}


def run_stats(run: RunRecord) -> list[tuple[str, object]]:
    return [
        ("run", run.id),
        ("agent", run.agent),
        ("backend", run.backend),
        ("model", run.model),
        ("status", run.status),
        ("correct", run.correct),
        ("score", run.score),
        ("calls", run.calls),
        ("tokens", f"{run.prompt_tokens} in / {run.completion_tokens} out"),
        ("cost", "unknown" if run.cost_usd is None else f"${run.cost_usd:.6f}"),
        ("started", fmt_time(run.started_at)),
        ("wall", fmt_duration(run.wall_s)),
        ("seed", run.seed),
        ("config", to_json(run.config)),
    ]


class DetailPanel(ReportsWorkerErrors, Widget):
    """Tabs for the selected item; `show_event` / `show_run` fill them (events are read in a worker)."""

    class FullTextAvailable(Message):
        """Posted when the shown item has a tab cut to its preview."""

    def __init__(self, db_path: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.run: RunRecord | None = None
        self.full: dict[str, Text] = {}
        self.item_title = ""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            for tab, title in zip(TABS, ("Prompt", "Response", "Raw JSON", "Stats"), strict=True):
                with TabPane(title, id=f"tab-{tab}"), VerticalScroll(classes="detail-scroll"):
                    yield Static("", id=f"detail-{tab}", classes="detail-text")

    @property
    def active_tab(self) -> str:
        active = self.query_one(TabbedContent).active or "tab-prompt"
        return active.removeprefix("tab-")

    def cycle_tab(self, delta: int) -> None:
        """Show the next (or previous, `delta=-1`) tab."""
        i = TABS.index(self.active_tab) if self.active_tab in TABS else 0
        self.query_one(TabbedContent).active = f"tab-{TABS[(i + delta) % len(TABS)]}"

    def full_text(self) -> tuple[str, str]:
        """(title, full text) of the active tab."""
        tab = self.active_tab
        text = self.full.get(tab, Text())
        return f"{self.item_title} — {tab}", text.plain

    def _set(self, texts: dict[str, Text], stats: list[tuple[str, object]], title: str) -> None:
        self.item_title = title
        self.full = dict(texts)
        for tab, text in texts.items():
            shown, cut = preview(text.plain)
            if cut:
                t = text[: len(shown)]
                t.append(
                    f"\n\n… {len(text.plain) - len(shown):,} more characters — press v for the full text",
                    style="bold yellow",
                )
            else:
                t = text
            self.query_one(f"#detail-{tab}", Static).update(t)
        self.query_one("#detail-stats", Static).update(_stats_table(stats))
        self.full["stats"] = Text("\n".join(f"{k}: {clean(v)}" for k, v in stats))
        for scroll in self.query(".detail-scroll"):
            scroll.scroll_home(animate=False)

    def show_run(self, run: RunRecord) -> None:
        self._set(run_texts(run), run_stats(run), f"run {run.id}")

    def show_event(self, run_id: str, seq: int) -> None:
        self._load(run_id, seq)

    class _Loaded(Message):
        def __init__(self, detail: EventDetail) -> None:
            super().__init__()
            self.detail = detail

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load(self, run_id: str, seq: int) -> None:
        self.post_message(self._Loaded(load_event_detail(self.db_path, run_id, seq)))

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        d = message.detail
        # child runs (Reflexion trials) share the parent's backend and model, so its run prices them
        self._set(event_texts(d, self.run), event_stats(d, self.run), f"event #{d.event.seq} {d.event.kind}")
