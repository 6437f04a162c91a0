"""Record every strategy's shipped real-model recordings on Qwen2.5-Coder-0.5B-Instruct (Q4_K_M),
through ponder's local backend (the `local` extra; the model from `ponder models pull
qwen2.5-coder-0.5b`):

    nice -n 10 python -m tests.recordings.record_real [NAME...]     # NAME: a file's stem, `pytest` or `pytest:EXPR`

Two kinds of recording are made (tests/recordings/README.md lists them all):

- `RUNS`: one run each, on the first task of an env the strategy is made for, with small options
  and a call budget, seed 0; recorded here, replayed at once (must be `identical`), then
  finalized into tests/recordings/NAME.db.
- `PYTEST`: the recordings of the replay tests in test_recorded_agents.py and
  test_recorded_strategies.py, re-recorded by those tests themselves (`--ponder-record=all`)
  with a config profile that selects the same backend.

Backend: slots=4 (concurrent branches decode together), threads=1, context 4096 per slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder import errors, registry
from ponder.backends.local import LocalBackend
from ponder.experiments.sweeps import build_agent
from ponder.replay.cassette import finalize_recording, remove_database
from ponder.replay.rerun import areplay
from ponder.runtime.budget import Budget
from ponder.runtime.runner import env_evaluator, env_tools, run_agent
from ponder.traces.store import TraceStore

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
MODEL = "qwen2.5-coder-0.5b"
BACKEND = {"slots": 4, "threads": 1, "context": 4096}
SEED = 0
MAX_CALLS = 40  # a safety net: every run below ends well within it


@dataclass(frozen=True)
class Spec:
    """One recorded run: `agent` with `options`, on task `task` (an index) of env `env`."""

    agent: str
    options: dict[str, Any]
    env: str
    env_options: dict[str, Any] = field(default_factory=dict)
    task: int = 0


SHORT = {"max_tokens": 128}
COT = {"max_tokens": 256}  # the 0.5B writes its arithmetic out (LaTeX and all): 128 tokens cut most chains short
RUNS: dict[str, Spec] = {
    # composed: best-of-n over CoT, scored by the model itself
    "best_of_n_arithmetic": Spec("best_of_n", {"n": 2, "select": "self_score", "inner_config": COT}, "arithmetic"),
    # composed: Reflexion over CoT, the env's verdict as feedback
    "reflexion_cot_arithmetic": Spec("reflexion", {"inner": "cot", "max_trials": 2, "inner_config": COT}, "arithmetic"),
    # composed: plan-and-execute with ReAct (calculator) executing each step
    "real_plan_execute_arithmetic": Spec(
        "plan_execute",
        {"max_steps": 3, "max_replans": 1, "max_tokens": 256, "executor_config": {"max_steps": 2, **SHORT}},
        "arithmetic",
    ),
    "real_mcts_game24": Spec(
        "mcts", {"n_iterations": 2, "parallel": 2, "n_evaluate": 1, "n_propose": 2, **SHORT}, "game24"
    ),
    # beam over free-text steps (on Game of 24 every step the 0.5B proposes is invalid: see tot_game24)
    "real_beam_arithmetic": Spec("beam", {"width": 2, "depth": 2, "n_evaluate": 1, **SHORT}, "arithmetic"),
    "got_sorting32": Spec("got", {"graph": "got", "max_tokens": 256}, "sorting", {"size": 32}),
    "rap_blocksworld2": Spec(
        "rap", {"n_iters": 1, "depth_limit": 2, "n_action_samples": 2}, "blocksworld", {"steps": 2}
    ),
    "real_rap_gsm8k_arithmetic": Spec(
        "rap_gsm8k", {"n_iters": 1, "depth_limit": 2, "n_actions": 2, "n_confidence": 2, "n_shots": 1}, "arithmetic"
    ),
    "real_lats_household": Spec("lats", {"n_iterations": 2, "n_generate": 2, "max_depth": 3, **SHORT}, "household"),
    "real_llm_compiler_parallel_qa": Spec("llm_compiler", {"max_replans": 1, "max_tokens": 256}, "parallel_qa"),
}
# the replay tests whose recordings come from the real model (each test records its own)
PYTEST = ["tests/recordings/test_recorded_agents.py", "tests/recordings/test_recorded_strategies.py"]


async def record(name: str, backend: LocalBackend) -> None:
    """Record `name` into tests/recordings/NAME.db (replacing it), verified by an identical replay."""
    spec = RUNS[name]
    env = registry.build("envs", spec.env, spec.env_options, "env")
    task = list(env.tasks())[spec.task]
    agent = build_agent(spec.agent, spec.options, env=env)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / f"{name}.db"
        store = TraceStore(scratch)
        run_id = "real-" + name.removeprefix("real_")
        with contextlib.suppress(errors.PonderError):  # a small model's run may end in an error: recorded
            await run_agent(
                agent,
                task,
                backend=backend,
                store=store,
                tools=env_tools(env, task),
                evaluator=env_evaluator(env),
                budget=Budget(max_calls=MAX_CALLS),
                seed=SEED,
                run_id=run_id,
                env=env,
            )
        run = store.get_run(run_id)
        calls = store.llm_calls(store.descendant_run_ids(run_id))
        tokens = sum(c.completion_tokens or 0 for c in calls)
        report = await areplay(store, run_id)
        if not report.identical:
            raise SystemExit(f"{name}: the replay is not identical:\n{report.render()}")
        finalize_recording(store)
        path = HERE / f"{name}.db"
        remove_database(path)
        path.write_bytes(scratch.read_bytes())
    print(
        f"{name}: {run.status}, answer {run.answer!r}, correct {run.correct}, {len(calls)} calls, "
        f"{tokens} completion tokens, {path.stat().st_size} bytes" + (f", error: {run.error}" if run.error else ""),
        flush=True,
    )


def record_pytest(select: str | None = None) -> None:
    """Re-record the replay tests' recordings through the tests themselves, with this backend.

    select: only the tests pytest's `-k` selects with it (`pytest:EXPR` on the command line)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        options = "\n".join(f"{k} = {v}" for k, v in BACKEND.items())
        config.write_text(
            f'default = "real"\n\n[profiles.real]\nbackend = "local"\nmodel = "{MODEL}"\n{options}\n', encoding="utf-8"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PONDER_", "OPENAI_"))}
        env["PONDER_CONFIG"] = str(config)
        cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *PYTEST]
        cmd.append("--ponder-record=all")
        if select:
            cmd += ["-k", select]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)


