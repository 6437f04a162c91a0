"""Can one of llama.cpp's own settings make separate requests' texts independent of the slots? Prints JSON.

Separate seeded requests that meet in the local backend's slots can change each other's text
(docs/results.md, "Reproducibility"; upstream: ggml-org/llama.cpp#7052 and #6950). This probe
asks whether a setting of llama.cpp's server removes it. For each setting it starts the local
backend's llama.cpp server with that setting (`ServerSettings.llama_params`; 4 slots, the file's
weights, no prompt cache), sends 4 different seeded requests one at a time (the reference: each alone in the
batch), then the same 4 in several schedules — all at once, and staggered by fixed delays so
that prompts are read while others decode — and counts the texts that differ from the
reference. 0 everywhere would mean the setting makes the texts schedule-free.

    python benchmarks/local_slot_settings.py --model qwen2.5-coder-0.5b [--threads 2] [--max-tokens 160]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from ponder.backends._llama_server import LlamaServer, ServerSettings
from ponder.models import resolve_model

QUESTIONS = [
    "What is 17 * 23?",
    "Write a Python function that reverses a string.",
    "Name three prime numbers above 100 and explain why.",
    "What is the capital of Australia? Explain briefly.",
]
# seconds after the start at which each request is sent
SCHEDULES = {
    "together": [0.0, 0.0, 0.0, 0.0],
    "staggered_a": [0.0, 0.15, 0.4, 0.9],
    "staggered_b": [0.0, 0.05, 0.6, 1.3],
    "staggered_c": [0.3, 0.0, 0.8, 0.1],
}
SETTINGS: dict[str, dict[str, Any]] = {
    "backend default (per-slot KV, flash attention auto, continuous batching)": {},
    "kv_unified (one KV cache: no equal split of a batch by sequence)": {"kv_unified": True},
    "flash attention off": {"flash_attn_type": 0},
    "flash attention on": {"flash_attn_type": 1},
    "cont_batching off (a prompt is read only when no slot decodes)": {"cont_batching": False},
    "n_ubatch 32": {"n_ubatch": 32, "n_batch": 32},
}


def send(server: LlamaServer, i: int, max_tokens: int, out: list[str | None]) -> None:
    body = {
        "messages": [{"role": "user", "content": QUESTIONS[i]}],
        "max_tokens": max_tokens,
        "temperature": 0.7,
        "seed": 100 + i,
        "cache_prompt": False,
    }
    reply = server.chat(body, threading.Event())
    if "error" in reply:
        raise SystemExit(f"llama.cpp refused request {i}: {reply['error']}")
    out[i] = reply["choices"][0]["message"]["content"]


def schedule(server: LlamaServer, delays: list[float], max_tokens: int) -> list[str | None]:
    out: list[str | None] = [None] * len(QUESTIONS)
    timers = [threading.Timer(d, send, args=(server, i, max_tokens, out)) for i, d in enumerate(delays)]
    for t in timers:
        t.start()
    for t in timers:
        t.join()
    return out


def probe(model: str, threads: int, max_tokens: int, overrides: dict[str, Any]) -> dict[str, Any]:
    settings = ServerSettings(
        Path(model), slots=4, context=1024, threads=threads, llama_params=tuple(overrides.items())
    )
    server = LlamaServer(settings)  # the local backend's own server (the file's weights)
    t0 = time.perf_counter()
    try:
        reference: list[str | None] = [None] * len(QUESTIONS)
        for i in range(len(QUESTIONS)):
            send(server, i, max_tokens, reference)
        differ = {}
        for name, delays in SCHEDULES.items():
            got = schedule(server, delays, max_tokens)
            differ[name] = sum(a != b for a, b in zip(got, reference, strict=True))
    finally:
        server.stop()
    return {
        "differ": differ,
        "differ_total": f"{sum(differ.values())} of {len(QUESTIONS) * len(SCHEDULES)}",
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="a name from `ponder models` or a GGUF path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=160)
    args = ap.parse_args()
    model = str(resolve_model(args.model, pull=False).path)
    results = {name: probe(model, args.threads, args.max_tokens, over) for name, over in SETTINGS.items()}
    print(json.dumps({"model": model.rsplit("/", 1)[-1], "threads": args.threads, "results": results}, indent=1))


if __name__ == "__main__":
    main()
