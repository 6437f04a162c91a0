"""The openai backend's `aiohttp` transport, against a real loopback server (respx mocks httpx only)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from ponder.backends.openai_compat import OpenAICompatBackend, OpenAIOptions
from ponder.errors import BackendError, ConfigError
from ponder.types import CompletionRequest, Message
from tests.fake_openai import FakeOpenAI, text


def echo(body: dict[str, Any]) -> dict[str, Any]:
    return text("echo: " + body["messages"][-1]["content"])


def req(content: str, n: int = 1) -> CompletionRequest:
    return CompletionRequest(messages=(Message.user(content),), n=n)


def test_aiohttp_transport_answers_like_httpx() -> None:
    with FakeOpenAI(echo) as server:

        async def both() -> list[list[str]]:
            out = []
            for transport in ("httpx", "aiohttp"):
                b = OpenAICompatBackend(base_url=server.url, model="m", transport=transport)
                done = await asyncio.gather(*(b.complete(req(f"q{i}", n=2)) for i in range(8)))
                out.append([c.text for c in done])
                await b.aclose()
            return out

        httpx_texts, aiohttp_texts = asyncio.run(both())
    assert httpx_texts == aiohttp_texts == [f"echo: q{i}" for i in range(8)]


def test_aiohttp_client_is_closed_when_its_loop_ends() -> None:
    """No `aclose()` called: the client still closes with the loop (an unclosed aiohttp session warns)."""
    with FakeOpenAI(echo) as server:
        b = OpenAICompatBackend(base_url=server.url, model="m", transport="aiohttp")
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            assert asyncio.run(b.complete(req("one"))).text == "echo: one"
            client = b._client
            assert client is not None and client.is_closed()
            # a second loop gets a client of its own, closed as that loop ends too
            assert asyncio.run(b.complete(req("two"))).text == "echo: two"
            assert b._client is not client and b._client is not None and b._client.is_closed()
            gc.collect()


def test_aiohttp_transport_reports_server_errors_after_retries() -> None:
    def broken(body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    with FakeOpenAI(broken) as server:
        b = OpenAICompatBackend(base_url=server.url, model="m", transport="aiohttp", max_retries=1, backoff=0.001)
        with pytest.raises(BackendError, match=r"answered 500.*RuntimeError: boom.*gave up after 2 attempts"):
            asyncio.run(b.complete(req("x")))


def test_transport_option() -> None:
    opts = OpenAIOptions(model="m", base_url="http://127.0.0.1:9/v1", transport="aiohttp")
    assert OpenAICompatBackend.from_options(opts, {}).transport == "aiohttp"
    assert OpenAICompatBackend(model="m").transport == "httpx"
    with pytest.raises(ConfigError, match="transport must be 'httpx' or 'aiohttp'"):
        OpenAICompatBackend(model="m", transport="h2")  # type: ignore[arg-type]
