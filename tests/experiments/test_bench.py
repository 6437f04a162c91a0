"""bench / abench / Experiment: summary figures, resume, errors, compare."""

from __future__ import annotations

import asyncio
import re
from typing import ClassVar

import pytest

from ponder import Experiment, abench, bench, registry
from ponder.agents.cot import CoT
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.experiments.comparison import compare
from ponder.experiments.task_results import summarize_results
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest
from tests._toys import ToyEnv, adder, question_number


@pytest.fixture(autouse=True)
def _toy_env_registered() -> None:
    registry.register("envs", "toy", ToyEnv)


async def test_bench_summary_counts_right_wrong_and_errored_tasks(store: TraceStore) -> None:
    backend = adder(wrong={1}, fail={3})
    exp = await abench(CoT(), ToyEnv(), backend=backend, store=store, concurrency=2)
    s = exp.summary
    assert (s.n, s.ok, s.errors, s.correct) == (4, 3, 1, 2)
    assert s.metric == "accuracy" and s.accuracy == 0.5  # errored tasks count as failures
    assert s.calls == 4  # the failed call is counted too
    assert s.prompt_tokens == sum(r.prompt_tokens for r in exp.results) > 0
    assert s.completion_tokens > 0
    assert s.cost_usd == 0.0  # scripted calls are free; known
    assert s.p50_s is not None and s.p95_s is not None and s.p50_s <= s.p95_s
    assert s.wall_s > 0
    by_task = {r.task_id: r for r in exp.results}
    assert [r.task_id for r in exp.results] == ["t0", "t1", "t2", "t3"]
    assert by_task["t1"].correct is False and by_task["t1"].answer == "3"
    assert by_task["t3"].status == "error" and "503" in (by_task["t3"].error or "")
    for r in exp.results:
        run = store.get_run(r.run_id)
        assert run.experiment_id == exp.id
    cfg = store.get_experiment(exp.id)["config"]
    assert cfg["agent"] == "cot" and cfg["env"] == "toy" and cfg["backend"] == "scripted"
    assert cfg["env_config"] == {"count": 4} and cfg["seed"] == 0 and cfg["n"] is None
    assert cfg["agent_config"]["temperature"] == 0.0


async def test_mean_score_metric_when_env_does_not_judge(store: TraceStore) -> None:
    class Graded(ToyEnv):
        def evaluate(self, task, answer):  # type: ignore[no-untyped-def]
            from ponder.envs.base import Evaluation

            return Evaluation(correct=None, score=0.5)

    exp = await abench(CoT(), Graded(count=2), backend=adder(), store=store)
    assert exp.summary.metric == "mean_score" and exp.summary.mean_score == 0.5
    assert exp.summary.accuracy is None


async def test_load_rebuilds_the_same_experiment(store: TraceStore) -> None:
    exp = await abench(CoT(), ToyEnv(), backend=adder(wrong={2}), store=store)
    again = Experiment.load(store, exp.id[:6])
    assert again.id == exp.id
    assert again.to_rows() == exp.to_rows()
    assert again.summary == exp.summary
    md = again.to_markdown()
    assert f"# Experiment {exp.id}" in md and "| accuracy | 0.750 |" in md
    assert len(re.findall(r"^\| t\d \|", md, re.MULTILINE)) == 4


async def test_resume_skips_finished_tasks(store: TraceStore) -> None:
    first = await abench(CoT(), ToyEnv(), backend=adder(fail={2, 3}), store=store)
    assert first.summary.errors == 2
    retry = adder()
    resumed = await abench(CoT(), ToyEnv(), backend=retry, store=store, resume=first.id)
    assert resumed.id == first.id
    assert sorted(question_number(r) for r in retry.requests) == [2, 3]  # t0, t1 not redone
    assert resumed.summary.errors == 0 and resumed.summary.accuracy == 1.0
    assert resumed.summary.n == 4
    # the errored runs stay in the trace; the experiment shows each task's finished run
    assert len(store.list_runs(experiment_id=first.id)) == 6


async def test_resume_refuses_another_agent(store: TraceStore) -> None:
    first = await abench(CoT(), ToyEnv(count=1), backend=adder(), store=store)

    class Other(CoT):
        name = "other"

    with pytest.raises(ConfigError, match="resume it with the same agent"):
        await abench(Other(), ToyEnv(count=1), backend=adder(), store=store, resume=first.id)


@pytest.mark.parametrize("n", [0, -3])
async def test_n_must_be_positive(store: TraceStore, n: int) -> None:
    with pytest.raises(ConfigError, match="n must be at least 1"):
        await abench(CoT(), ToyEnv(), backend=adder(), store=store, n=n)


async def test_first_n_tasks_and_names_from_the_registry(store: TraceStore) -> None:
    exp = await abench(
        "cot", "toy", backend=adder(), store=store, n=2, config={"max_tokens": 64}, env_config={"count": 9}
    )
    assert [r.task_id for r in exp.results] == ["t0", "t1"]
    assert exp.config["agent_config"]["max_tokens"] == 64 and exp.config["env_config"]["count"] == 9


async def test_bad_names_and_options_are_config_errors(store: TraceStore) -> None:
    with pytest.raises(ConfigError, match="unknown env 'nope'"):
        await abench("cot", "nope", backend=adder(), store=store)
    with pytest.raises(ConfigError, match="unknown agent 'nope'"):
        await abench("nope", "toy", backend=adder(), store=store)
    with pytest.raises(ConfigError, match="has no option 'k'"):
        await abench("cot", "toy", backend=adder(), store=store, config={"k": 3})


async def test_concurrency_is_bounded_and_used(store: TraceStore) -> None:
    live = peak = 0

    async def answer(req: CompletionRequest) -> str:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        for _ in range(5):
            await asyncio.sleep(0)
        live -= 1
        return "The answer is 0."

    await abench(CoT(), ToyEnv(count=10), backend=ScriptedBackend(answer), store=store, concurrency=3)
    assert peak == 3


async def test_agent_bug_is_an_errored_task_not_a_crash(store: TraceStore) -> None:
    class Buggy(CoT):
        name = "buggy"

        async def solve(self, task, ctx):  # type: ignore[no-untyped-def]
            if task.id == "t1":
                raise KeyError("oops")
            return await super().solve(task, ctx)

    exp = await abench(Buggy(), ToyEnv(count=3), backend=adder(), store=store)
    assert exp.summary.errors == 1
    assert "KeyError" in (next(r for r in exp.results if r.task_id == "t1").error or "")


async def test_progress_reports_each_task(store: TraceStore) -> None:
    seen = []
    await abench(CoT(), ToyEnv(), backend=adder(wrong={0}), store=store, progress=seen.append)
    assert [p.done for p in seen] == [0, 1, 2, 3, 4]
    assert seen[0].total == 4 and seen[0].last is None and seen[0].accuracy is None
    assert seen[-1].total == 4 and seen[-1].correct == 3 and seen[-1].accuracy == 0.75
    assert seen[-1].tokens == sum(p.last.prompt_tokens + p.last.completion_tokens for p in seen if p.last)


