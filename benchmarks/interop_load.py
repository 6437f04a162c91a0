"""Load on `ponder serve` and `ponder proxy`: N concurrent `openai` SDK clients, none of their records lost.

Each server runs as its own process (`ponder serve` / `ponder proxy`, as a user starts it) in
front of a loopback OpenAI server in this process that answers after `--latency` seconds. Each of
`--clients` async clients sends `--requests` requests one after another (every other one streamed);
the clients run at once. Then the trace db is read: every request must have its row (serve: one
`ok` run per request, each with its `k` llm calls; proxy: one llm call with its reply per request,
one run per client session, none left `running`).

    python benchmarks/interop_load.py [--clients 32] [--requests 4] [--latency 0.05] [--k 3]

Prints one JSON object: per server, requests sent, answered, rows found, lost, wall seconds,
requests per second and client latency percentiles (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from ponder.interop.loopback import CliServer, LoopbackOpenAI, Reply
from ponder.traces.store import TraceStore


def answer(body: dict[str, Any]) -> Reply:
    """A reply a CoT path extracts an answer from (the loopback server's delay is set per reply)."""
    return Reply(f"Working it out step by step. The answer is {len(json.dumps(body['messages'])) % 97}.")


async def one_client(url: str, index: int, requests: int, model: str) -> tuple[int, list[float], list[str]]:
    """One client's requests in sequence: (answered, latencies in ms, errors)."""
    client = openai.AsyncOpenAI(
        base_url=url,
        api_key="sk-bench",
        max_retries=0,
        timeout=120,
        default_headers={"X-Ponder-Session": f"client-{index}"},
    )
    answered, latencies, errors = 0, [], []
    for r in range(requests):
        messages = [{"role": "user", "content": f"Client {index} asks question {r}: what is {index} * {r}?"}]
        t0 = time.perf_counter()
        try:
            if r % 2:
                stream = await client.chat.completions.create(model=model, messages=messages, stream=True)  # type: ignore[arg-type]
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            else:
                reply = await client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
                text = reply.choices[0].message.content or ""
            answered += bool(text)
        except openai.OpenAIError as e:
            errors.append(f"{type(e).__name__}: {e}")
        latencies.append((time.perf_counter() - t0) * 1000)
    await client.close()
    return answered, latencies, errors


async def drive(url: str, clients: int, requests: int, model: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one_client(url, i, requests, model) for i in range(clients)))
    wall = time.perf_counter() - t0
    latencies = sorted(x for _, lat, _ in results for x in lat)
    errors = [e for _, _, errs in results for e in errs]
    return {
        "sent": clients * requests,
        "answered": sum(a for a, _, _ in results),
        "errors": errors[:5],
        "wall_s": round(wall, 3),
        "requests_per_s": round(clients * requests / wall, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "max": round(latencies[-1], 1),
        },
    }


def serve_rows(db: Path, k: int) -> dict[str, Any]:
    store = TraceStore(db, readonly=True)
    runs = store.list_runs(limit=100_000)
    complete = [r for r in runs if r.status == "ok" and len(store.llm_calls(r.id)) == k]
    return {"runs": len(runs), "complete_runs": len(complete), "running": sum(r.status == "running" for r in runs)}


def proxy_rows(db: Path) -> dict[str, Any]:
    store = TraceStore(db, readonly=True)
    runs = store.list_runs(limit=100_000)
    calls = store.all_llm_calls()
    return {
        "runs": len(runs),
        "calls": len(calls),
        "calls_with_reply": sum(c.response is not None for c in calls),
        "running": sum(r.status == "running" for r in runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=4, help="per client, one after another")
    ap.add_argument("--latency", type=float, default=0.05, help="the upstream's seconds per reply")
    ap.add_argument("--k", type=int, default=3, help="self-consistency paths per served request")
    args = ap.parse_args()
    sent = args.clients * args.requests
    out: dict[str, Any] = {"clients": args.clients, "requests_per_client": args.requests, "latency_s": args.latency}

    def slow(body: dict[str, Any]) -> Reply:
        reply = answer(body)
        reply.delay = args.latency
        return reply

    with LoopbackOpenAI(slow) as up, tempfile.TemporaryDirectory() as tmp:
        serve_db, proxy_db = Path(tmp) / "serve.db", Path(tmp) / "proxy.db"
        # serve: self-consistency with k independent paths (use_n off: k upstream calls per request)
        serve_args = ["serve", "--port", "0", "--db", str(serve_db), "--backend", "openai", "--base-url", up.url]
        with CliServer([*serve_args, "--model", "loopback-model"]) as srv:
            model = f"self_consistency#k={args.k},use_n=false"
            out["serve"] = asyncio.run(drive(srv.url, args.clients, args.requests, model))
        out["serve"]["rows"] = rows = serve_rows(serve_db, args.k)
        out["serve"]["lost"] = sent - rows["complete_runs"]
        with CliServer(["proxy", "--port", "0", "--db", str(proxy_db), "--upstream", up.url]) as prx:
            out["proxy"] = asyncio.run(drive(prx.url, args.clients, args.requests, "loopback-model"))
        out["proxy"]["rows"] = rows = proxy_rows(proxy_db)
        out["proxy"]["lost"] = sent - rows["calls_with_reply"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
