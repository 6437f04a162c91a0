"""Accuracy against tokens: one point per experiment, the Pareto front marked (`ponder plot`).

Strategies are compared at equal cost by where they sit on this chart: a point is on the
Pareto front when no other experiment is at least as accurate for at most as many tokens
per task (and strictly better in one of the two). Drawn with matplotlib (extra `plot`),
through its object API (no pyplot state), to PNG or SVG.
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
    """One experiment on the chart: tokens per task (x) and its headline figure (y)."""

    experiment_id: str
    label: str
    tokens_per_task: float
    value: float
    metric: str


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indexes of the points no other point dominates (fewer or equal tokens, higher or equal
    value, better in one), ordered by tokens. Equal points are all on the front."""
    front = []
    for i, p in enumerate(points):
        dominated = any(
            q.tokens_per_task <= p.tokens_per_task
            and q.value >= p.value
            and (q.tokens_per_task < p.tokens_per_task or q.value > p.value)
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i].tokens_per_task, points[i].value))


def experiment_points(experiments: Sequence[Any]) -> list[Point]:
    """The chart's points; a `ConfigError` for an experiment with no figure or no tasks to place it by."""
    points = []
    for e in experiments:
        s = e.summary
        if s.value is None or s.n == 0:
            raise ConfigError(f"experiment {e.id} has no {s.metric} to plot (no task finished)")
        agent = e.config.get("agent") or "?"
        points.append(
            Point(
                experiment_id=e.id,
                label=f"{e.id} {agent}",
                tokens_per_task=(s.prompt_tokens + s.completion_tokens) / s.n,
                value=s.value,
                metric=s.metric,
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


def plot_experiments(experiments: Sequence[Any], path: Path, *, title: str | None = None) -> list[Point]:
    """Write the accuracy-vs-tokens chart of `experiments` to `path` (.png or .svg); the points drawn."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"{path}: the chart is written as PNG or SVG; end the file name with .png or .svg")
    points = experiment_points(experiments)
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
    for p in points:
        # plain text, never mathtext: an experiment's name is not markup
        ax.annotate(
            p.label.replace("$", r"\$"),
            (p.tokens_per_task, p.value),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    metric = points[0].metric.replace("_", " ")
    ax.set_xlabel("tokens per task (prompt + completion)")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} against tokens ({len(points)} experiments)")
    ax.margins(x=0.2, y=0.1)  # room for the labels
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=path.suffix.lower().lstrip("."))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    return points
