"""An experiment read back from the trace store (`Experiment`): its results as rows, a dict or a
Markdown report (experiments side by side: `ponder.experiments.comparison`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from ponder import registry
from ponder.errors import ConfigError, PonderError
from ponder.experiments.labels import summary_rows
from ponder.experiments.task_results import TaskResult, _result_of, summarize_results
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _md_cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_HTML_COLUMNS = ("task_id", "status", "answer", "expected", "correct", "calls", "prompt_tokens", "completion_tokens")


def _env_of(config: Mapping[str, Any]) -> Any:
    """The experiment's env rebuilt from its config (None where it cannot be: an oracle is then not shown)."""
    name = config.get("env")
    if not isinstance(name, str):
        return None
    try:
        return registry.build("envs", name, config.get("env_config") or {}, "env")
    except PonderError:
        return None


class Experiment:
    """An experiment: its id, name and config, the per-task results and their summary.

    Build one with `bench`/`abench`, or read one back with `Experiment.load(store, exp_id)`.
    """

    def __init__(
        self,
        id: str,
        name: str,
        config: dict[str, Any],
        results: list[TaskResult],
        store: TraceStore | None = None,
        created_at: float | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.config = config
        self.results = results
        self.store = store
        self.created_at = created_at
        self.summary = summarize_results(results)

    def __repr__(self) -> str:
        s = self.summary
        return f"Experiment({self.id!r}, {self.name!r}, n={s.n}, {s.metric}={_fmt(s.value)}, errors={s.errors})"

    @classmethod
    def load(cls, store: TraceStore, exp_id: str) -> Experiment:
        """Rebuild an experiment from the store: for each task, its finished run (else its last run)."""
        row = store.get_experiment(exp_id)
        runs = store.list_runs(experiment_id=row["id"], limit=1_000_000, top_level=True)
        runs.sort(key=lambda r: (r.started_at, r.id))
        by_task: dict[str, RunRecord] = {}
        for r in runs:
            tid = str(r.task.get("id", r.id))
            prev = by_task.get(tid)
            if prev is None or prev.status != "ok" or r.status == "ok":
                by_task[tid] = r
        first_seen: dict[str, tuple[float, str]] = {}
        for r in runs:
            first_seen.setdefault(str(r.task.get("id", r.id)), (r.started_at, r.id))
        order = sorted(by_task, key=lambda t: first_seen[t])
        env = _env_of(row["config"])
        return cls(
            row["id"],
            row["name"],
            row["config"],
            [_result_of(by_task[t], store, env=env) for t in order],
            store=store,
            created_at=row.get("created_at"),
        )

    def columns(self) -> dict[str, Any]:
        """What every row of `to_rows` starts with: the experiment, its agent and config, backend, model and env.

        config and env_config are JSON text (sorted keys), so a row is flat for CSV and pandas.
        """
        c = self.config
        return {
            "experiment_id": self.id,
            "experiment": self.name,
            "agent": c.get("agent"),
            "config": _json(c.get("agent_config") or {}),
            "backend": c.get("backend"),
            "model": c.get("model"),
            "env": c.get("env"),
            "env_config": _json(c.get("env_config") or {}),
            "seed": c.get("seed"),
        }

    def _task_rows(self) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json", exclude={"started_at", "ended_at"}) for r in self.results]

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per task, with the experiment's agent, config, model and env on each (for CSV and pandas)."""
        columns = self.columns()
        return [{**columns, **row} for row in self._task_rows()]

    def to_pandas(self) -> Any:
        """`to_rows` as a pandas DataFrame (pandas is optional: `pip install 'ponder[pandas]'`)."""
        try:
            import pandas as pd
        except ImportError:
            raise ConfigError("Experiment.to_pandas needs pandas: pip install 'ponder[pandas]'") from None
        return pd.DataFrame(self.to_rows())

    def to_dict(self) -> dict[str, Any]:
        """The whole experiment as plain data: id, name, config, summary and per-task rows (task fields only)."""
        return {
            "id": self.id,
            "name": self.name,
            "config": self.config,
            "summary": self.summary.model_dump(mode="json"),
            "results": self._task_rows(),
        }

    def _repr_html_(self) -> str:
        """A notebook's view: the configuration, the summary and the first 20 tasks."""
        figures = "".join(
            f"<tr><th style='text-align:left'>{escape(r.label)}</th><td>{escape(r.text)}</td></tr>"
            for r in summary_rows(self)
        )
        head = "".join(f"<th>{escape(k)}</th>" for k in _HTML_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(_fmt(row.get(k)))}</td>" for k in _HTML_COLUMNS) + "</tr>"
            for row in self._task_rows()[:20]
        )
        more = len(self.results) - 20
        return (
            f"<h4>Experiment {escape(self.id)} — {escape(self.name)}</h4>"
            f"<table>{figures}</table>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + (f"<p>… {more} more tasks (<code>.to_pandas()</code> for all)</p>" if more > 0 else "")
        )

    def solved(self) -> set[str]:
        """The ids of the tasks this experiment got right (correct, or full score where unjudged)."""
        return {
            r.task_id
            for r in self.results
            if r.correct or (r.correct is None and r.score is not None and r.score >= 1.0)
        }

    def to_markdown(self) -> str:
        """A Markdown report: the configuration and summary, then one row per task."""
        s, c = self.summary, self.config
        lines = [
            f"# Experiment {self.id} — {self.name}",
            "",
            f"- agent: {c.get('agent')} {c.get('agent_config') or ''}".rstrip(),
            f"- env: {c.get('env')} {c.get('env_config') or ''}".rstrip(),
            f"- backend: {c.get('backend')} · model: {c.get('model')} · seed: {c.get('seed')}",
            "",
            "| metric | value |",
            "|---|---|",
            f"| tasks | {s.n} |",
            f"| {s.metric} | {_fmt(s.value)} |",
            *([f"| {s.oracle_kind} (oracle) | {_fmt(s.oracle_accuracy)} |"] if s.oracle_kind else []),
            f"| errors | {_md_cell(s.errors_text())} |",
            f"| evaluation errors | {_md_cell(s.eval_errors_text())} |",
            f"| cut at max_tokens | {_md_cell(s.cut_text())} |",
            f"| calls | {s.calls} |",
            f"| prompt tokens | {s.prompt_tokens} |",
            f"| completion tokens | {s.completion_tokens} |",
            f"| cost (USD) | {_fmt(s.cost_usd, 6)} |",
            f"| wall (s) | {_fmt(s.wall_s, 2)} |",
            f"| latency p50 / p95 (s) | {_fmt(s.p50_s, 2)} / {_fmt(s.p95_s, 2)} |",
            *(f"| {k} | {_fmt(v)} |" for k, v in s.pass_at_k.items()),
            *(f"| {k} mean / median | {_fmt(v['mean'])} / {_fmt(v['median'])} |" for k, v in s.metrics.items()),
            "",
            "| task | run | status | answer | expected | correct | score | calls | tokens | latency (s) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.results:
            cells = [
                r.task_id,
                r.run_id,
                r.status,
                r.answer,
                r.expected,
                r.correct,
                r.score,
                r.calls,
                r.prompt_tokens + r.completion_tokens,
                None if r.latency_s is None else round(r.latency_s, 2),
            ]
            lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
        return "\n".join(lines)
