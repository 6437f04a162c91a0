"""Compute-matched comparison (issue 20, item 5): tot, mcts, beam, got, best_of_n and self_consistency
benched at one per-task token budget (`ponder bench --max-tokens B`) on Game of 24 and on sorting-32,
then `ponder compare` and `ponder plot` (accuracy — and for sorting the official error count — against
tokens per task). Every step is the real CLI in a subprocess; the commands are printed as they run.

    python benchmarks/compute_matched.py --model fake [--n 10] [--db /tmp/cm.db] [--plots docs/img]
    python benchmarks/compute_matched.py --model local [--n 2] [--threads 1] [--slots 4]

`fake`: a loopback OpenAI-compatible server (benchmarks/_fake_openai.py) answering with a noisy
stand-in model (benchmarks/_cm_model.py); it counts words as tokens. `local`: the real
Qwen2.5-Coder-0.5B on the local backend, through a config profile written for the run
(threads, slots). Each strategy's settings are chosen so that its usual run fits the budget
(the tables below); the budget is a hard cap checked before each model call, and no strategy
scales itself to it: a run that reaches it stops with BudgetExceeded, which bench counts as a
failed task (a wrong answer, and for sorting the error count of no answer, 300).

Prints, as markdown, one table per env (strategy, settings, accuracy, errors, tokens and calls per
task, failed tasks and why) and the plot files written. Game of 24 has no `got` row: GoT has no
Game-of-24 graph (the paper gives none), so `got` refuses the env.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# the `ponder` command beside this Python (a virtual environment's), else the one on PATH
_BESIDE = Path(sys.executable).parent / "ponder"
PONDER = [str(_BESIDE) if _BESIDE.exists() else "ponder"]
if shutil.which(PONDER[0]) is None:
    raise SystemExit("the ponder command is not installed (pip install -e .)")

# per profile: env -> (budget in tokens per task, [(strategy, its --set options)])
PLANS: dict[str, dict[str, tuple[int, list[tuple[str, dict[str, Any]]]]]] = {
    "fake": {
        "game24": (
            8000,
            [
                ("tot", {"breadth": 2, "n_evaluate": 1}),
                ("mcts", {"n_iterations": 3, "n_evaluate": 1}),
                ("beam", {"width": 2, "n_evaluate": 1, "depth": 4}),
                ("best_of_n", {"n": 180}),
                ("self_consistency", {"k": 180}),
            ],
        ),
        "sorting": (
            3000,
            [
                ("got", {"graph": "got"}),
                ("tot", {"breadth": 3, "n_evaluate": 2}),
                ("mcts", {"n_iterations": 12, "n_evaluate": 1}),
                ("beam", {"width": 3, "n_evaluate": 2}),
                ("best_of_n", {"n": 56}),
                ("self_consistency", {"k": 56}),
            ],
        ),
    },
    "local": {
        # the 0.5B on one thread: prompts are counted per sample here (no shared n), so a budget buys
        # few samples; the searches' value prompts (one per proposed step) do not fit a Game-of-24 level
        "game24": (
            1600,
            [
                ("tot", {"breadth": 1, "n_evaluate": 1, "max_tokens": 96}),
                ("mcts", {"n_iterations": 1, "n_evaluate": 1, "max_tokens": 96}),
                ("beam", {"width": 1, "n_evaluate": 1, "max_tokens": 96}),
                ("best_of_n", {"n": 2, "inner_config": {"max_tokens": 160}}),
                ("self_consistency", {"k": 2, "inner_config": {"max_tokens": 160}}),
            ],
        ),
        "sorting": (
            3000,
            [
                ("got", {"graph": "got", "max_tokens": 200}),
                ("tot", {"breadth": 1, "depth": 2, "n_evaluate": 1, "max_tokens": 200}),
                ("mcts", {"n_iterations": 2, "n_evaluate": 1, "max_tokens": 200}),
                ("beam", {"width": 1, "depth": 2, "n_evaluate": 1, "max_tokens": 200}),
                ("best_of_n", {"n": 3, "inner_config": {"style": "io", "max_tokens": 200}}),
                ("self_consistency", {"k": 3, "inner_config": {"style": "io", "max_tokens": 200}}),
            ],
        ),
    },
}
ENV_SETS = {"game24": [], "sorting": ["size=32"]}
# settings that do not fit the budget, run too to show how bench counts them: a run that reaches the
# budget stops at its next call and fails (accuracy 0; sorting: the error count of no answer, 300); a
# single call is never cut, so one request for many samples can pass the budget and still count
# (left out of the errors chart, whose 300s would flatten the others)
OVER_BUDGET: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "game24": [("tot", {"breadth": 5, "n_evaluate": 3})],
    "sorting": [("self_consistency", {"k": 16, "use_n": False, "concurrency": 2}), ("best_of_n", {"n": 120})],
}


def run(cmd: list[str], environ: dict[str, str], timeout: float) -> str:
    """Run one ponder command; its stdout. Exits with its stderr if it fails."""
    shown = " ".join(shlex.quote(c) for c in ["ponder", *cmd[len(PONDER) :]])
    print(f"$ {shown}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=environ, timeout=timeout, check=False)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {shown}\n{p.stderr.strip()}")
    return p.stdout


def bench(env: str, agent: str, sets: dict[str, Any], budget: int, ctx: dict[str, Any]) -> dict[str, Any]:
    cmd = [*PONDER, "bench", "--env", env, "--agent", agent, "--n", str(ctx["n"]), "--max-tokens", str(budget)]
    for e in ENV_SETS[env]:
        cmd += ["--env-set", e]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    cmd += [*ctx["backend"], "--db", ctx["db"], "--concurrency", str(ctx["concurrency"]), "--json"]
    data: dict[str, Any] = json.loads(run(cmd, ctx["environ"], ctx["timeout"]))
    return data


def _row(agent: str, sets: dict[str, Any], exp: dict[str, Any], note: str = "") -> str:
    s = exp["summary"]
    n = s["n"] or 1
    errors = s["metrics"].get("errors")
    err = "–" if errors is None else f"{errors['mean']:.1f} / {errors['median']:g}"
    why = "; ".join(f"{r} ×{c}" for r, c in s["error_reasons"].items()) or "–"
    settings = ", ".join(f"{k}={v}" for k, v in sets.items()) + note
    tokens = (s["prompt_tokens"] + s["completion_tokens"]) / n
    return (
        f"| {agent} | {settings} | {exp['id']} | {s['correct']}/{s['n']} | {err} | {tokens:.0f} | "
        f"{s['calls'] / n:.1f} | {s['errors']} | {why} |"
    )


def compare_and_plot(env: str, ids: list[str], over: list[str], ctx: dict[str, Any]) -> list[str]:
    """`ponder compare` (its table to stderr) and `ponder plot` (accuracy, with the over-budget run; sorting:
    errors too, without it, whose 300 would flatten the others); the files written."""
    both = [*ids, *over]
    print(run([*PONDER, "compare", *both, "--db", ctx["db"]], ctx["environ"], ctx["timeout"]), file=sys.stderr)
    written = []
    kinds = [("accuracy", both, [])] + ([("errors", ids, ["--metric", "errors"])] if env == "sorting" else [])
    for name, shown, extra in kinds:
        out = Path(ctx["plots"]) / f"compute_matched_{ctx['profile']}_{env}_{name}.png"
        title = f"{env}, {ctx['profile']} model: {name} at {ctx['budgets'][env]} tokens per task"
        run(
            [*PONDER, "plot", *shown, "-o", str(out), "--db", ctx["db"], "--title", title, *extra],
            ctx["environ"],
            ctx["timeout"],
        )
        written.append(str(out))
    return written


def comparison(ctx: dict[str, Any]) -> None:
    plan = PLANS[ctx["profile"]]
    ctx["budgets"] = {env: budget for env, (budget, _) in plan.items()}
    files = []
    for env, (budget, strategies) in plan.items():
        print(f"\n### {env} ({ctx['n']} tasks, --max-tokens {budget})\n")
        print(
            "| strategy | settings | experiment | correct | errors mean / median | tokens / task | calls / task "
            "| failed | why |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        ids = []
        for agent, sets in strategies:
            exp = bench(env, agent, sets, budget, ctx)
            ids.append(exp["id"])
            print(_row(agent, sets, exp), flush=True)
        over = []
        for agent, sets in OVER_BUDGET[env] if ctx["over_budget"] else []:
            exp = bench(env, agent, sets, budget, ctx)
            over.append(exp["id"])
            print(_row(agent, sets, exp, " (over budget)"))
        files += compare_and_plot(env, ids, over, ctx)
    print("\nplots: " + ", ".join(files))


def _local_profile(args: argparse.Namespace, tmp: Path) -> dict[str, str]:
    config = tmp / "config.toml"
    config.write_text(
        "[profiles.cm_local]\n"
        'backend = "local"\n'
        f'model = "{args.local_model}"\n'
        f"threads = {args.threads}\nslots = {args.slots}\ncontext = 4096\n"
        "timeout = 1800\n"  # one request of n samples on one thread, on a shared machine
    )
    return {**os.environ, "PONDER_CONFIG": str(config)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("fake", "local"), default="fake")
    ap.add_argument("--n", type=int, default=None, help="tasks per env (default: fake 10, local 2)")
    ap.add_argument("--db", default=None, help="trace db (default: a fresh temporary one)")
    ap.add_argument("--plots", default="docs/img", help="folder for the PNG charts")
    ap.add_argument("--latency", type=float, default=0.0, help="fake server: seconds per request")
    ap.add_argument("--local-model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--no-over-budget", action="store_true", help="skip the over-budget demonstration runs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ctx: dict[str, Any] = {
            "profile": args.model,
            "n": args.n or (10 if args.model == "fake" else 2),
            "db": args.db or str(tmp / "cm.db"),
            "plots": args.plots,
            "timeout": 3600,
            "over_budget": not args.no_over_budget,
        }
        if args.model == "local":
            ctx |= {"backend": ["--backend", "cm_local"], "concurrency": 1, "environ": _local_profile(args, tmp)}
            comparison(ctx)
            return
        sys.path.insert(0, str(HERE))
        from _cm_model import respond
        from _fake_openai import FakeOpenAIServer

        with FakeOpenAIServer(respond, latency=args.latency, count_words=True) as server:
            ctx |= {
                "backend": ["--backend", "openai", "--base-url", server.base_url, "--model", "fake-model"],
                "concurrency": 4,
                "environ": {**os.environ, "OPENAI_API_KEY": "fake", "PONDER_CONFIG": str(tmp / "none.toml")},
            }
            comparison(ctx)


if __name__ == "__main__":
    main()