async def record_runs(names: list[str]) -> None:
    backend = LocalBackend(MODEL, **BACKEND)
    backend.load()
    try:
        for name in names:
            await record(name, backend)
    finally:
        backend.close()


def table() -> str:
    """The README's table of the recordings made on MODEL: file, strategy, task, outcome, size."""
    rows = ["| file | strategy | env / task | outcome | calls | size |", "|---|---|---|---|---|---|"]
    for db in sorted(HERE.glob("*.db")):
        with TraceStore(db, readonly=True, create=False) as store:
            runs = [r for r in store.list_runs(limit=100) if r.backend == "local" and r.model == MODEL]
            for run in runs:
                inner = run.config.get("inner") or run.config.get("executor")
                agent = f"{run.agent} over {inner}" if inner else run.agent
                where = f"{run.env['name']} / " if run.env else ""
                answer = " ".join((run.answer or "").split())
                answer = answer if len(answer) <= 40 else answer[:40] + "…"
                outcome = (
                    f"{run.status}, `{answer}` ({'right' if run.correct else 'wrong'})"
                    if run.answer is not None
                    else f"{run.status}: {run.error}"
                )
                calls = len(store.llm_calls(store.descendant_run_ids(run.id)))
                task, size = run.task.get("id", ""), db.stat().st_size
                rows.append(f"| `{db.name}` | {agent} | {where}`{task}` | {outcome} | {calls} | {size:,} |")
    return "\n".join(rows)


def main(names: list[str]) -> None:
    """Record the named recordings (all of them when none is named; `pytest`: the replay tests'; `--table`:
    print the README's table)."""
    if names == ["--table"]:
        print(table())
        return
    names = names or [*RUNS, "pytest"]
    unknown = [n for n in names if n not in RUNS and n != "pytest" and not n.startswith("pytest:")]
    if unknown:
        raise SystemExit(f"no such recording: {', '.join(unknown)} (known: {', '.join(RUNS)}, pytest, pytest:EXPR)")
    runs = [n for n in names if n in RUNS]
    if runs:
        asyncio.run(record_runs(runs))
    for name in names:
        if name == "pytest" or name.startswith("pytest:"):
            record_pytest(name.partition(":")[2] or None)


if __name__ == "__main__":
    main(sys.argv[1:])
