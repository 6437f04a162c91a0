"""How an experiment's tasks went: a `TaskResult` per task, read from its run, and the `Summary`
figures over them (accuracy or mean score, tokens, cost, latency, pass@k, oracle, error reasons)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import ItemsView, Iterable, KeysView, ValuesView
from typing import Any

from pydantic import BaseModel, Field, computed_field

from ponder.errors import PonderError
from ponder.experiments.metrics import pass_at_k_table
from ponder.experiments.oracle import oracle
from ponder.runtime.runner import ended_without_answer
from ponder.traces.events import RunRecord
from ponder.traces.store import TraceStore
from ponder.types import Task


class TaskResult(BaseModel):
    """How one task of an experiment went (its last run: the finished one if there is one)."""

    task_id: str
    input: str = ""
    expected: str | None = None
    run_id: str
    status: str
    answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float | None = None
    error: str | None = None
    oracle: bool | None = None
    oracle_kind: str | None = None
    started_at: float = 0.0
    ended_at: float | None = None
    problem: str | None = None  # the problem this task samples (env `samples` > 1), for pass@k
    metrics: dict[str, float] | None = None  # the env's figures of the answer (sorting: errors)
    metrics_of_no_answer: bool = False  # the run failed unjudged (out of budget): `metrics` are no answer's
    eval_error: str | None = None  # why the answer could not be judged (its check failed to run)
    cut_calls: int = 0  # calls (its child runs' included) whose completion stopped at max_tokens


class Summary(BaseModel):
    """The figures of an experiment. Errored tasks count as failures in `accuracy` and `mean_score`.

    metric: "accuracy" when the env judges right/wrong, else "mean_score" (reward, F1, pass@1).
    cost_usd: None when some run's price is unknown (never invented).
    wall_s: time covered by the runs (the union of their intervals, so the pause between
        an interrupted experiment and its resumption is not counted).
    p50_s / p95_s: per-task latency (nearest-rank percentiles).
    pass_at_k: {"pass@1": …, "pass@k": …} over the problems, in an env that runs tests on code
        (humaneval: one sample per problem gives pass@1; with `samples` n, pass@k up to n; unbiased
        estimator, errored samples count as failed).
    error_reasons: why tasks failed: the first line of each error, with how many tasks it stopped.
    eval_errors: answers that could not be judged (the env's check failed to run: no sandbox), counted
        apart from wrong answers (and from `correct`); `eval_error_reasons` says why.
    cut_calls / cut_tasks / cut_correct: completions that stopped at the agent's `max_tokens` (a
        program or an answer cut off is judged as it stands), the tasks with one, and how many of
        those tasks were still right.
    """

    n: int = 0
    ok: int = 0
    errors: int = 0
    correct: int = 0
    metric: str = "accuracy"
    accuracy: float | None = None
    mean_score: float | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    wall_s: float = 0.0
    p50_s: float | None = None
    p95_s: float | None = None
    pass_at_k: dict[str, float] = Field(default_factory=dict)
    oracle_kind: str | None = None
    oracle_correct: int | None = None
    oracle_accuracy: float | None = None
    error_reasons: dict[str, int] = Field(default_factory=dict)
    eval_errors: int = 0
    eval_error_reasons: dict[str, int] = Field(default_factory=dict)
    cut_calls: int = 0
    cut_tasks: int = 0
    cut_correct: int = 0
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Per env metric (sorting's `errors`): its mean and median over the tasks that have it (`n`); a run that
    failed unjudged (out of budget) counts at what no answer scores, and `failed` says how many did."""

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON-able data, `per_1k_tokens` included."""
        return self.model_dump(mode="json")

    # read like a dict too: summary["accuracy"], dict(summary), pandas.Series(summary), json.dumps(dict(summary))
    def keys(self) -> KeysView[str]:
        """The figures' names."""
        return self.to_dict().keys()

    def values(self) -> ValuesView[Any]:
        """The figures."""
        return self.to_dict().values()

    def items(self) -> ItemsView[str, Any]:
        """(name, figure) pairs."""
        return self.to_dict().items()

    def __getitem__(self, key: str) -> Any:
        data = self.to_dict()
        if key not in data:
            raise KeyError(f"{key!r}: a summary has {', '.join(data)}")
        return data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def errors_text(self) -> str:
        """The error count with its reasons, most common first: `2 (BackendError: 500 ×2)`."""
        return _count_text(self.errors, self.error_reasons)

    def cut_text(self) -> str:
        """Completions cut at max_tokens: `0`, or `13 calls in 12 tasks (3 of them right)`."""
        if not self.cut_calls:
            return "0"
        calls = "1 call" if self.cut_calls == 1 else f"{self.cut_calls} calls"
        tasks = "1 task" if self.cut_tasks == 1 else f"{self.cut_tasks} tasks"
        return f"{calls} in {tasks} ({self.cut_correct} of them right)"

    def eval_errors_text(self) -> str:
        """The evaluation error count with its reasons: `1 (ToolError: cannot run the tests: …)`."""
        return _count_text(self.eval_errors, self.eval_error_reasons)

    @property
    def value(self) -> float | None:
        """The headline figure: accuracy, or mean score where there is no right/wrong."""
        return self.accuracy if self.metric == "accuracy" else self.mean_score

    @computed_field  # type: ignore[prop-decorator]
    @property
    def per_1k_tokens(self) -> float | None:
        """The headline figure per 1,000 tokens per task: for accuracy, correct answers per 1k tokens spent."""
        tokens = self.prompt_tokens + self.completion_tokens
        if self.value is None or tokens == 0:
            return None
        return self.value * self.n * 1000 / tokens


