"""Accuracy (or an env metric) against tokens: one point per experiment, the Pareto front marked (`ponder plot`).

Strategies are compared at equal cost by where they sit on this chart: a point is on the
Pareto front when no other experiment is at least as good for at most as many tokens per task
(and strictly better in one of the two). The figure is the experiment's headline (accuracy, or
mean score), or the mean of an env metric (`metric="errors"`: the GoT tasks' error count, where
lower is better). An experiment some of whose tasks failed (out of budget) says how many in its
label. Drawn with matplotlib (extra `plot`), through its object API (no pyplot state), to PNG or SVG.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError

FORMATS = (".png", ".svg")


@dataclass(frozen=True)
class Point:
    """One experiment on the chart: tokens per task (x) and its figure (y); `failed` tasks ended in an error."""

    experiment_id: str
    label: str
    tokens_per_task: float
    value: float
    metric: str
    higher_is_better: bool = True
    failed: int = 0


def _better_or_equal(q: Point, p: Point) -> bool:
    return q.value >= p.value if p.higher_is_better else q.value <= p.value


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indexes of the points no other point dominates (fewer or equal tokens, a value as good or
    better, better in one), ordered by tokens. Equal points are all on the front."""
    front = []
    for i, p in enumerate(points):
        dominated = any(
            q.tokens_per_task <= p.tokens_per_task
            and _better_or_equal(q, p)
            and (q.tokens_per_task < p.tokens_per_task or q.value != p.value)
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i].tokens_per_task, points[i].value))


def shared_token_budget(experiments: Sequence[Any]) -> int | None:
    """The per-task token budget (`--max-tokens`) every experiment ran under, if they share one."""
    budgets = {((e.config.get("budget") or {}).get("max_tokens")) for e in experiments}
    return budgets.pop() if len(budgets) == 1 and None not in budgets else None


def label_offsets(points: Sequence[Point], *, near: float = 0.06, step: float = 10.0) -> list[float]:
    """Vertical offsets (in points) for the labels, so that points close together (within `near` of the
    axes' spans) have their labels stacked instead of printed over each other: upwards, or downwards
    for points in the top quarter of the chart (where labels above would run into the title)."""
    xs = [p.tokens_per_task for p in points]
    ys = [p.value for p in points]
    dx = (max(xs) - min(xs)) or 1.0
    dy = (max(ys) - min(ys)) or 1.0
    placed: list[tuple[float, float, float]] = []
    offsets = []
    for p in points:
        x, y = (p.tokens_per_task - min(xs)) / dx, (p.value - min(ys)) / dy
        # a label runs to the right for about a third of the chart: stack those it would run into
        stacked = [abs(o) for px, py, o in placed if abs(px - x) < 0.45 and abs(py - y) < near]
        offset = (max(stacked) + step) * (-1 if y > 0.75 else 1) if stacked else 0.0
        placed.append((x, y, offset))
        offsets.append(offset)
    return offsets


def metric_higher_is_better(metric: str) -> bool:
    """Whether a larger figure is better: the headline (accuracy, mean score) and env metrics, except an
    error count (`errors`, `*_errors`), which is better smaller."""
    return not (metric == "errors" or metric.endswith("_errors"))


def _figure(e: Any, metric: str | None) -> tuple[float | None, str]:
    s = e.summary
    if metric is None or metric == s.metric:
        if s.value is None and s.metric == "accuracy" and s.n and s.ok == 0:
            return 0.0, s.metric  # every task failed (out of budget): failures count as wrong, so 0
        return s.value, s.metric
    if metric not in s.metrics:
        have = ", ".join([s.metric, *s.metrics]) or "none"
        raise ConfigError(f"experiment {e.id} has no metric {metric!r} (it has: {have})")
    return s.metrics[metric]["mean"], metric


def experiment_points(
    experiments: Sequence[Any], metric: str | None = None, *, higher_is_better: bool | None = None
) -> list[Point]:
    """The chart's points: each experiment's headline figure, or the mean of env metric `metric`.

    higher_is_better: the metric's direction (default: `metric_higher_is_better`). A `ConfigError`
    for an experiment with no such figure or no tasks to place it by.
    """
    points = []
    for e in experiments:
        s = e.summary
        value, name = _figure(e, metric)
        if value is None or s.n == 0:
            raise ConfigError(f"experiment {e.id} has no {name} to plot (no task finished)")
        agent = e.config.get("agent") or "?"
        failed = s.n - s.ok
        points.append(
            Point(
                experiment_id=e.id,
                label=f"{e.id} {agent}" + (f" ({failed}/{s.n} failed)" if failed else ""),
                tokens_per_task=(s.prompt_tokens + s.completion_tokens) / s.n,
                value=value,
                metric=name,
                higher_is_better=metric_higher_is_better(name) if higher_is_better is None else higher_is_better,
                failed=failed,
            )
        )
    metrics = {p.metric for p in points}
    if len(metrics) > 1:
        raise ConfigError(f"the experiments measure different things ({', '.join(sorted(metrics))}); plot one kind")
    return points


def _figure_class() -> Any:
    try:
        return importlib.import_module("matplotlib.figure").Figure
    except ImportError:
        raise ConfigError('ponder plot needs matplotlib: pip install -e ".[plot]"') from None


def plot_experiments(
    experiments: Sequence[Any],
    path: Path,
    *,
    title: str | None = None,
    metric: str | None = None,
    higher_is_better: bool | None = None,
) -> list[Point]:
    """Write the chart of `experiments` (their headline, or env metric `metric`, against tokens per task) to
    `path` (.png or .svg); the points drawn."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"{path}: the chart is written as PNG or SVG; end the file name with .png or .svg")
    points = experiment_points(experiments, metric, higher_is_better=higher_is_better)
    front = pareto_front(points)
    figure_class = _figure_class()
    fig = figure_class(figsize=(7, 4.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    others = [p for i, p in enumerate(points) if i not in front]
    on_front = [points[i] for i in front]
    if others:
        ax.scatter([p.tokens_per_task for p in others], [p.value for p in others], color="0.55", label="experiment")
    ax.step(
        [p.tokens_per_task for p in on_front],
        [p.value for p in on_front],
        where="post",
        color="tab:red",
        linewidth=1.2,
        zorder=1,
    )
    ax.scatter(
        [p.tokens_per_task for p in on_front],
        [p.value for p in on_front],
        color="tab:red",
        marker="D",
        zorder=2,
        label="Pareto front",
    )
    budget = shared_token_budget(experiments)
    if budget is not None:
        ax.axvline(budget, color="tab:blue", linestyle="--", linewidth=1, label=f"budget: {budget} tokens / task")
    for p, dy in zip(points, label_offsets(points), strict=True):
        # plain text, never mathtext: an experiment's name is not markup
        ax.annotate(
            p.label.replace("$", r"\$"),
            (p.tokens_per_task, p.value),
            textcoords="offset points",
            xytext=(5, 4 + dy),
            fontsize=8,
        )
    name = points[0].metric.replace("_", " ")
    direction = "higher" if points[0].higher_is_better else "lower"
    ylabel = name if points[0].metric in ("accuracy", "mean_score") else f"{name}, mean per task"
    ax.set_xlabel("tokens per task (prompt + completion)")
    ax.set_ylabel(f"{ylabel} ({direction} is better)")
    ax.set_title(title or f"{name} against tokens ({len(points)} experiments)")
    ax.margins(x=0.2, y=0.1)  # room for the labels
    if points[0].metric == "accuracy":
        ax.set_ylim(-0.05, 1.1)  # a fraction: the whole scale, whatever the points
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=path.suffix.lower().lstrip("."))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    return points
