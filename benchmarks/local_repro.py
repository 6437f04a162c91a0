"""Does a seeded request to the local backend give the same text whatever ran before or beside it? Prints JSON.

For each setting of `batch_invariant` (weights as in the file, or repacked for llama.cpp's
batched CPU kernels), `cache_prompt` (a slot reuses the KV cache of its last prompt) and the
slot count, one seeded request (temperature 0.7) is sent:

- alone, on a fresh server (compared with the reference setting: batch_invariant, no prompt
  cache, one slot);
- after_other: after a different request that shares its system prompt;
- again: right after itself (its whole prompt cached, with cache_prompt);
- batched: beside other requests, all sent at once;
- joined: sent while other requests are decoding (its prompt is read beside their tokens);

each compared with `alone`. Self-consistency's shape, 4 seeds: as one n=4 request (how the
local backend sends it) twice (sc_repeat), compared with the reference's, and sent while another
request decodes (sc_joined); and as 4 separate requests sent at once, twice (separate_repeat).
`true` everywhere means reproducible. Then `slots`: one n=8 request (8 seeds, 64 tokens) on 1,
2, 4 and 8 slots (8 twice): where each text first differs from the 1-slot text (null: never),
and whether the 8-slot texts repeat. The defaults measure the backend's default weights (file's,
`batch_invariant`) with and without the prompt cache; `--all-settings` adds the repacked weights.

    python benchmarks/local_repro.py --model FILE.gguf [--threads 1] [--max-tokens 48] [--all-settings]
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

    async def beside_others(r: CompletionRequest) -> str:
        """`r` sent once the other requests (longer ones) are decoding."""
        others = [
            asyncio.create_task(text(req(q, 5).model_copy(update={"max_tokens": 2 * max_tokens})))
            for q in OTHERS[: max(1, b.slots - r.n)]
        ]
        await asyncio.sleep(1.0)
        got = await b.complete(r)
        await asyncio.gather(*others)
        return "\x1e".join(c.text for c in got.choices)

    a = req(QUESTION, 11)
    out: dict[str, Any] = {"alone": await text(a)}
    await text(req(OTHERS[0], 3))
    out["after_other"] = await text(a)
    out["again"] = await text(a)
    beside = await asyncio.gather(text(a), *(text(req(q, 5)) for q in OTHERS[: b.slots - 1]))
    out["batched"] = beside[0]
    out["joined"] = await beside_others(a) if b.slots > 1 else out["alone"]
    sc = req(QUESTION, 100).model_copy(update={"n": 4})
    out["sc1"] = [c.text for c in (await b.complete(sc)).choices]
    out["sc2"] = [c.text for c in (await b.complete(sc)).choices]
    sc3 = sc.model_copy(update={"n": 3})
    out["sc_joined"] = (await beside_others(sc3)).split("\x1e") if b.slots > 1 else out["sc1"][:3]
    separate = [req(QUESTION, 100 + i) for i in range(4)]
    out["separate1"] = list(await asyncio.gather(*map(text, separate)))
    out["separate2"] = list(await asyncio.gather(*map(text, separate)))
    return out


def _first_difference(a: str, b: str) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None if len(a) == len(b) else 0)


async def slot_sweep(model: str, threads: int, max_tokens: int) -> dict[str, Any]:
    """SC k=8's shape (one n=8 request: 8 seeds) on 1, 2, 4 and 8 slots: where each text first differs from 1 slot's."""
    req = CompletionRequest(
        messages=(SYSTEM, Message.user(QUESTION)), temperature=0.7, max_tokens=max_tokens, seed=1000, n=8
    )
    texts: dict[int, list[str]] = {}
    for slots in (1, 2, 4, 8, 8):
        b = LocalBackend(model, slots=slots, context=1024, threads=threads)
        try:
            got = [c.text for c in (await b.complete(req)).choices]
        finally:
            b.close()
        if slots in texts:
            repeat = got == texts[slots]
        texts[slots] = got
    return {
        "first_difference_from_one_slot": {
            str(slots): [_first_difference(a, b) for a, b in zip(texts[1], got, strict=True)]
            for slots, got in texts.items()
            if slots != 1
        },
        "eight_slots_repeat": repeat,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--sweep-only", action="store_true", help="only the slot sweep")
    ap.add_argument("--all-settings", action="store_true", help="also the repacked weights")
    args = ap.parse_args()
    runs: dict[str, dict[str, Any]] = {}
    if args.sweep_only:
        print(json.dumps({"slots": await slot_sweep(args.model, args.threads, 64)}, indent=1))
        return
    for invariant in (True, False) if args.all_settings else (True,):
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
            **{k: r[k] == r["alone"] for k in ("after_other", "again", "batched", "joined")},
            "sc_repeat": r["sc1"] == r["sc2"],
            "sc_same_as_reference": r["sc1"] == reference["sc1"],
            "sc_joined": r["sc_joined"] == r["sc1"][:3],
            "sc_distinct": len(set(r["sc1"])),
            "separate_repeat": r["separate1"] == r["separate2"],
            "seconds": r["seconds"],
        }
        for name, r in runs.items()
    }
    sweep = await slot_sweep(args.model, args.threads, 64)
    out = {"model": args.model.rsplit("/", 1)[-1], "threads": args.threads, "results": summary, "slots": sweep}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
