"""Load time and generation speed of the local model (LocalBackend): prints JSON.

Run: python benchmarks/local_model.py [--model-path GGUF] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from ponder.agents.cot import CoT
from ponder.backends.local import LocalBackend
from ponder.types import CompletionRequest, Message


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-path")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    b = LocalBackend(args.model_path, n_threads=args.threads)
    b.load()
    req = CompletionRequest(
        messages=(Message.user("Write a short paragraph about the sea."),), max_tokens=128, temperature=0.0
    )
    cold = await b.complete(req)
    rates = []
    for i in range(args.rounds):
        # a fresh prompt each round, so the prompt cache does not flatter the figure
        r = req.model_copy(update={"messages": (Message.user(f"Write a short paragraph about the sea, #{i}."),)})
        t0 = time.perf_counter()
        c = await b.complete(r)
        dt = time.perf_counter() - t0
        rates.append(c.usage.completion_tokens / dt)
    result = await CoT().arun("What is 3 + 5?", backend=b)
    print(
        json.dumps(
            {
                "model": b.model,
                "cpus": os.cpu_count(),
                "n_threads": b.n_threads or "llama.cpp default",
                "load_s": round(b.load_seconds or 0, 3),
                "first_call_tokens": cold.usage.completion_tokens,
                "first_call_ms": round(cold.latency_ms, 1),
                "warm_tokens_per_s": [round(x, 1) for x in rates],
                "cot_3_plus_5": result.answer,
                "cot_latency_calls": result.calls,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