def _count_text(count: int, reasons: dict[str, int]) -> str:
    if not reasons:
        return str(count)
    ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = "; ".join(f"{r} ×{n}" if n > 1 else r for r, n in ordered[:3])
    more = f"; {len(ordered) - 3} more reasons" if len(ordered) > 3 else ""
    return f"{count} ({shown}{more})"


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def error_reason(error: str | None, limit: int = 100) -> str:
    """One short line saying why a task failed (its error's first line)."""
    line = (error or "").strip().splitlines()[0] if (error or "").strip() else "no reason recorded"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summarize_results(results: list[TaskResult]) -> Summary:
    """The summary figures of a list of task results."""
    n = len(results)
    ok = [r for r in results if r.status == "ok"]
    correct = sum(1 for r in results if r.correct)
    # where no run finished (every budget spent), tasks with an expected answer still score: accuracy 0
    judged = any(r.correct is not None for r in results) or (not ok and any(r.expected is not None for r in results))
    scored = any(r.score is not None for r in results)
    known_costs = [r.cost_usd for r in results if r.cost_usd is not None]
    cost_known = bool(known_costs) and all(r.cost_usd is not None for r in ok if r.calls)
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    spans = [(r.started_at, r.ended_at) for r in results if r.ended_at is not None]
    # "any of b" (tree search) or "best of k" (sampling), where every judged run has one
    kinds = {r.oracle_kind for r in results if r.oracle_kind is not None}
    oracle_kind = kinds.pop() if len(kinds) == 1 else None
    oracle_correct = sum(1 for r in results if r.oracle) if oracle_kind is not None else None
    return Summary(
        oracle_kind=oracle_kind,
        oracle_correct=oracle_correct,
        oracle_accuracy=oracle_correct / n if oracle_correct is not None and n else None,
        n=n,
        ok=len(ok),
        errors=n - len(ok),
        correct=correct,
        metric="accuracy" if judged or not scored else "mean_score",
        accuracy=correct / n if n and judged else None,
        mean_score=sum(r.score or 0.0 for r in results) / n if n and scored else None,
        calls=sum(r.calls for r in results),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        cost_usd=sum(known_costs) if cost_known else None,
        wall_s=_union_length(spans),
        p50_s=_percentile(latencies, 0.50),
        p95_s=_percentile(latencies, 0.95),
        pass_at_k=_pass_at_k(results),
        error_reasons=dict(Counter(error_reason(r.error) for r in results if r.status != "ok")),
        eval_errors=sum(1 for r in results if r.eval_error is not None),
        eval_error_reasons=dict(Counter(error_reason(r.eval_error) for r in results if r.eval_error is not None)),
        cut_calls=sum(r.cut_calls for r in results),
        cut_tasks=sum(1 for r in results if r.cut_calls),
        cut_correct=sum(1 for r in results if r.cut_calls and r.correct),
        metrics=_metric_stats(results),
    )


