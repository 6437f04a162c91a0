"""`LocalBackend`: a GGUF model served in-process by llama.cpp's server (xllamacpp, the `local` extra).

No compiler: xllamacpp ships prebuilt wheels. The server decodes the requests in its `slots`
together, in one batch, and the backend's concurrency limiter admits `slots` requests at a
time, so a strategy's concurrent branches (self-consistency's paths, a search frontier) decode
together. xllamacpp is imported on first use only, so `import ponder` never loads llama.cpp.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from ponder.backends._llama_server import LlamaServer, ServerSettings
from ponder.backends.base import (
    Attempt,
    BackendOptions,
    BaseBackend,
    Capabilities,
    TextSink,
    answer_whole,
    report_attempt,
)
from ponder.backends.concurrency import ConcurrencyLimiter
from ponder.backends.openai_wire import message_to_openai, parse_chat_completion
from ponder.errors import BackendError, ConfigError
from ponder.types import Choice, Completion, CompletionRequest, Usage

DEFAULT_SEED = 0
"""The seed of a request that has none (a run gives each request its own: `ponder.backends.seeds`)."""


class LocalOptions(BackendOptions):
    """The local backend's options (a config profile's keys; `--model` on the command line).

    model: a model name ponder knows (`ponder models`; pulled on first use) or the path of a
    .gguf file (default: ponder's default model). slots: requests decoded together in one batch (llama.cpp's
    `n_parallel`), also how many requests the backend admits at once. context: tokens of context
    per slot (prompt and completion). threads: CPU threads (default: half the CPUs; on a busy
    2-core machine one thread decoded 8x faster than two, which wait on each other). timeout:
    seconds one request may take. cache_prompt: let a slot reuse the KV cache of the prompt it
    last saw. batch_invariant: decode so that a seeded request's text does not depend on what
    else is in the batch (False: llama.cpp's repacked CPU kernels, whose sums do).
    model_path: the older name of `model`, for a file.
    """

    model_path: str | None = None
    slots: int = Field(default=4, ge=1, le=256)
    context: int = Field(default=4096, ge=64)
    threads: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=600.0, gt=0)
    cache_prompt: bool = False
    batch_invariant: bool = True


def resolve_local_model(model: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """The name and file of `model`: a model ponder knows (pulled on first use), a .gguf path, or None (the default).

    `ponder.models.resolve_model` does it (imported here, on first use).
    """
    from ponder.models import resolve_model

    resolved = resolve_model(model)
    return resolved.name, resolved.path


class LocalBackend(BaseBackend):
    """A GGUF chat model served in-process by llama.cpp: `slots` requests decode together.

    model: a model name (`ponder models`) or a .gguf path; see `LocalOptions` for the rest.
    The model loads once, on the first call or on `load()`; `close()` (or the end of the
    process) stops the server. Calls run in worker threads, so the event loop stays free.
    A request with `n>1` is sent as llama.cpp's own `n` (in groups of at most `slots`): the prompt
    is read once and the choices, choice i seeded `seed + i`, decode side by side from the same
    step, so they repeat whatever else the process is doing at the time they start; a request
    without a seed uses `DEFAULT_SEED`. A seeded request's text does not depend on what ran
    before it (no prompt cache, weights not repacked); separate requests that meet in the slots
    can change each other's text when one's prompt is read while another decodes (llama.cpp reads
    it in other pieces then; measured in docs/results.md), so `slots=1` is the exact mode for them. Sampling
    is llama.cpp's server's (its top_k 40 and min_p 0.05 on top of the request's temperature
    and top_p). Native tool calls are not offered.
    """

    name = "local"
    free = True
    Options = LocalOptions

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        slots: int = 4,
        context: int = 4096,
        threads: int | None = None,
        timeout: float = 600.0,
        cache_prompt: bool = False,
        batch_invariant: bool = True,
        verbose: bool = False,
    ) -> None:
        if slots < 1 or context < 64 or (threads is not None and threads < 1) or timeout <= 0:
            raise ConfigError("local backend: slots and threads must be at least 1, context at least 64, timeout > 0")
        self.model, self.model_path = resolve_local_model(model)
        self.slots, self.context = slots, context
        self.threads = threads if threads is not None else max(1, (os.cpu_count() or 2) // 2)
        self.timeout = timeout
        self.cache_prompt, self.batch_invariant = cache_prompt, batch_invariant
        self.verbose = verbose
        self.capabilities = Capabilities(n=True, tools=False, seed=True)
        self.limiter = ConcurrencyLimiter(fixed=slots)
        self.load_seconds: float | None = None
        self._server: LlamaServer | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @classmethod
    def from_options(cls, options: BackendOptions, env: Mapping[str, str]) -> LocalBackend:
        """Built from a profile's or the flags' options (`model_path` is the older name of `model`)."""
        o = LocalOptions.model_validate(options.model_dump())
        kw = o.model_dump(exclude={"model", "model_path"})
        return cls(o.model_path or o.model, **kw)

    def __repr__(self) -> str:
        return f"LocalBackend(model={str(self.model_path)!r}, slots={self.slots})"

    # -- the server's lifetime -----------------------------------------------------------

    def load(self) -> None:
        """Start the server and load the model now (otherwise the first call does)."""
        self._running()

    def _running(self) -> tuple[LlamaServer, ThreadPoolExecutor]:
        with self._lock:
            if self._server is None or self._pool is None:
                settings = ServerSettings(
                    self.model_path, self.slots, self.context, self.threads, batch_invariant=self.batch_invariant
                )
                server = LlamaServer(settings, verbose=self.verbose)
                pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="ponder-local")
                self._server, self._pool, self.load_seconds = server, pool, server.load_seconds
                # stopped at close() or, at the latest, when the process exits
                self._finalizer = weakref.finalize(self, _stop, server, pool)
            return self._server, self._pool

    @property
    def loaded(self) -> bool:
        """Whether the server is running."""
        return self._server is not None

    @property
    def address(self) -> str | None:
        """The loopback URL the running server also listens on (its API key: `api_key`)."""
        return self._server.address if self._server is not None else None

    @property
    def api_key(self) -> str | None:
        """The random API key that guards the loopback port (None until loaded)."""
        return self._server.api_key if self._server is not None else None

    def close(self) -> None:
        """Stop the server: requests in flight end at their next token; a later call starts it again."""
        with self._lock:
            finalizer, self._finalizer = self._finalizer, None
            self._server = self._pool = None
        if finalizer is not None:
            finalizer()

    # -- calls ---------------------------------------------------------------------------

    def request_body(self, req: CompletionRequest, seed: int, n: int = 1) -> dict[str, Any]:
        """The JSON body of one chat completion request to the server: `n` choices (at most `slots`),
        choice i seeded `seed + i` (llama.cpp's rule)."""
        body: dict[str, Any] = {
            "messages": [message_to_openai(m) for m in req.messages],
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
            "seed": seed,
            "n": n,
            "cache_prompt": self.cache_prompt,
        }
        if req.stop:
            body["stop"] = list(req.stop)
        if req.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = 1  # llama.cpp sends no logprobs at all with 0
        return body

    async def _one(self, body: dict[str, Any], on_text: TextSink | None = None) -> tuple[list[Choice], Usage]:
        """One request (its `n` choices in `n` slots): admitted by the limiter, run in a worker thread,
        stopped if cancelled.

        on_text: gets each piece of the text on the event loop as it is decoded (relayed from the thread).
        """
        loop = asyncio.get_running_loop()
        if self._server is not None and self._pool is not None:
            server, pool = self._server, self._pool
        else:  # loading takes seconds: not on the event loop
            server, pool = await loop.run_in_executor(None, self._running)
        slot = await self.limiter.acquire(weight=int(body.get("n", 1)))
        stop = threading.Event()
        t0 = time.perf_counter()
        error: str | None = None
        relay, failed = _relay(loop, on_text, stop)
        try:
            async with asyncio.timeout(self.timeout):
                args = (body, stop) if relay is None else (body, stop, relay)
                out = await loop.run_in_executor(pool, server.chat, *args)
            if failed:  # the pieces were handed on before this resumes: the loop runs callbacks in order
                raise failed[0]
            choices, usage, _ = _parse(out, self)
            if len(choices) != int(body.get("n", 1)):
                raise BackendError(f"llama.cpp answered {len(choices)} choices for n={body.get('n', 1)}")
            return choices, usage
        except TimeoutError:
            error = f"the local model did not finish within {self.timeout} s (option timeout)"
            raise BackendError(error) from None
        except BackendError as e:
            error = str(e)
            raise
        finally:
            stop.set()  # a cancelled or timed-out request stops decoding at its next token
            self.limiter.release(slot, ok=error is None)
            latency = round((time.perf_counter() - t0) * 1000, 3)
            report_attempt(Attempt(error=error, latency_ms=latency, concurrency=slot.limit))

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """Answer `req` as `complete` does, handing on the text as llama.cpp decodes it (one choice;
        with `n > 1` the first choice's text is handed on whole at the end)."""
        if req.n != 1:
            return await answer_whole(self, req, on_text)
        t0 = time.perf_counter()
        seed = req.seed if req.seed is not None else DEFAULT_SEED
        choices, usage = await self._one(self.request_body(req, seed), on_text)
        return Completion(choices=choices, usage=usage, model=self.model, latency_ms=(time.perf_counter() - t0) * 1000)

    async def complete(self, req: CompletionRequest) -> Completion:
        """Answer `req`: its `n` choices as llama.cpp's own `n` (the prompt read once, the choices
        decoded side by side from the same start), in groups of at most `slots`, one group after
        the other; choice i is seeded `seed + i`."""
        t0 = time.perf_counter()
        seed = req.seed if req.seed is not None else DEFAULT_SEED
        choices: list[Choice] = []
        usage = Usage()
        for start in range(0, req.n, self.slots):
            group, u = await self._one(self.request_body(req, seed + start, min(self.slots, req.n - start)))
            choices.extend(group)
            usage = usage + u
        return Completion(
            choices=choices,
            usage=usage,
            model=self.model,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )


def _relay(
    loop: asyncio.AbstractEventLoop, on_text: TextSink | None, stop: threading.Event
) -> tuple[Callable[[str], None] | None, list[BaseException]]:
    """A function for the decoding thread that hands each piece to `on_text` on the loop; and where an
    exception `on_text` raised is kept (it also stops the decoding)."""
    failed: list[BaseException] = []
    if on_text is None:
        return None, failed
    sink = on_text

    def deliver(piece: str) -> None:
        if failed:
            return
        try:
            sink(piece)
        except Exception as e:
            failed.append(e)
            stop.set()

    def relay(piece: str) -> None:
        loop.call_soon_threadsafe(deliver, piece)

    return relay, failed


def _stop(server: LlamaServer, pool: ThreadPoolExecutor) -> None:
    server.stop()
    pool.shutdown(wait=True, cancel_futures=True)


def _parse(out: dict[str, Any], backend: LocalBackend) -> tuple[list[Choice], Usage, str]:
    err = out.get("error") if isinstance(out, dict) else None
    if isinstance(err, dict):
        if err.get("type") == "exceed_context_size_error":
            raise BackendError(
                f"the prompt is {err.get('n_prompt_tokens')} tokens, more than a slot's context of "
                f"{err.get('n_ctx')}: raise the local backend's `context` option (tokens per slot; now "
                f"{backend.context}) in a config profile, or shorten the prompt"
            )
        raise BackendError(f"llama.cpp refused the request: {str(err.get('message') or err)[:300]}")
    return parse_chat_completion(out)
