"""The `Backend` protocol (one async method, like an httpx transport) and `BaseBackend`, which declares
what a registered backend offers beyond it: whether calls are free, and the options it is built from."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ponder.types import Completion, CompletionRequest


class Capabilities(BaseModel):
    """What a backend can do natively.

    n: answers `n>1` choices in one completion. tools: native tool calls. seed: honours a
    per-request seed, so the run gives every request without one a derived seed (`ponder.backends.seeds`).
    """

    n: bool = False
    tools: bool = False
    seed: bool = False


@runtime_checkable
class Backend(Protocol):
    """Anything that turns a `CompletionRequest` into a `Completion`.

    `free`: calls cost nothing (an in-process model, a script), so a run's cost is 0, not unknown.
    """

    name: str
    model: str
    capabilities: Capabilities
    free: bool

    async def complete(self, req: CompletionRequest) -> Completion: ...


TextSink = Callable[[str], None]
"""Receives the pieces of a completion's text as they arrive (`StreamingBackend.stream`)."""


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend that can hand on the text of an answer while it is being written.

    `stream(req, on_text)` answers `req` exactly as `complete` would (the same `Completion`,
    recorded the same way) and meanwhile calls `on_text` with each piece of the first choice's
    text, in order: joined, the pieces are that text. A piece is never taken back, so a failure
    after the first piece is not retried. An exception `on_text` raises ends the call with it.
    """

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion: ...


async def stream_completion(backend: Backend, req: CompletionRequest, on_text: TextSink) -> Completion:
    """`req` answered by `backend.stream` where the backend streams; else by `complete`, its text handed on whole."""
    if isinstance(backend, StreamingBackend):
        return await backend.stream(req, on_text)
    return await answer_whole(backend, req, on_text)


async def answer_whole(backend: Backend, req: CompletionRequest, on_text: TextSink) -> Completion:
    """`req` answered by `backend.complete`, then its text handed on in one piece (a backend that cannot stream)."""
    completion = await backend.complete(req)
    if completion.text:
        on_text(completion.text)
    return completion


class BackendOptions(BaseModel):
    """The options a backend is built from (what a config profile, flags and environment may set).

    A backend extends it with its own fields; unknown options are refused by name.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = None


class BaseBackend:
    """Base of every registered backend: the `Backend` attributes with their defaults.

    A backend registered under `ponder.backends` subclasses it and declares, as class attributes:
    `name`; `free` (default False: calls are priced by model where a price is known); `Options`,
    the pydantic model of its options (default: `model` only). `from_options` builds one from
    validated options; override it when an option is not a constructor argument (an API key
    read from the environment variable an option names, say).
    """

    name: str = ""
    free: bool = False
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    model: str = ""
    capabilities: Capabilities = Capabilities()

    @classmethod
    def from_options(cls, options: BackendOptions, env: Mapping[str, str]) -> Self:
        """A backend built from `options` (passed as keyword arguments; unset ones left to the defaults)."""
        return cls(**options.model_dump(exclude_none=True))

    async def complete(self, req: CompletionRequest) -> Completion:
        """Answer `req`."""
        raise NotImplementedError

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """Answer `req`, handing on its text as it comes (`StreamingBackend`); by default all of it at the end."""
        return await answer_whole(self, req, on_text)


@dataclass(frozen=True)
class CallSite:
    """Where in a run a request is made: the branch path and the occurrence of this request there.

    The recorder sets it around each backend call (a context variable, so concurrent
    branches each see their own); `ReplayBackend` and `CachedBackend` use it to give
    each of several identical requests its own recorded answer.
    """

    branch: str = ""
    sample_index: int = 0


current_call_site: contextvars.ContextVar[CallSite | None] = contextvars.ContextVar("ponder_call_site", default=None)


class Attempt(BaseModel):
    """One attempt (one HTTP request) made while answering a call: what the server did and how long it took.

    status: the HTTP status, None when no response came (timeout, connection error).
    error: why the attempt failed (None when it succeeded). delay_s: the backoff waited before it.
    concurrency: the backend's concurrency limit when the attempt was admitted (None if it has none).
    """

    model_config = ConfigDict(frozen=True)

    status: int | None = None
    error: str | None = None
    latency_ms: float = 0.0
    delay_s: float = 0.0
    concurrency: int | None = None


_attempts: contextvars.ContextVar[list[Attempt] | None] = contextvars.ContextVar("ponder_attempts", default=None)


@contextlib.contextmanager
def collect_attempts() -> Iterator[list[Attempt]]:
    """Collect the attempts a backend reports while answering calls made inside the block.

    `RunContext.complete` wraps each backend call in it and records the list with the call,
    so a trace shows every retry even when the call finally failed.
    """
    log: list[Attempt] = []
    token = _attempts.set(log)
    try:
        yield log
    finally:
        _attempts.reset(token)


def report_attempt(attempt: Attempt) -> None:
    """Called by a backend after each attempt; a no-op outside `collect_attempts`."""
    log = _attempts.get()
    if log is not None:
        log.append(attempt)
