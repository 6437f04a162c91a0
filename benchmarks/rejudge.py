"""Judge a recorded experiment's answers again with the env as it is now, without calling a model. Prints JSON.

The answers are the ones the experiment recorded (each task's finished run); only the judging is
new — for HumanEval, the program built around the answer and its tests run in the sandbox. It
shows what a change to an env's judging does to figures already measured: which tasks it gains,
which it loses.

    python benchmarks/rejudge.py --db he05idle.db --experiment b490f74763ad [--env-set sandbox=rlimits]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ponder import registry
from ponder.backends.config import parse_settings
from ponder.experiments.results import Experiment
from ponder.traces.store import TraceStore
from ponder.types import Task


def rejudge(store: TraceStore, exp_id: str, env_set: dict[str, Any]) -> dict[str, Any]:
    """The experiment's figures as recorded and as judged now, and the tasks that changed."""
    exp = Experiment.load(store, exp_id)
    config = {**(exp.config.get("env_config") or {}), **env_set}
    env = registry.build("envs", str(exp.config["env"]), config, "env")
    gained, lost, before, after = [], [], 0, 0
    for r in exp.results:
        if r.status != "ok":
            continue
        task = Task.model_validate(store.get_run(r.run_id).task)
        now = bool(env.evaluate(task, r.answer).correct)
        before += bool(r.correct)
        after += now
        if now and not r.correct:
            gained.append(r.task_id)
        elif r.correct and not now:
            lost.append(r.task_id)
    n = len(exp.results)
    return {
        "experiment": exp.id,
        "env": exp.config["env"],
        "model": exp.config.get("model"),
        "tasks": n,
        "recorded": {"correct": before, "accuracy": round(before / n, 4) if n else None},
        "now": {"correct": after, "accuracy": round(after / n, 4) if n else None},
        "gained": gained,
        "lost": lost,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--env-set", action="append", default=[], help="env option key=value (e.g. sandbox=rlimits)")
    args = ap.parse_args()
    store = TraceStore(args.db)
    try:
        print(json.dumps(rejudge(store, args.experiment, parse_settings(args.env_set)), indent=2))
    finally:
        store.close()


if __name__ == "__main__":
    main()
