"""Equal-budget comparison of strategies on a real model: one `ponder bench` per (env, strategy), every
task under the same token budget, then `ponder compare` and `ponder plot` per env — the commands a user
would type, run as subprocesses, so what is measured is what the CLI does.

    python benchmarks/strategy_comparison.py --backend q05 --db cmp05.db --out docs/img/cmp05 \\
        [--humaneval 10] [--arithmetic 10] [--strategies cot,self_consistency,reflexion,lats,mcts]

`--backend` is a config profile (`$PONDER_CONFIG`) or `local` with `--model`. Each bench prints JSON;
this script prints one JSON object: per env, per strategy, the experiment id, accuracy, tokens per task,
calls per task, errors (a task whose budget ran out is an error, counted as not solved) and the command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

# per strategy: its settings (`--set`), the same on both envs unless an env overrides them
STRATEGIES: dict[str, list[str]] = {
    "cot": [],
    "self_consistency": ["k=5"],
    # CoT trials; on code judged by the prompt's own examples (visible), never the hidden tests
    "reflexion": ["inner=cot", "feedback=visible", "max_trials=3", "max_tokens=512"],
    "lats": ["n_iterations=4", "n_generate=2", "parallel=2", "feedback=visible"],
    "mcts": ["n_iterations=4", "n_evaluate=1", "parallel=2"],
}
# without unit tests (arithmetic), Reflexion's `auto` evaluator would be the env's exact match — the
# expected answer; the model judges its own answer instead
ENV_OVERRIDES: dict[tuple[str, str], list[str]] = {("arithmetic", "reflexion"): ["evaluator=self"]}
ENVS: dict[str, dict[str, Any]] = {
    "humaneval": {"env_set": ["sandbox=rlimits"], "budget": 4000},
    "arithmetic": {"env_set": [], "budget": 3000},
}


def ponder_exe() -> str:
    """The `ponder` of this interpreter's environment (a venv's bin/), else the one on PATH."""
    beside = Path(sys.executable).with_name("ponder")
    return str(beside) if beside.exists() else "ponder"


def bench_command(args: argparse.Namespace, env: str, strategy: str, n: int) -> list[str]:
    spec = ENVS[env]
    cmd = [ponder_exe(), "bench", "--env", env, "--agent", strategy, "--n", str(n), "--backend", args.backend]
    cmd += ["--max-tokens", str(spec["budget"]), "--concurrency", str(args.concurrency), "--db", str(args.db)]
    if args.model:
        cmd += ["--model", args.model]
    for s in spec["env_set"]:
        cmd += ["--env-set", s]
    for s in STRATEGIES[strategy] + ENV_OVERRIDES.get((env, strategy), []):
        cmd += ["--set", s]
    return [*cmd, "--json"]


def run_json(cmd: list[str]) -> dict[str, Any]:
    print("$", shlex.join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[1]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", required=True, help="a config profile, or local (with --model)")
    p.add_argument("--model", default=None)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="chart path prefix: <out>-<env>.png")
    p.add_argument("--humaneval", type=int, default=10, help="the first N HumanEval problems")
    p.add_argument("--arithmetic", type=int, default=10, help="the first N arithmetic (GSM8K-format) tasks")
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--concurrency", type=int, default=2)
    args = p.parse_args()
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise SystemExit(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    report: dict[str, Any] = {"backend": args.backend, "model": args.model, "envs": {}}
    for env, n in (("humaneval", args.humaneval), ("arithmetic", args.arithmetic)):
        if n <= 0:
            continue
        rows: dict[str, Any] = {}
        for strategy in strategies:
            cmd = bench_command(args, env, strategy, n)
            s = run_json(cmd)
            rows[strategy] = {"experiment": s["id"], "summary": s["summary"], "command": shlex.join(cmd)}
        ids = [r["experiment"] for r in rows.values()]
        chart = args.out.with_name(f"{args.out.name}-{env}.png")
        chart.parent.mkdir(parents=True, exist_ok=True)
        title = f"{env} (first {n}), {ENVS[env]['budget']} tokens per task, {args.model or args.backend}"
        plot = [ponder_exe(), "plot", *ids, "--db", str(args.db), "-o", str(chart), "--title", title, "--json"]
        compare = [ponder_exe(), "compare", *ids, "--db", str(args.db), "--json"]
        report["envs"][env] = {
            "n": n,
            "budget_tokens": ENVS[env]["budget"],
            "strategies": rows,
            "compare": run_json(compare),
            "plot": run_json(plot),
            "chart": str(chart),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
