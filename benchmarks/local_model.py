"""The local backend (llama.cpp's server in-process, xllamacpp) on a real GGUF model: prints JSON.

- load_s: starting the server and loading the model;
- single_stream: tokens/s of one greedy completion through ponder (`LocalBackend.complete`)
  against the same request sent to the same llama.cpp server over its loopback HTTP port
  (the binding's own server), alternated `--rounds` times; `ratio` = ponder ÷ HTTP medians
  (target: within 5 %);
- self_consistency: SC k=8 (CoT paths of `--max-tokens`) with `--slots` slots against one slot,
  alternated `--rounds` times: completion tokens/s and `gain` (target ≥ 1.5× on 2 cores), and
  whether the 8 texts are the same whatever the slot count (same seeds; on 2 and 4 slots they
  were, on 8 llama.cpp's sums for 8 rows at once changed some: docs/results.md);
- batch_invariance_cost: single-stream tokens/s with the file's weights (`batch_invariant`, the
  default) against llama.cpp's repacked CPU weights, whose texts depend on the batch.

The machine may be shared: only ratios measured within one run mean much. Run:

    python benchmarks/local_model.py --model FILE.gguf [--threads 2] [--slots 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ponder.agents.self_consistency import SelfConsistency
from ponder.backends.local import LocalBackend
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message

PROMPT = "Write a short paragraph about the sea."
QUESTION = "A farmer has 17 rows of 23 apple trees. How many trees are there?"


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


async def _http_rate(client: httpx.AsyncClient, b: LocalBackend, req: CompletionRequest) -> float:
    body = {**b.request_body(req, req.seed or 0), "stream": False}
    t0 = time.perf_counter()
    auth = {"Authorization": f"Bearer {b.api_key}"}
    r = await client.post(f"{b.address}/v1/chat/completions", json=body, headers=auth)
    dt = time.perf_counter() - t0
    r.raise_for_status()
    return int(r.json()["usage"]["completion_tokens"]) / dt


async def single_stream(b: LocalBackend, rounds: int, max_tokens: int) -> dict[str, Any]:
    """ponder's call against an HTTP request to the same server, alternated; a fresh prompt each round."""
    ours: list[float] = []
    theirs: list[float] = []
    async with httpx.AsyncClient(timeout=600) as client:
        for i in range(rounds):
            # a new prompt each round (and cache_prompt off): no call is flattered by a cached prefix
            req = CompletionRequest(messages=(Message.user(f"{PROMPT} #{i}"),), max_tokens=max_tokens, seed=i)
            order = ("ponder", "http") if i % 2 == 0 else ("http", "ponder")
            for who in order:
                if who == "ponder":
                    t0 = time.perf_counter()
                    c = await b.complete(req)
                    ours.append(c.usage.completion_tokens / (time.perf_counter() - t0))
                else:
                    theirs.append(await _http_rate(client, b, req))
    return {
        "max_tokens": max_tokens,
        "ponder_tokens_per_s": [round(x, 2) for x in ours],
        "http_tokens_per_s": [round(x, 2) for x in theirs],
        "ponder_median": _median(ours),
        "http_median": _median(theirs),
        "ratio": round(statistics.median(ours) / statistics.median(theirs), 3),
    }


async def repacked_cost(one: LocalBackend, repacked: LocalBackend, rounds: int, max_tokens: int) -> dict[str, Any]:
    """Single-stream tokens/s with the file's weights (batch_invariant, the default) and with repacked ones."""
    rates: dict[str, list[float]] = {"invariant": [], "repacked": []}
    for i in range(rounds):
        req = CompletionRequest(messages=(Message.user(f"{PROMPT} #{i}"),), max_tokens=max_tokens, seed=i)
        for name in ("invariant", "repacked") if i % 2 == 0 else ("repacked", "invariant"):
            t0 = time.perf_counter()
            c = await (one if name == "invariant" else repacked).complete(req)
            rates[name].append(c.usage.completion_tokens / (time.perf_counter() - t0))
    return {
        "batch_invariant_tokens_per_s": [round(x, 2) for x in rates["invariant"]],
        "repacked_tokens_per_s": [round(x, 2) for x in rates["repacked"]],
        "repacked_speedup": round(statistics.median(rates["repacked"]) / statistics.median(rates["invariant"]), 3),
    }


async def _sc(b: LocalBackend, store: TraceStore, max_tokens: int) -> tuple[float, int, list[str]]:
    sc = SelfConsistency(k=8, temperature=0.7, inner_config={"max_tokens": max_tokens})
    t0 = time.perf_counter()
    r = await sc.arun(QUESTION, backend=b, store=store, seed=0)
    wall = time.perf_counter() - t0
    texts = [e.data["text"] for e in store.iter_events(r.run_id, with_data=True) if e.kind == "path" and e.data]
    return wall, r.usage.completion_tokens, texts


async def self_consistency(one: LocalBackend, many: LocalBackend, rounds: int, max_tokens: int) -> dict[str, Any]:
    """SC k=8 on one slot and on `many.slots` slots, alternated: completion tokens/s of each."""
    rates: dict[str, list[float]] = {"one": [], "many": []}
    texts: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = TraceStore(Path(tmp) / "t.db")
        for i in range(rounds):
            for name in ("one", "many") if i % 2 == 0 else ("many", "one"):
                wall, tokens, got = await _sc(one if name == "one" else many, store, max_tokens)
                rates[name].append(tokens / wall)
                texts.setdefault(name, got)
        store.close()
    return {
        "k": 8,
        "max_tokens": max_tokens,
        "slots": many.slots,
        "one_slot_tokens_per_s": [round(x, 2) for x in rates["one"]],
        "n_slots_tokens_per_s": [round(x, 2) for x in rates["many"]],
        "gain": round(statistics.median(rates["many"]) / statistics.median(rates["one"]), 2),
        "distinct_texts": len(set(texts["many"])),
        "texts_equal_across_slot_counts": texts["one"] == texts["many"],
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a .gguf file (or a model name ponder knows)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()
    load_before = os.getloadavg()
    many = LocalBackend(args.model, slots=args.slots, context=1024, threads=args.threads)
    t0 = time.perf_counter()
    many.load()
    load_s = time.perf_counter() - t0
    one = LocalBackend(args.model, slots=1, context=1024, threads=args.threads)
    one.load()
    repacked = LocalBackend(args.model, slots=1, context=1024, threads=args.threads, batch_invariant=False)
    try:
        stream = await single_stream(many, args.rounds, args.max_tokens)
        sc = await self_consistency(one, many, args.rounds, args.max_tokens)
        cost = await repacked_cost(one, repacked, args.rounds, args.max_tokens)
    finally:
        for b in (one, many, repacked):
            b.close()
    print(
        json.dumps(
            {
                "model": many.model,
                "model_bytes": many.model_path.stat().st_size,
                "cpus": os.cpu_count(),
                "threads": args.threads,
                "loadavg_before": [round(x, 1) for x in load_before],
                "loadavg_after": [round(x, 1) for x in os.getloadavg()],
                "load_s": round(load_s, 2),
                "single_stream": stream,
                "self_consistency": sc,
                "batch_invariance_cost": cost,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
