"""`StrategyServer`: ponder's strategies behind an OpenAI-compatible `/v1/chat/completions`.

The request's `model` picks the strategy, its upstream and options (`ponder.interop.serve_spec`);
each request is one recorded run in the trace store (browse it with `ponder tui`, fork it, diff
it), whose id comes back in the `x-ponder-run` header, in the reply's `ponder` object and in the
reply's `id` (`chatcmpl-RUNID`). The reply's content is the strategy's answer and its `usage`
counts every token the run spent (child runs included).

Statuses: 400 for a model name, option or body ponder cannot use (one line, OpenAI-style); 401
for a missing or wrong bearer token (`api_key`); 502 when the upstream failed, 504 when the run
passed its time budget, 500 for any other failed run — each naming the run id. A stream has
answered 200 before the run ends: a failed run ends it with an error event (the openai SDK raises
`APIError` with the same message). A client that disconnects cancels its run, which is then
recorded as `cancelled`. The request's sampling fields (temperature, top_p, max_tokens) are not
the strategy's: give them as strategy options.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ponder import registry
from ponder.backends.base import Backend
from ponder.errors import BackendError, BudgetExceeded, ConfigError, PonderError, RunTimedOut
from ponder.interop._http import ClientGone, EventStream, bearer_refusal, error_response, until_disconnect
from ponder.interop.serve_spec import parse_model, strategy_options, task_of
from ponder.interop.wire import (
    KEEPALIVE,
    chunk_body,
    error_body,
    one_line,
    request_from_openai,
    sse,
    usage_chunk,
    wants_stream,
    wants_usage_chunk,
)
from ponder.runtime.budget import Budget
from ponder.runtime.context import Agent
from ponder.runtime.runner import run_agent
from ponder.traces.store import TraceStore, new_id
from ponder.types import Result, Task

CLIENT_CLOSED = 499  # nginx's "client closed request": what the log would say; nobody reads the reply


@dataclass
class _Call:
    """One request, checked and ready to run."""

    run_id: str
    model: str
    agent: Agent
    backend: Backend
    task: Task
    seed: int


class RunFailed(Exception):
    """A run that ended without an answer: the HTTP status, the error type and the one-line message."""

    def __init__(self, status: int, kind: str, message: str, run_id: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.run_id = status, kind, run_id


def _failure(call: _Call, e: BaseException | None, result: Result | None = None) -> RunFailed:
    """How a failed run is answered: its status code, error type and message (naming the run)."""
    name = call.agent.name
    if e is None:
        assert result is not None
        why = result.error or f"status {result.status}"
        return RunFailed(
            500, "server_error", f"{name} run {call.run_id} ended with status {result.status}: {why}", call.run_id
        )
    status, kind = 500, "server_error"
    if isinstance(e, RunTimedOut):
        status, kind = 504, "timeout"
    elif isinstance(e, BackendError):
        status, kind = 502, "upstream_error"
    elif isinstance(e, BudgetExceeded):
        kind = "budget_exceeded"
    elif isinstance(e, ConfigError):
        status, kind = 400, "invalid_request_error"
    text = str(e) if isinstance(e, PonderError) else f"{type(e).__name__}: {e}"
    return RunFailed(status, kind, f"{name} run {call.run_id} failed: {one_line(text)}", call.run_id)


class StrategyServer:
    """The ASGI app (`.app`) of `ponder serve`.

    store: where every request's run is recorded. upstreams: the backend an upstream name (None:
    the server's own) stands for (`serve_spec.Upstreams.get`). api_key: the bearer token clients
    must send (None: any). budget: each run's limits (calls, tokens, wall time). keepalive_s: how
    often a stream whose run is still thinking gets an SSE comment, so proxies keep it open.
    """

    def __init__(
        self,
        store: TraceStore,
        upstreams: Callable[[str | None], Backend],
        *,
        api_key: str | None = None,
        budget: Budget | None = None,
        keepalive_s: float = 15.0,
    ) -> None:
        self.store = store
        self.upstreams = upstreams
        self.api_key = api_key
        self.budget = budget
        self.keepalive_s = keepalive_s
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        """Every registered strategy, as a model (`STRATEGY@UPSTREAM` picks another upstream)."""
        refusal = bearer_refusal(request, self.api_key)
        if refusal is not None:
            return refusal
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "ponder"} for n in registry.names("agents")]
        return JSONResponse({"object": "list", "data": data})

    def prepare(self, body: dict[str, Any]) -> _Call:
        """The run a body asks for, checked; a `ConfigError` (answered 400) when it cannot be run."""
        req = request_from_openai(body)
        if req.n != 1:
            raise ConfigError(
                f"n={req.n}: a strategy gives one answer per request; send n requests (or use self_consistency)"
            )
        if body.get("tools"):
            raise ConfigError(
                "'tools': a strategy runs its own tools (its env's); a served strategy takes none from the client"
            )
        spec = parse_model(str(body.get("model") or ""))
        agent: Agent = registry.build("agents", spec.strategy, strategy_options(spec, body))
        seed = body.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise ConfigError(f"seed {seed!r}: give an integer from 0 to 2**63-1")
        backend = self.upstreams(spec.upstream)
        return _Call(new_id(), str(body["model"]), agent, backend, task_of(req), seed)

    async def _run(self, call: _Call) -> Result:
        """Run the strategy as a recorded run; a `RunFailed` unless it gave an answer."""
        try:
            result = await run_agent(
                call.agent,
                call.task,
                backend=call.backend,
                store=self.store,
                seed=call.seed,
                budget=self.budget,
                run_id=call.run_id,
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:  # recorded in the run by the runner; answered with its id
            raise _failure(call, e) from e
        if result.status != "ok" or result.answer is None:
            raise _failure(call, None, result)
        return result

    async def chat(self, request: Request) -> Any:
        """`POST /v1/chat/completions`."""
        refusal = bearer_refusal(request, self.api_key)
        if refusal is not None:
            return refusal
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "the request body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return error_response(400, "the request body must be a JSON object", "invalid_request_error")
        try:
            call = self.prepare(body)
        except PonderError as e:
            return error_response(400, str(e), "invalid_request_error")
        if wants_stream(body):
            return EventStream(self._stream(call, wants_usage_chunk(body)), headers={"x-ponder-run": call.run_id})
        try:
            result = await until_disconnect(request, self._run(call))
        except ClientGone:
            return Response(status_code=CLIENT_CLOSED)
        except RunFailed as f:
            return error_response(f.status, str(f), f.kind, run_id=f.run_id)
        return JSONResponse(self._reply(call, result), headers={"x-ponder-run": call.run_id})

    def _reply(self, call: _Call, result: Result) -> dict[str, Any]:
        u = result.usage
        return {
            "id": f"chatcmpl-{call.run_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": result.answer}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.total_tokens,
            },
            "ponder": {"run_id": call.run_id, "agent": call.agent.name, "status": result.status, "calls": result.calls},
        }

    async def _stream(self, call: _Call, with_usage: bool) -> AsyncGenerator[bytes, None]:
        """The SSE body of a streamed request: the role at once, keep-alives while the run thinks, then
        the answer (or an error event), the end and, if asked, the usage."""
        id, created = f"chatcmpl-{call.run_id}", int(time.time())
        task = asyncio.ensure_future(self._run(call))
        try:
            await asyncio.sleep(0)  # the run's first step writes its row: the id the client is given exists
            yield sse(chunk_body(id, call.model, created, {"role": "assistant", "content": ""}))
            while not (await asyncio.wait({task}, timeout=self.keepalive_s))[0]:
                yield KEEPALIVE
            try:
                result = task.result()
            except RunFailed as f:
                yield sse(error_body(str(f), f.kind, code=str(f.status), run_id=f.run_id))
                return
            yield sse(chunk_body(id, call.model, created, {"content": result.answer}))
            yield sse(chunk_body(id, call.model, created, {}, finish="stop"))
            if with_usage:
                yield sse(usage_chunk(id, call.model, created, result.usage))
            yield sse("[DONE]")
        finally:
            if not task.done():  # the client went away: the run is cancelled and recorded so
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
