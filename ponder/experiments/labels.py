"""What ponder shows for a strategy and an experiment (light: no agent imports).

`agent_label`: a strategy with its inner agent, `self_consistency(react)`. `summary_rows`: an
experiment's figures as keyed rows, what `ponder bench` prints and `ponder compare` matches by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the option that names a composite strategy's inner agent (self_consistency and reflexion:
# inner; plan_execute: executor)
_INNER_KEYS = ("inner", "executor")


def agent_label(agent: object, config: Mapping[str, Any] | None) -> str:
    """A strategy's name with its inner agent where it has one: `self_consistency(react)`, nested as deep as it goes."""
    name = str(agent)
    for key in _INNER_KEYS:
        inner = (config or {}).get(key)
        if isinstance(inner, str) and inner:
            inner_config = (config or {}).get(f"{key}_config")
            return f"{name}({agent_label(inner, inner_config if isinstance(inner_config, Mapping) else None)})"
    return name


@dataclass(frozen=True)
class SummaryRow:
    """One figure of an experiment: a stable `key` to match it by, its `label` and its text."""

    key: str
    label: str
    text: str


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def budget_text(budget: Mapping[str, Any] | None) -> str:
    """A per-task budget as `5 calls, 500 tokens`, or `none`."""
    parts = [
        f"{v} {label}"
        for key, label in (("max_calls", "calls"), ("max_tokens", "tokens"), ("timeout_s", "s"))
        if (v := (budget or {}).get(key)) is not None
    ]
    return ", ".join(parts) or "none"


def summary_rows(exp: Any, *, annotate: bool = True) -> list[SummaryRow]:
    """An experiment's figures as keyed rows (what `ponder bench` prints under its tasks).

    annotate: name the headline figure "accuracy (top-1 / majority)" where an oracle figure
        follows it (a single experiment's view; a comparison keeps the plain name).
    """
    s, c = exp.summary, exp.config
    headline = f"{s.metric} (top-1 / majority)" if annotate and s.oracle_kind else s.metric
    rows = [
        SummaryRow("agent", "agent", agent_label(c.get("agent"), c.get("agent_config"))),
        SummaryRow("env", "env", str(c.get("env"))),
        SummaryRow("model", "model", f"{c.get('backend')}:{c.get('model')}"),
        SummaryRow("tasks", "tasks", str(s.n)),
        SummaryRow(s.metric, headline, _num(s.value)),
    ]
    if s.oracle_kind:
        rows.append(SummaryRow(f"oracle:{s.oracle_kind}", f"{s.oracle_kind} (oracle)", _num(s.oracle_accuracy)))
    rows += [
        SummaryRow("correct", "correct", str(s.correct)),
        SummaryRow("errors", "errors", s.errors_text()),
        SummaryRow("eval_errors", "evaluation errors", s.eval_errors_text()),
        SummaryRow("cut", "cut at max_tokens", s.cut_text()),
        SummaryRow("calls", "calls", str(s.calls)),
        SummaryRow("tokens", "tokens", f"{s.prompt_tokens} + {s.completion_tokens}"),
        SummaryRow(f"{s.metric}_per_1k_tokens", f"{s.metric} / 1k tokens", _num(s.per_1k_tokens, ".4f")),
        SummaryRow("budget", "budget / task", budget_text(c.get("budget"))),
        SummaryRow("cost", "cost", "unknown" if s.cost_usd is None else f"${s.cost_usd:.6f}"),
        SummaryRow("wall", "wall", f"{s.wall_s:.2f} s"),
        SummaryRow("latency", "latency p50 / p95", f"{_num(s.p50_s, '.2f')} / {_num(s.p95_s, '.2f')} s"),
    ]
    rows += [SummaryRow(k, k, _num(v)) for k, v in s.pass_at_k.items()]
    rows += [
        SummaryRow(
            f"metric:{k}",
            f"{k} mean / median",
            f"{_num(v['mean'])} / {_num(v['median'])}"
            + (f" ({v['failed']:g} failed runs as no answer)" if v.get("failed") else ""),
        )
        for k, v in s.metrics.items()
    ]
    return rows
