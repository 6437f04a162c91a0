"""The experiments view: each experiment's accuracy, tokens and cost, and accuracy against tokens as a chart.

The chart needs the `chart` extra (textual-plotext); without it, or when the screen is too
small for it, the table is shown alone with a line saying why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Static

from ponder.experiments.labels import agent_label
from ponder.tui._data import store_for
from ponder.tui._workers import ReportsWorkerErrors
from ponder.tui.messages import FilterExperiment
from ponder.tui.widgets.safe import one_line

# the chart is drawn when its box has at least this many cells
CHART_MIN = (40, 10)
MAX_EXPERIMENTS = 50
AGENT_MAX = 32  # the agent column grows to its longest name, up to this
FIXED_COLUMNS = 5 + 6 + 9 + 8 + 8  # tasks, acc, tok/task, cost, id
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def name_and_agent_widths(width: int, points: list[ExperimentPoint]) -> tuple[int, int]:
    """The widths of the name and agent columns in a `width`-cell window (the other columns are fixed).

    The agent gets its longest name (up to `AGENT_MAX`) while the name keeps 12 cells; the name
    then takes what is left, up to its longest.
    """
    available = width - 2 - FIXED_COLUMNS - 2 * 7  # the scrollbar, the fixed columns, each column's padding
    agent_w = min(AGENT_MAX, max([5, *(len(p.agent) for p in points)]))
    agent_w = max(10, min(agent_w, available - 12))
    name_w = max(12, min(40, max([10, *(len(p.name) for p in points)]), available - agent_w))
    return name_w, agent_w


def chart_limits(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """x and y limits with a margin around the points, so none sits on the frame (a corner, an edge).

    x: tokens per task, 10% of the span (or of the value, for one point) on each side, not below 0
    unless a point is at 0; y: accuracy or mean score, 0..1 with a margin.
    """
    xs = [x for x, _ in points] or [0.0]
    lo, hi = min(xs), max(xs)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.5, 1.0)
    xmin = max(0.0, lo - pad) if lo > 0 else lo - pad
    ys = [y for _, y in points] or [0.0]
    return xmin, hi + pad, min(0.0, min(ys)) - 0.08, max(1.0, max(ys)) + 0.08


@dataclass(frozen=True)
class ExperimentPoint:
    """One experiment's figures: `value` is accuracy (or mean score), `tokens` per task."""

    id: str
    name: str
    agent: str
    n: int
    metric: str
    value: float | None
    tokens: float
    cost_usd: float | None
    created_at: float | None


def load_points(db_path: str, limit: int = MAX_EXPERIMENTS) -> list[ExperimentPoint]:
    """The newest `limit` experiments, summarized (read in a worker thread)."""
    from ponder.experiments.results import Experiment  # it loads the runtime: imported when needed

    store = store_for(db_path)
    out = []
    for row in store.list_experiments()[:limit]:
        exp = Experiment.load(store, row["id"])
        s = exp.summary
        out.append(
            ExperimentPoint(
                id=exp.id,
                name=exp.name,
                agent=agent_label(exp.config.get("agent", ""), exp.config.get("agent_config")),
                n=s.n,
                metric=s.metric,
                value=s.value,
                tokens=(s.prompt_tokens + s.completion_tokens) / s.n if s.n else 0.0,
                cost_usd=s.cost_usd,
                created_at=exp.created_at,
            )
        )
    return out


def _chart_widget() -> Widget | None:
    try:
        from textual_plotext import PlotextPlot
    except ImportError:
        return None
    return PlotextPlot(id="experiments-chart")


