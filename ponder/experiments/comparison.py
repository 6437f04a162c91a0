"""Experiments side by side (`compare`): one row per figure, matched by key, never by position.

Experiments of different strategies and envs have different figures: self-consistency has a
"best of k" oracle, ToT "any of b", HumanEval pass@k, a scored env a mean score instead of an
accuracy. Each experiment's rows are keyed (`summary_rows`); the comparison is the union of
the keys, in the order the experiments list them, with no value (JSON `null`, printed "–")
where a figure does not apply. The CLI's table and its `--json` are both printed from
`Comparison.rows`, so they cannot disagree.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ponder.errors import ConfigError
from ponder.experiments.labels import summary_rows
from ponder.experiments.results import Experiment
from ponder.traces.store import TraceStore, default_db_path

_CONFIG_TEXT_MAX = 40


@dataclass(frozen=True)
class ComparisonRow:
    """One figure across the experiments compared: `values[i]` is experiment i's text (None: does not apply)."""

    key: str
    label: str
    values: tuple[str | None, ...]


def _merged_keys(per_exp: Sequence[Sequence[str]]) -> list[str]:
    """Every key once, each placed after the key that precedes it in the first experiment listing it."""
    order: list[str] = []
    for keys in per_exp:
        after = -1
        for k in keys:
            if k in order:
                after = order.index(k)
            else:
                after += 1
                order.insert(after, k)
    return order


def _config_text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= _CONFIG_TEXT_MAX else text[: _CONFIG_TEXT_MAX - 1] + "…"


def _config_rows(exps: Sequence[Experiment]) -> list[ComparisonRow]:
    """The options that tell the experiments apart: a key whose value differs among the experiments that have it."""
    missing = object()
    rows = []
    for part, prefix in (("agent_config", "agent"), ("env_config", "env")):
        configs = [e.config.get(part) or {} for e in exps]
        for k in sorted({k for c in configs for k in c}):
            present = [json.dumps(c[k], sort_keys=True) for c in configs if k in c]
            if len(set(present)) < 2:
                continue
            values = [c.get(k, missing) for c in configs]
            rows.append(
                ComparisonRow(
                    f"{part}.{k}", f"{prefix}.{k}", tuple(None if v is missing else _config_text(v) for v in values)
                )
            )
    seeds = [e.config.get("seed") for e in exps]
    if len(set(seeds)) > 1:
        rows.append(ComparisonRow("seed", "seed", tuple(None if s is None else str(s) for s in seeds)))
    return rows


def solved_by_one_only(experiments: Sequence[Experiment]) -> list[dict[str, Any]]:
    """For each ordered pair (a, b): the tasks a solved and b did not (by task id, both attempted)."""
    out = []
    for a, b in itertools.permutations(experiments, 2):
        common = {r.task_id for r in a.results} & {r.task_id for r in b.results}
        only = sorted((a.solved() - b.solved()) & common)
        out.append({"solved_by": a.id, "not_by": b.id, "tasks": only})
    return out


class Comparison:
    """Experiments side by side: `rows` (one per figure, matched by key) and the tasks one solved, another not."""

    def __init__(self, experiments: Sequence[Experiment]) -> None:
        self.experiments = list(experiments)
        per_exp = [{r.key: r for r in summary_rows(e, annotate=False)} for e in self.experiments]
        rows = []
        for key in _merged_keys([list(p) for p in per_exp]):
            labels = {p[key].label for p in per_exp if key in p}
            label = labels.pop() if len(labels) == 1 else key
            rows.append(ComparisonRow(key, label, tuple(p[key].text if key in p else None for p in per_exp)))
        self.rows: list[ComparisonRow] = rows + _config_rows(self.experiments)
        self.solved_by_one_only = solved_by_one_only(self.experiments)

    def __repr__(self) -> str:
        return f"Comparison({', '.join(repr(e.id) for e in self.experiments)}; {len(self.rows)} rows)"

    def row(self, key: str) -> ComparisonRow:
        """The row of figure `key` (`accuracy`, `calls`, `oracle:best of k`, `pass@1`, `agent_config.k`, …)."""
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(f"no row {key!r}; rows: {', '.join(r.key for r in self.rows)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the experiments (id, name, config, summary), the rows, and the tasks solved by one only."""
        return {
            "experiments": [
                {"id": e.id, "name": e.name, "config": e.config, "summary": e.summary.model_dump(mode="json")}
                for e in self.experiments
            ],
            "rows": [{"key": r.key, "label": r.label, "values": list(r.values)} for r in self.rows],
            "solved_by_one_only": self.solved_by_one_only,
        }

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(e.id)}</th>" for e in self.experiments)
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(r.label)}</th>"
            + "".join(f"<td>{html.escape('–' if v is None else v)}</td>" for v in r.values)
            + "</tr>"
            for r in self.rows
        )
        return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def compare(experiments: Sequence[Experiment | str], store: TraceStore | None = None) -> Comparison:
    """Experiments side by side (given as `Experiment`s or ids; ids are read from `store`, by default the default db).

    A `ConfigError` unless at least two different experiments are given.
    """
    if any(isinstance(e, str) for e in experiments) and store is None:
        store = TraceStore(default_db_path(), create=False, readonly=True)
    loaded = [e if isinstance(e, Experiment) else Experiment.load(store, e) for e in experiments]  # type: ignore[arg-type]
    unique = list({e.id: e for e in loaded}.values())
    if len(unique) < 2:
        raise ConfigError("give at least two different experiment ids to compare")
    return Comparison(unique)
