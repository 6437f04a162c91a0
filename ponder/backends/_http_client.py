"""The HTTP client under the openai backend's SDK client: httpx's own transport, or aiohttp's.

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

import importlib
from collections.abc import AsyncGenerator
from typing import Literal

import openai

from ponder.errors import ConfigError

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