def test_sync_bench_and_compare(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = TraceStore(tmp_path / "x.db")
    a = bench(CoT(), ToyEnv(), backend=adder(wrong={1}), store=store)
    b = bench(CoT(), ToyEnv(), backend=adder(wrong={2, 3}), store=store)
    pairs = {(p["solved_by"], p["not_by"]): p["tasks"] for p in compare([a, b]).solved_by_one_only}
    assert pairs[(a.id, b.id)] == ["t2", "t3"]
    assert pairs[(b.id, a.id)] == ["t1"]


def test_cost_is_unknown_when_a_price_is_unknown() -> None:
    from ponder.experiments.task_results import TaskResult

    rows = [
        TaskResult(task_id="a", run_id="1", status="ok", calls=1, cost_usd=0.01, latency_s=1.0),
        TaskResult(task_id="b", run_id="2", status="ok", calls=1, cost_usd=None, latency_s=3.0),
    ]
    s = summarize_results(rows)
    assert s.cost_usd is None
    assert (s.p50_s, s.p95_s) == (1.0, 3.0)


def test_tasks_with_expected_answers_whose_every_run_failed_score_zero_not_unknown() -> None:
    # LATS under a token budget it always spends: 0 of n, plotted and compared, not "no accuracy"
    from ponder.experiments.task_results import TaskResult

    spent = "the run used its 3000 tokens (raise it with --max-tokens)"
    rows = [TaskResult(task_id=t, run_id=t, status="error", expected="8", error=spent) for t in "ab"]
    s = summarize_results(rows)
    assert (s.metric, s.accuracy, s.errors) == ("accuracy", 0.0, 2)
    unjudged = [TaskResult(task_id="a", run_id="1", status="error", error=spent)]
    assert summarize_results(unjudged).accuracy is None


def test_env_is_filled_in_only_for_agents_that_work_with_it() -> None:
    from typing import Any

    from pydantic import Field

    from ponder.experiments.sweeps import build_agent

    class EnvAgent(CoT):
        name: ClassVar[str] = "envagent"
        env: str | None = None
        env_config: dict[str, Any] = Field(default_factory=dict)

    class PuzzleEnv(ToyEnv):
        name: ClassVar[str] = "puzzle"
        searchable: ClassVar[bool] = True

    registry.register("agents", "envagent", EnvAgent)
    assert build_agent("envagent", {}, env=ToyEnv()).env is None  # a question-and-score env: left alone
    filled = build_agent("envagent", {}, env=PuzzleEnv(count=2))
    assert filled.env == "puzzle" and filled.env_config == {"count": 2}
    assert build_agent("envagent", {"env": None}, env=PuzzleEnv()).env is None  # the user's say wins
    assert build_agent("cot", {}, env=PuzzleEnv()).env == "puzzle"  # CoT takes such an env's own CoT prompt


async def test_totals_include_child_runs(store: TraceStore) -> None:
    from tests._toys import FanOut, shuffled_backend

    exp = await abench(FanOut(width=3), ToyEnv(count=2), backend=shuffled_backend(), store=store)
    for r in exp.results:
        own = store.own_usage(r.run_id)
        assert own.calls == 3  # the branches; the CoT trial is a child run with its own row
        assert r.calls == 4 == store.get_run(r.run_id).calls  # a run's totals include its child runs'
        assert r.prompt_tokens > own.prompt_tokens
    assert exp.summary.calls == 8


async def test_resume_refuses_other_options_or_seed(store: TraceStore) -> None:
    first = await abench(CoT(), ToyEnv(count=1), backend=adder(fail={0}), store=store, seed=5)
    with pytest.raises(ConfigError, match=r"other options \(temperature\)"):
        await abench(CoT(temperature=0.3), ToyEnv(count=1), backend=adder(), store=store, seed=5, resume=first.id)
    with pytest.raises(ConfigError, match="resume it with seed 5"):
        await abench(CoT(), ToyEnv(count=1), backend=adder(), store=store, resume=first.id)
    again = await abench(CoT(), ToyEnv(count=1), backend=adder(), store=store, seed=5, resume=first.id)
    assert again.summary.errors == 0


async def test_one_sample_per_problem_of_a_code_env_reports_pass_at_1(store: TraceStore) -> None:
    # an env that runs tests on code (humaneval) reports pass@k; with one sample per problem that
    # is pass@1, the fraction of problems whose one sample passed
    class Tested(ToyEnv):
        name: ClassVar[str] = "toy_tested"
        runs_tests: ClassVar[bool] = True

    registry.register("envs", "toy_tested", Tested)
    exp = await abench(CoT(), Tested(), backend=adder(wrong={1}), store=store)
    assert exp.summary.pass_at_k == {"pass@1": 0.75}
    assert Experiment.load(store, exp.id).summary.pass_at_k == {"pass@1": 0.75}
    plain = await abench(CoT(), ToyEnv(), backend=adder(wrong={1}), store=store)
    assert plain.summary.pass_at_k == {}  # no tests run: accuracy, not pass@k
