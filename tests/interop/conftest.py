"""Fixtures for `ponder serve` and `ponder proxy`: servers started by the test on loopback (a free
port, in a thread of their own) and stopped after; a loopback OpenAI server as the upstream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("starlette", reason="ponder serve/proxy need the serve-api extra: pip install -e '.[serve-api]'")
pytest.importorskip("uvicorn", reason="ponder serve/proxy need the serve-api extra: pip install -e '.[serve-api]'")

from ponder.interop._http import ThreadedServer
from ponder.interop.loopback import LoopbackOpenAI, Reply, Responder
from ponder.traces.store import TraceStore


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], ThreadedServer]]:
    """`serve_app(asgi_app)`: the app served on 127.0.0.1 for the test; its `.url` is the root."""
    started: list[ThreadedServer] = []

    def start(app: Any) -> ThreadedServer:
        server = ThreadedServer(app)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop(timeout=5.0)


@pytest.fixture
def upstream() -> Iterator[Callable[[Responder], LoopbackOpenAI]]:
    """`upstream(responder)`: a loopback OpenAI server answering from `responder` (stopped after the test)."""
    started: list[LoopbackOpenAI] = []

    def start(responder: Responder) -> LoopbackOpenAI:
        server = LoopbackOpenAI(responder).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll `cond` until true; fail after `timeout` seconds saying what was awaited."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def statuses(store: TraceStore) -> dict[str, str]:
    """Every run's status by id, read fresh."""
    return {r.id: r.status for r in store.list_runs(limit=10_000)}


__all__ = ["Reply", "statuses", "wait_for"]