def _metric_stats(results: list[TaskResult]) -> dict[str, dict[str, float]]:
    """Per env metric its mean, median and `n` (tasks with the figure); `failed`, where some, says how many
    of those are runs that failed unjudged, counted at what no answer scores."""
    values: dict[str, list[float]] = {}
    failed: Counter[str] = Counter()
    for r in results:
        for k, v in (r.metrics or {}).items():
            values.setdefault(k, []).append(float(v))
            failed[k] += r.metrics_of_no_answer
    return {
        k: {"mean": statistics.fmean(vs), "median": statistics.median(vs), "n": len(vs)}
        | ({"failed": failed[k]} if failed[k] else {})
        for k, vs in values.items()
    }


def _pass_at_k(results: list[TaskResult]) -> dict[str, float]:
    if not any(r.problem for r in results):
        return {}
    counts: dict[str, tuple[int, int]] = {}
    for r in results:
        n, c = counts.get(r.problem or r.task_id, (0, 0))
        counts[r.problem or r.task_id] = (n + 1, c + bool(r.correct))
    return pass_at_k_table(counts)


def _totals(store: TraceStore, run: RunRecord) -> tuple[int, int, int, float | None]:
    """Calls, prompt and completion tokens and cost of a run with its child runs (Reflexion trials)."""
    t = store.run_totals(run.id)
    return t.calls, t.prompt_tokens, t.completion_tokens, t.cost_usd


def _oracle_of(run: RunRecord, store: TraceStore, env: Any) -> tuple[bool | None, str | None]:
    # a run that failed has no final candidates to judge; one that found no answer has them all wrong
    if env is None or (run.status != "ok" and not ended_without_answer(run.status, run.answer, run.error)):
        return None, None
    try:
        return oracle(store, run.id, Task.model_validate(run.task), env)
    except (PonderError, ValueError):  # a task or event the env cannot read: no oracle figure
        return None, None


def _no_answer_metrics(run: RunRecord, env: Any) -> dict[str, float] | None:
    """The env's figures of no answer, for a run that failed before it was judged (out of budget, timed out,
    crashed): a strategy that runs out of its budget scores as one that answered nothing (sorting: errors
    300), never better for having no figure. None for a run that was judged or an env with no figures."""
    if run.metrics is not None or env is None or run.status not in ("error", "timeout") or run.answer is not None:
        return None
    try:
        judged = env.evaluate(Task.model_validate(run.task), None)
    except (PonderError, ValueError):  # a task the env cannot read: no figure
        return None
    return dict(judged.metrics) or None


def _result_of(run: RunRecord, store: TraceStore, error: str | None = None, env: Any = None) -> TaskResult:
    task = run.task
    calls, prompt_tokens, completion_tokens, cost = _totals(store, run)
    hit, kind = _oracle_of(run, store, env)
    no_answer = _no_answer_metrics(run, env)
    return TaskResult(
        oracle=hit,
        oracle_kind=kind,
        task_id=str(task.get("id", run.id)),
        input=str(task.get("input", "")),
        expected=task.get("expected"),
        run_id=run.id,
        status=run.status,
        answer=run.answer,
        correct=run.correct,
        score=run.score,
        calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        latency_s=run.wall_s,
        error=error or run.error,
        started_at=run.started_at,
        ended_at=run.ended_at,
        problem=_problem_of(task, env),
        metrics=run.metrics if no_answer is None else no_answer,
        metrics_of_no_answer=no_answer is not None,
        eval_error=run.eval_error,
        cut_calls=store.cut_calls(run.id),
    )


def result_of_run(store: TraceStore, run_id: str, *, env: Any = None, error: str | None = None) -> TaskResult:
    """How the task that run `run_id` ran went (`error`: why, where the run row does not say)."""
    return _result_of(store.get_run(run_id), store, error, env=env)


def _problem_of(task: dict[str, Any], env: Any = None) -> str | None:
    """The problem a task samples; in an env that runs tests, a task drawn once is its own problem (pass@1)."""
    md = task.get("metadata")
    problem = md.get("problem") if isinstance(md, dict) else None
    if problem is None and env is not None and env.runs_tests and "id" in task:
        problem = task["id"]
    return str(problem) if problem is not None else None
