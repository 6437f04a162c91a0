"""The HTTP side of the openai backend: the client under the SDK (httpx's own transport, or aiohttp's),
what one attempt learns, which failures are worth retrying, and a streamed answer read chunk by chunk.

`httpx` (the default) is the SDK's own client: respx mocks it, it reads proxies from the
environment. `aiohttp` is the SDK's `DefaultAioHttpClient` (the `aiohttp` extra, `httpx-aiohttp`),
which the SDK recommends for many concurrent requests: httpcore's pool walks every connection
(a readability syscall for each idle one) each time a request starts or ends, so its work per
request grows with the requests in flight: about 3.6 ms of client CPU a request with 32 in flight
on httpx, 0.7 ms on aiohttp (measured; docs/results.md, the MCTS `parallel=4` section).

An aiohttp session must be closed inside its event loop. `close_with_loop` ties the client to
the loop it was made in: when `asyncio.run` ends, the loop finalizes its async generators and
the client is closed then (or earlier, by the backend's `aclose`).
"""

from __future__ import annotations

import email.utils
import importlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import openai

from ponder.backends.base import Attempt, TextSink
from ponder.backends.openai_wire import ChunkAssembly, parse_chat_completion
from ponder.errors import BackendError, ConfigError
from ponder.types import Choice, Usage

Transport = Literal["httpx", "aiohttp"]
INSTALL_HINT = 'pip install "ponder[aiohttp]" (the openai SDK\'s aiohttp extra)'


def make_client(transport: Transport, *, api_key: str, base_url: str | None, timeout: float) -> openai.AsyncOpenAI:
    """An SDK client on `transport`, with the SDK's retries off (the backend retries itself)."""
    if transport == "aiohttp":
        try:
            importlib.import_module("httpx_aiohttp")
        except ImportError as e:
            raise ConfigError(f"the openai backend's transport 'aiohttp' needs httpx-aiohttp: {INSTALL_HINT}") from e
        http_client = openai.DefaultAioHttpClient(timeout=timeout)
        return openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http_client
        )
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


async def _closer(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not client.is_closed():
            await client.close()


async def close_with_loop(client: openai.AsyncOpenAI) -> AsyncGenerator[None, None]:
    """Start an async generator that closes `client` when the running loop shuts its generators down.

    Keep the returned generator referenced as long as the client (the loop only holds it weakly:
    dropped, it would be finalized, closing the client at once).
    """
    gen = _closer(client)
    await gen.__anext__()
    return gen


class SinkError(Exception):
    """`on_text` raised: the call ends with that exception (not a server fault, never retried)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Retryable(Exception):
    """An attempt failed in a way worth retrying; `after` is the server's Retry-After in seconds.

    overload: the server said it has too much to do (429, 503) or refused the connection: the
    adaptive concurrency limit comes down.
    """

    def __init__(self, error: BackendError, after: float | None = None, *, overload: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.after = after
        self.overload = overload


def retry_after(headers: httpx.Headers | None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `retry-after` seconds or HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass
class AttemptInfo:
    """What one attempt learnt: the concurrency limit it ran under, the HTTP status if any came, and how
    much of a streamed answer's text it handed on."""

    concurrency: int | None = None
    status: int | None = None
    handed_on: int = 0

    def record(self, error: str | None, t0: float, delay: float) -> Attempt:
        return Attempt(
            status=self.status,
            error=error,
            latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            delay_s=round(delay, 3),
            concurrency=self.concurrency,
        )


def error_detail(e: openai.APIStatusError) -> str:
    """The server's own words about an error status (its `error.message`), at most 300 characters."""
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    if isinstance(body, str):
        return body[:300]
    return ""


async def read_stream(
    client: openai.AsyncOpenAI, path: str, params: dict[str, Any], info: AttemptInfo, on_text: TextSink
) -> tuple[list[Choice], Usage, str]:
    """POST with `stream: true` through the SDK (its SSE reader); the chunks put back together."""
    body = {**params, "stream": True, "stream_options": {"include_usage": True}}
    stream = await client.post(path, body=body, cast_to=object, stream=True, stream_cls=openai.AsyncStream[object])
    info.status = stream.response.status_code
    assembly = ChunkAssembly()
    try:
        async for chunk in stream:
            piece = assembly.take(chunk)
            if piece:
                try:
                    on_text(piece)
                except Exception as e:
                    raise SinkError(e) from e
                info.handed_on += len(piece)
    finally:
        await stream.close()
    return parse_chat_completion(assembly.completion(bool(params.get("logprobs"))))
