"""Record real completions of ponder's own prompts from a local GGUF model, for the answer-extraction corpus.

    python scripts/record_answer_corpus.py --model qwen2.5-coder-0.5b=/tmp/modelwheels/qwen05.gguf \
        --version v2 --out /tmp/corpus/qwen05-v2.jsonl [--kinds arithmetic,gsm8k,game24,react]

Each prompt is made by ponder itself: the task runs through ponder's agent (CoT, CoT io-style, self-consistency,
CoT with the game24 env, ReAct with the calculator) against the model, served in-process by xllamacpp
(llama.cpp's server: `n_parallel` slots decode concurrent requests in one batch). Every completion the
run asked for is read back from the run's trace: the messages ponder sent and the text the model gave.
Output: one JSON line per completion (model, kind, task, style, version, request messages, sampling, text)
with `extracted`, what ponder's extraction read when it was recorded — a proposal, not the hand-checked answer
(`tests/fixtures/answers/corpus.jsonl` holds those; its README says how they were checked).

This drives xllamacpp directly, not ponder's local backend, so the corpus does not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ponder import registry
from ponder.backends.base import Capabilities
from ponder.backends.openai_wire import message_to_openai, parse_chat_completion
from ponder.envs.arithmetic import ArithmeticEnv
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore
from ponder.types import Choice, Completion, CompletionRequest, Task, Usage

GAME24_CSV = Path("/work/shared/data/game24/24.csv")
# the groups of runs --kinds chooses from (gsm8k_sc: self-consistency samples, recorded as kind gsm8k)
KINDS = ("arithmetic", "gsm8k", "gsm8k_sc", "game24", "react")


class XllamaBackend:
    """ponder's `Backend` protocol over xllamacpp's in-process server (n>1: n requests, seeds seed, seed+1, …)."""

    name = "xllamacpp"
    free = True
    capabilities = Capabilities(n=True, tools=False)

    def __init__(self, model_path: str, model: str, *, slots: int, ctx_per_slot: int, threads: int) -> None:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = model_path
        params.n_parallel = slots
        params.n_ctx = ctx_per_slot * slots
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.warmup = False
        params.cache_ram_mib = 0  # no cross-request prompt cache: a completion depends on its request only
        self.model = model
        self._server = xlc.Server(params)
        self._sem = asyncio.Semaphore(slots)

    def _one(self, req: CompletionRequest, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [message_to_openai(m) for m in req.messages],
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
            "seed": seed,
        }
        if req.stop:
            body["stop"] = list(req.stop)
        out: dict[str, Any] = self._server.handle_chat_completions(body)
        return out

    async def _choice(self, req: CompletionRequest, seed: int) -> tuple[Choice, Usage]:
        async with self._sem:
            body = await asyncio.to_thread(self._one, req, seed)
        choices, usage, _ = parse_chat_completion(body)
        return choices[0], usage

    async def complete(self, req: CompletionRequest) -> Completion:
        t0 = time.perf_counter()
        base = req.seed if req.seed is not None else 0
        got = await asyncio.gather(*(self._choice(req, base + i) for i in range(req.n)))
        usage = Usage()
        for _, u in got:
            usage = usage + u
        return Completion(
            choices=[c for c, _ in got], usage=usage, model=self.model, latency_ms=(time.perf_counter() - t0) * 1000
        )


def arithmetic_tasks(n: int, seed: int = 18) -> list[Task]:
    """`What is a op b?` questions, drawn with a fixed seed (products, sums, differences, quotients, percents)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            a, b = rnd.randint(12, 99), rnd.randint(12, 99)
            q, want = f"What is {a} * {b}?", a * b
        elif kind == 1:
            a, b = rnd.randint(1000, 9999), rnd.randint(1000, 9999)
            q, want = f"What is {a} + {b}?", a + b
        elif kind == 2:
            a, b = rnd.randint(500, 2000), rnd.randint(100, 499)
            q, want = f"What is {a} - {b}?", a - b
        elif kind == 3:
            b, c = rnd.randint(3, 19), rnd.randint(6, 60)
            q, want = f"What is {b * c} / {b}?", c
        else:
            p, base = rnd.choice([5, 10, 15, 20, 25, 40]), rnd.randint(2, 40) * 20
            q, want = f"What is {p}% of {base}?", p * base // 100
        out.append(Task(id=f"arith-{i}", input=q, expected=str(want)))
    return out


def gsm8k_tasks() -> list[Task]:
    return list(ArithmeticEnv().tasks())


def game24_tasks(start: int, n: int) -> list[Task]:
    with GAME24_CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))[start : start + n]
    return [
        Task(id=f"game24-{start + i}", input=r["Puzzles"], metadata={"numbers": [int(x) for x in r["Puzzles"].split()]})
        for i, r in enumerate(rows)
    ]


def jobs(kinds: list[str], n: int | None = None) -> Iterator[tuple[str, str, dict[str, Any], str, Task]]:
    """(kind, agent name, agent config, style label, task) of each run the chosen groups make, on at most
    `n` tasks of each group (all of them when None)."""
    arith, gsm = arithmetic_tasks(20)[:n], gsm8k_tasks()[:n]
    cot = {"max_tokens": 400}
    if "arithmetic" in kinds:
        for t in arith:
            yield "arithmetic", "cot", cot, "cot", t
            yield "arithmetic", "cot", {**cot, "style": "io"}, "io", t
    if "gsm8k" in kinds:
        for t in gsm:
            yield "gsm8k", "cot", cot, "cot", t
    if "gsm8k_sc" in kinds:
        for t in gsm[:10]:
            sc = {"k": 2, "inner_config": cot}
            yield "gsm8k", "self_consistency", sc, "sc", t
    if "game24" in kinds:
        for t in game24_tasks(900, n or 8):
            yield "game24", "cot", {"env": "game24", "max_tokens": 256}, "cot", t
            yield "game24", "cot", {"env": "game24", "style": "io", "max_tokens": 128}, "io", t
    if "react" in kinds:
        react = {"mode": "text", "tools": ["calculator"], "max_steps": 4, "max_tokens": 256}
        for t in [*arith[: n or 5], *gsm[: n or 5]]:
            yield "react", "react", react, "react", t


def prompt_id(messages: list[dict[str, Any]]) -> str:
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def completions_of(store: TraceStore, run_id: str) -> Iterator[tuple[dict[str, Any], int, str]]:
    """(request, sample index, text) of every completion the run (and its child runs) asked for."""
    store.flush()
    with store.lock:
        rows = store.conn.execute(
            "select c.request_json, c.response_json from llm_calls c join runs r on r.id = c.run_id "
            "where (r.id = ? or r.parent_id = ?) and c.response_json is not null order by c.id",
            [run_id, run_id],
        ).fetchall()
    for req_json, resp_json in rows:
        req = json.loads(req_json)
        resp = json.loads(resp_json)
        for i, ch in enumerate(resp.get("choices", [])):
            yield req, i, ch.get("text", "")


async def record_one(
    backend: XllamaBackend, kind: str, agent_name: str, config: dict[str, Any], style: str, task: Task, seed: int
) -> list[dict[str, Any]]:
    store = TraceStore()
    agent = registry.build("agents", agent_name, config)
    result = await run_agent(agent, task, backend=backend, store=store, seed=seed)
    out = []
    for req, i, text in completions_of(store, result.run_id):
        out.append(
            {
                "kind": kind,
                "task_id": task.id,
                "style": style,
                "messages": req["messages"],
                "temperature": req.get("temperature", 0.0),
                "seed": (req.get("seed") or 0) + i,
                "sample": i,
                "completion": text,
                "agent_answer": result.answer,
            }
        )
    store.close()
    return out


def done_runs(path: Path) -> set[tuple[str, str, str]]:
    """(kind, style, task id) of the runs already in `path` (a rerun resumes after them)."""
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(r["kind"], r["style"], r["task_id"]) for r in rows}


async def main_async(args: argparse.Namespace) -> int:
    name, _, path = args.model.partition("=")
    out = Path(args.out)
    done = done_runs(out)
    todo = [j for j in jobs(args.kinds.split(","), args.tasks) if (j[0], j[3], j[4].id) not in done]
    backend = XllamaBackend(path, name, slots=args.slots, ctx_per_slot=args.ctx, threads=args.threads)
    t0 = time.perf_counter()
    sem = asyncio.Semaphore(args.slots)
    n = 0

    async def job(j: tuple[str, str, dict[str, Any], str, Task]) -> None:
        nonlocal n
        async with sem:
            recs = await record_one(backend, *j, seed=args.seed)
        with out.open("a", encoding="utf-8") as f:  # each run as it ends: an interrupted recording resumes
            for r in recs:
                r = {"model": name, "version": args.version, "prompt_id": prompt_id(r["messages"]), **r}
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += len(recs)
        print(f"{j[0]} {j[3]} {j[4].id}: {len(recs)} completions ({time.perf_counter() - t0:.0f}s)", flush=True)

    await asyncio.gather(*(job(j) for j in todo))
    print(f"{name}: {n} completions from {len(todo)} runs in {time.perf_counter() - t0:.0f}s -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="NAME=PATH of a GGUF file")
    p.add_argument("--version", required=True, help="a label for the prompt version recorded (e.g. v1, v2)")
    p.add_argument("--out", required=True)
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--ctx", type=int, default=2048, help="context tokens per slot")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", type=int, default=None, help="at most N tasks of each kind (default: all)")
    args = p.parse_args(argv)
    bad = [k for k in args.kinds.split(",") if k not in KINDS]
    if bad:
        print(f"unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