class ExperimentsScreen(ReportsWorkerErrors, Screen[None]):
    """Every experiment with its headline figures; `enter` shows its runs."""

    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="experiments.back"),
        Binding("r", "refresh", "Refresh", id="experiments.refresh"),
    ]

    def __init__(self, db_path: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.db_path = db_path
        self.points: list[ExperimentPoint] = []
        self.plotted: list[tuple[float, float]] = []  # (tokens per task, value) as drawn
        self.limits: tuple[float, float, float, float] | None = None  # the chart's x and y limits
        self._widths = (18, 10)  # the name and agent columns' widths, as laid out

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield DataTable(id="experiments-table", cursor_type="row", zebra_stripes=True)
        chart = _chart_widget()
        if chart is not None:
            yield chart
        yield Static("", id="experiments-info")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "experiments"
        table = self.query_one(DataTable)
        self._set_columns()
        table.focus()
        self.action_refresh()

    def _set_columns(self) -> None:
        """Lay the table out for the window: the agent column as wide as its longest name where it fits
        (`self_consistency(react)`), the experiment's name in the rest."""
        name_w, agent_w = self._widths = name_and_agent_widths(self.size.width or self.app.size.width, self.points)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key, title, width in (
            ("name", "experiment", name_w),
            ("agent", "agent", agent_w),
            ("n", "tasks", 5),
            ("value", "acc", 6),
            ("tokens", "tok/task", 9),
            ("cost", "cost", 8),
            ("id", "id", 8),
        ):
            table.add_column(title, key=key, width=width)

    class _Loaded(Message):
        def __init__(self, points: list[ExperimentPoint]) -> None:
            super().__init__()
            self.points = points

    @work(thread=True, exclusive=True, group="experiments", exit_on_error=False)
    def _load(self) -> None:
        self.post_message(self._Loaded(load_points(self.db_path)))

    def action_refresh(self) -> None:
        self._load()

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        self.points = message.points
        self._fill()

    def _fill(self) -> None:
        self._set_columns()
        table = self.query_one(DataTable)
        for p in self.points:
            value = "—" if p.value is None else f"{p.value:.2f}"
            table.add_row(
                Text(one_line(p.name, self._widths[0])),
                Text(one_line(p.agent, self._widths[1]), style="bold"),
                Text(str(p.n), justify="right"),
                Text(value, justify="right"),
                Text(f"{p.tokens:,.0f}", justify="right"),
                Text("?" if p.cost_usd is None else f"${p.cost_usd:.4f}", justify="right"),
                Text(p.id[:8], style="dim"),
                key=p.id,
            )
        self._draw()

    def on_resize(self) -> None:
        self._fill()

    def _draw(self) -> None:
        info = self.query_one("#experiments-info", Static)
        charts = self.query("#experiments-chart")
        if not self.points:
            info.update(Text(" no experiments yet — `ponder bench` records one", style="yellow"))
            charts.set(display=False)
            return
        if not charts:
            info.update(Text(" pip install 'ponder[chart]' to see accuracy against tokens", style="dim"))
            return
        chart = charts.first()
        fits = self.size.width >= CHART_MIN[0] and self.size.height >= CHART_MIN[1] + len(self.points) + 6
        chart.display = fits
        if not fits:
            info.update(Text(" the chart needs a larger window", style="dim"))
            return
        points = [(p.tokens, p.value) for p in self.points if p.value is not None]
        self.plotted = [(x, float(y)) for x, y in points]
        plt = chart.plt  # type: ignore[attr-defined]
        plt.clear_data()
        plt.clear_figure()
        metric = "accuracy" if all(p.metric == "accuracy" for p in self.points) else "accuracy / score"
        # the y axis is named in the title: plotext draws a y label under the axis, beside the x label
        plt.title(f"{metric} (y) against tokens per task (x)")
        plt.xlabel("tokens per task")
        self.limits = chart_limits(self.plotted)
        xmin, xmax, ymin, ymax = self.limits
        plt.xlim(xmin, xmax)
        plt.ylim(ymin, ymax)
        plt.yticks(list(Y_TICKS), [f"{t:.2f}" for t in Y_TICKS])
        by_agent: dict[str, list[tuple[float, float]]] = {}
        for p in self.points:
            if p.value is not None:
                by_agent.setdefault(p.agent or "?", []).append((p.tokens, p.value))
        for agent, xy in sorted(by_agent.items()):
            plt.scatter([x for x, _ in xy], [y for _, y in xy], label=one_line(agent, AGENT_MAX), marker="dot")
        chart.refresh()
        newest = max((p.created_at or 0.0 for p in self.points), default=0.0)
        when = dt.datetime.fromtimestamp(newest).strftime("%Y-%m-%d %H:%M") if newest else "—"
        info.update(Text(f" {len(self.points)} experiments · newest {when} · enter shows its runs", style="dim"))

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.post_message(FilterExperiment(event.row_key.value))
            self.dismiss()

    def action_back(self) -> None:
        self.dismiss()
