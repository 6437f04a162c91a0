"""`OpenAICompatBackend`: any OpenAI-compatible chat completions server through the `openai` SDK.

Works with OpenAI, vLLM, llama.cpp's and llama-cpp-python's servers, Ollama, LM Studio.
Retries are done here, not by the SDK, so that the backoff is ours (exponential with
jitter, Retry-After honoured) and testable without sleeping. The wire format (requests'
messages and tools, replies parsed defensively) is `ponder.backends.openai_wire`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import openai

from ponder._util.secrets import redact, register_secret
from ponder.backends._http_client import (
    AttemptInfo,
    Retryable,
    SinkError,
    Transport,
    close_with_loop,
    error_detail,
    make_client,
    read_stream,
    retry_after,
)
from ponder.backends.base import (
    BackendOptions,
    BaseBackend,
    Capabilities,
    TextSink,
    answer_whole,
    report_attempt,
)
from ponder.backends.concurrency import OVERLOAD_STATUSES, ConcurrencyLimiter, shared_limiter
from ponder.backends.openai_wire import message_to_openai, parse_chat_completion, tool_to_openai
from ponder.errors import BackendError, ConfigError
from ponder.types import Choice, Completion, CompletionRequest, Usage

PLACEHOLDER_KEY = "EMPTY"
"""Sent when no API key is given: keyless local servers accept any key, and the SDK insists on one."""

_MAX_TOPUPS = 64
_DEFAULT_BASE = "https://api.openai.com/v1"
_PATH = "/chat/completions"
_OVERLOAD_EXTRA = 6  # halvings from the adaptive start (64) down to one request in flight
_MAX_RETRY_AFTER = 300.0


class OpenAIOptions(BackendOptions):
    """What a config profile, flags or environment may set for an OpenAI-compatible server.

    The API key itself is never an option: `api_key_env` names the environment variable holding it.
    """

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float | None = None
    max_retries: int | None = None
    concurrency: int | None = None
    backoff: float | None = None
    max_backoff: float | None = None
    transport: Transport | None = None


class OpenAICompatBackend(BaseBackend):
    """A chat completions server that speaks the OpenAI API, through `openai.AsyncOpenAI`.

    base_url: the server's API root, e.g. ``http://127.0.0.1:8000/v1`` (None: the SDK's
        default, OpenAI itself). api_key: None sends a placeholder, for keyless servers; the
        key is held only by the SDK client and never stored, logged or shown in a repr.
    timeout: seconds per HTTP attempt, a total deadline (the attempt is cancelled when it
        passes). max_retries: retries after the first attempt on 429, 5xx, a 200 that is not
        JSON, connection errors and timeouts. backoff: base of the exponential backoff
        in seconds (attempt i waits a jittered ``backoff * 2**i``, at most `max_backoff`,
        or the server's Retry-After). concurrency: requests in flight at once; None (the default)
        adapts it (AIMD, shared by every backend of the process talking to the same server:
        it starts at 64, halves on 429/503/refused connections, Retry-After holding every
        request back, and grows by one per round of successes). transport: the HTTP client under
        the SDK, `httpx` (its default) or `aiohttp` (its `DefaultAioHttpClient`: far less work per
        request when many are in flight; the `aiohttp` extra; see `ponder.backends._http_client`).

    Servers that answer ``n>1`` with fewer choices (llama-cpp-python's server answers one)
    are asked again for the missing count, so a completion always has ``req.n`` choices.
    Top-up requests carry ``seed + i`` when a seed is set, so they do not repeat a sample.
    """

    name = "openai"
    Options = OpenAIOptions

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: Transport = "httpx",
    ) -> None:
        if not model:
            raise ConfigError("the openai backend needs a model name: pass --model NAME or set PONDER_MODEL")
        if max_retries < 0 or (concurrency is not None and concurrency < 1) or timeout <= 0:
            raise ConfigError("openai backend: timeout must be > 0, max_retries >= 0 and concurrency >= 1")
        if transport not in ("httpx", "aiohttp"):
            raise ConfigError(f"openai backend: transport must be 'httpx' or 'aiohttp', not {transport!r}")
        self.transport: Transport = transport
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.capabilities = Capabilities(n=True, tools=True, seed=True)
        self._key = api_key or PLACEHOLDER_KEY
        register_secret(api_key)
        self._sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        self._jitter = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._closer: object = None
        self.adaptive = concurrency is None
        server = self.base_url or _DEFAULT_BASE
        self.limiter = shared_limiter(server) if concurrency is None else ConcurrencyLimiter(fixed=concurrency)

    @classmethod
    def from_options(cls, options: BackendOptions, env: Mapping[str, str]) -> OpenAICompatBackend:
        """Built from options; the key is read from the environment variable `api_key_env` names."""
        o = OpenAIOptions.model_validate(options.model_dump())
        tuning = o.model_dump(include={"timeout", "max_retries", "concurrency", "backoff", "max_backoff", "transport"})
        return cls(
            base_url=o.base_url,
            api_key=env.get(o.api_key_env) or None,
            model=o.model,
            **{k: v for k, v in tuning.items() if v is not None},
        )

    def __repr__(self) -> str:
        return f"OpenAICompatBackend(base_url={self.api_base!r}, model={self.model!r})"

    @property
    def api_base(self) -> str:
        """The base URL requests go to (the SDK's default when none was given)."""
        return str(self._client.base_url) if self._client is not None else (self.base_url or _DEFAULT_BASE)

    async def _ensure_client(self) -> openai.AsyncOpenAI:
        # a connection pool belongs to one event loop: a new loop (a second asyncio.run) gets a new client
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            client = make_client(self.transport, api_key=self._key, base_url=self.base_url, timeout=self.timeout)
            self._client, self._loop = client, loop
            if self.transport == "aiohttp":  # an aiohttp session is closed inside its loop, at the latest as it ends
                self._closer = await close_with_loop(client)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            await self._client.close()
            self._client = self._closer = None

    # -- one HTTP request ------------------------------------------------------------

    def _params(self, req: CompletionRequest, n: int, seed: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": req.model or self.model,
            "messages": [message_to_openai(m) for m in req.messages],
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
        }
        if n > 1:  # n=1 is the default; some servers reject the field altogether
            params["n"] = n
        if req.stop:
            params["stop"] = list(req.stop)
        if seed is not None:
            params["seed"] = seed
        if req.tools:
            params["tools"] = [tool_to_openai(t) for t in req.tools]
        if req.logprobs:
            params["logprobs"] = True
        return params

    def _status_error(self, e: openai.APIStatusError, model: str) -> BackendError | Retryable:
        code = e.status_code
        detail = redact(error_detail(e))
        if code in (401, 403):
            return BackendError(
                f"the server refused the API key ({code}); set OPENAI_API_KEY or --api-key-env VAR"
                + (f" [{detail}]" if detail else "")
            )
        if code == 404:
            return BackendError(
                f"{self.api_base} answered 404 for model {model!r}: check the model name (--model / "
                f"PONDER_MODEL) and that the base URL ends in /v1" + (f" [{detail}]" if detail else "")
            )
        err = BackendError(f"the server at {self.api_base} answered {code}" + (f": {detail}" if detail else ""))
        if code == 429 or code == 408 or code >= 500:
            return Retryable(err, retry_after(e.response.headers), overload=code in OVERLOAD_STATUSES)
        return err

    async def _attempt(
        self, params: dict[str, Any], info: AttemptInfo, on_text: TextSink | None = None
    ) -> tuple[list[Choice], Usage, str]:
        """One HTTP request under a total deadline; `info` receives the limit it ran under and the HTTP status.

        on_text: stream the answer, handing on its text (a failure after the first piece is not retried).
        """
        try:
            return await self._attempt_once(params, info, on_text)
        except Retryable as r:
            if not info.handed_on:
                raise
            raise BackendError(
                f"{r.error}, after {info.handed_on} characters of the answer were handed on (not retried)"
            ) from r
        except SinkError as e:
            raise e.error from None

    async def _attempt_once(
        self, params: dict[str, Any], info: AttemptInfo, on_text: TextSink | None
    ) -> tuple[list[Choice], Usage, str]:
        client = await self._ensure_client()
        slot = await self.limiter.acquire(self._sleep)
        info.concurrency = slot.limit
        outcome: dict[str, Any] = {}
        try:
            try:
                # the SDK's timeouts are per phase (a read timeout restarts with every byte), so a server
                # that drips its answer would hold us forever: the deadline cancels the whole request
                async with asyncio.timeout(self.timeout):
                    # the SDK's own POST (base URL, auth, error statuses, SSE) without `create`'s TypedDict
                    # transform of the body: `params` is already the JSON the API takes, and the transform
                    # cost ~3 ms a request, serialised on the event loop when many requests go at once
                    if on_text is not None:
                        streamed = await read_stream(client, _PATH, params, info, on_text)
                    else:
                        response = await client.post(_PATH, body=params, cast_to=httpx.Response)
            except SinkError:
                outcome["ok"] = True  # the server did its part
                raise
            except TimeoutError as e:
                raise Retryable(
                    BackendError(f"the server at {self.api_base} did not answer within {self.timeout} s (timeout)")
                ) from e
            except openai.APITimeoutError as e:
                raise Retryable(
                    BackendError(f"the server at {self.api_base} did not answer within {self.timeout} s (timeout)")
                ) from e
            except openai.APIConnectionError as e:
                cause = redact(str(e.__cause__ or e))
                outcome["overloaded"] = True
                raise Retryable(
                    BackendError(
                        f"cannot reach {self.api_base} ({cause}); check that the server is running "
                        "and the base URL is right"
                    )
                ) from e
            except openai.APIStatusError as e:
                info.status = e.status_code
                out = self._status_error(e, params["model"])
                if isinstance(out, Retryable) and out.overload:
                    outcome.update(overloaded=True, retry_after=out.after)
                raise out from e
            except openai.OpenAIError as e:
                raise BackendError(f"the openai client failed: {redact(str(e))}") from e
            except (httpx.HTTPError, ValueError) as e:  # a stream cut short, or a chunk that is not JSON
                raise Retryable(BackendError(f"the stream from {self.api_base} broke: {redact(str(e))[:200]}")) from e
            outcome["ok"] = True
            if on_text is not None:
                return streamed
            info.status = response.status_code
            body_bytes = response.content
        finally:
            self.limiter.release(slot, **outcome)
        try:
            body = json.loads(body_bytes)
        except ValueError as e:
            # a proxy's error page or a half-written reply: a transient server fault, like a 500
            snippet = redact(body_bytes[:200].decode("utf-8", "replace"))
            raise Retryable(
                BackendError(f"the server at {self.api_base} sent a reply that is not JSON: {snippet!r}")
            ) from e
        return parse_chat_completion(body)

    async def _request(
        self, params: dict[str, Any], on_text: TextSink | None = None
    ) -> tuple[list[Choice], Usage, str]:
        """One logical request: attempts with exponential backoff and jitter on transient failures.

        Every attempt is reported (`report_attempt`), so the trace shows what the server did.
        """
        attempt = 0
        delay = 0.0
        while True:
            info = AttemptInfo()
            t0 = time.perf_counter()
            try:
                out = await self._attempt(params, info, on_text)
            except Retryable as r:
                report_attempt(info.record(str(r.error), t0, delay))
                # while the adaptive limit comes down to what the server takes, a 429 is a signal, not a
                # failure: it gets the few more attempts that halving from the start needs
                allowed = self.max_retries + (_OVERLOAD_EXTRA if self.adaptive and r.overload else 0)
                if attempt >= allowed:
                    tries = attempt + 1
                    raise BackendError(f"{r.error} (gave up after {tries} attempt{'s' * (tries > 1)})") from r
                if self.adaptive and r.overload:
                    # the shared limit came down and holds back every request, Retry-After included:
                    # waiting here as well would only add the two delays up
                    delay = 0.0
                else:
                    delay = min(self.backoff * 2**attempt, self.max_backoff) * (0.5 + self._jitter.random() / 2)
                    if r.after is not None:  # the server knows best; a cap keeps a bogus header from hanging us
                        delay = max(delay, min(r.after, _MAX_RETRY_AFTER))
                attempt += 1
                if delay:
                    await self._sleep(delay)
                continue
            except BackendError as e:
                report_attempt(info.record(str(e), t0, delay))
                raise
            report_attempt(info.record(None, t0, delay))
            return out

    # -- the Backend protocol ----------------------------------------------------------

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """Ask the server for a streamed answer (`stream: true`), handing on its text as it arrives.

        A request with `n > 1` or tools is answered by `complete`, its text handed on whole at the end.
        Retries as `complete` does, until the first piece is handed on; a failure after it is not retried.
        """
        if req.n != 1 or req.tools:
            return await answer_whole(self, req, on_text)
        t0 = time.perf_counter()
        choices, usage, model = await self._request(self._params(req, 1, req.seed), on_text)
        return Completion(
            choices=choices[:1],
            usage=usage,
            model=model or req.model or self.model,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )

    async def complete(self, req: CompletionRequest) -> Completion:
        """Ask the server; tops up when it answered fewer than `req.n` choices."""
        t0 = time.perf_counter()
        choices, usage, model = await self._request(self._params(req, req.n, req.seed))
        topups = 0
        while len(choices) < req.n:
            topups += 1
            if topups > _MAX_TOPUPS:
                raise BackendError(
                    f"the server answered {len(choices)} of {req.n} choices after {_MAX_TOPUPS} extra requests"
                )
            missing = req.n - len(choices)
            seed = req.seed + topups if req.seed is not None else None
            more, more_usage, _ = await self._request(self._params(req, missing, seed))
            choices.extend(more[:missing])
            usage = usage + more_usage
        return Completion(
            choices=choices[: req.n],
            usage=usage,
            model=model or req.model or self.model,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )
