"""Does a seeded request to the local backend give the same text whatever ran before or beside it? Prints JSON.

For each setting of `batch_invariant` (weights as in the file, or repacked for llama.cpp's
batched CPU kernels), `cache_prompt` (a slot reuses the KV cache of its last prompt) and the
slot count, one seeded request (temperature 0.7) is sent:

- alone, on a fresh server (compared with the reference setting: batch_invariant, no prompt
  cache, one slot);
- after_other: after a different request that shares its system prompt;
- again: right after itself (its whole prompt cached, with cache_prompt);
- batched: beside other requests decoding at the same time;

each compared with `alone`; and self-consistency-like, 4 seeds at once, twice (sc_repeat), and
compared with the reference's. `true` everywhere means reproducible.

    python benchmarks/local_repro.py --model FILE.gguf [--threads 1] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from ponder.backends.local import LocalBackend
from ponder.types import CompletionRequest, Message

SYSTEM = Message.system("You are a careful assistant. Think step by step, then end with 'The answer is N.'")
QUESTION = "A farmer has 17 rows of 23 apple trees. How many trees are there?"
OTHERS = ["What is 12 * 13?", "Write a haiku about rain.", "What is the capital of Peru? Explain."]


async def probe(b: LocalBackend, max_tokens: int) -> dict[str, Any]:
    def req(q: str, seed: int) -> CompletionRequest:
        return CompletionRequest(messages=(SYSTEM, Message.user(q)), temperature=0.7, max_tokens=max_tokens, seed=seed)

    async def text(r: CompletionRequest) -> str:
        return (await b.complete(r)).text

    a = req(QUESTION, 11)
    out: dict[str, Any] = {"alone": await text(a)}
    await text(req(OTHERS[0], 3))
    out["after_other"] = await text(a)
    out["again"] = await text(a)
    beside = await asyncio.gather(text(a), *(text(req(q, 5)) for q in OTHERS[: b.slots - 1]))
    out["batched"] = beside[0]
    sc = [req(QUESTION, 100 + i) for i in range(4)]
    out["sc1"] = list(await asyncio.gather(*map(text, sc)))
    out["sc2"] = list(await asyncio.gather(*map(text, sc)))
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=48)
    args = ap.parse_args()
    runs: dict[str, dict[str, Any]] = {}
    for invariant in (True, False):
        for cache in (False, True):
            for slots in (1, 4):
                opts = {"cache_prompt": cache, "batch_invariant": invariant}
                b = LocalBackend(args.model, slots=slots, context=1024, threads=args.threads, **opts)
                t0 = time.perf_counter()
                try:
                    r = await probe(b, args.max_tokens)
                finally:
                    b.close()
                runs[f"batch_invariant={invariant} cache_prompt={cache} slots={slots}"] = r
                r["seconds"] = round(time.perf_counter() - t0, 1)
    reference = runs["batch_invariant=True cache_prompt=False slots=1"]
    summary = {
        name: {
            "alone_same_as_reference": r["alone"] == reference["alone"],
            **{k: r[k] == r["alone"] for k in ("after_other", "again", "batched")},
            "sc_repeat": r["sc1"] == r["sc2"],
            "sc_same_as_reference": r["sc1"] == reference["sc1"],
            "sc_distinct": len(set(r["sc1"])),
            "seconds": r["seconds"],
        }
        for name, r in runs.items()
    }
    print(json.dumps({"model": args.model.rsplit("/", 1)[-1], "threads": args.threads, "results": summary}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
