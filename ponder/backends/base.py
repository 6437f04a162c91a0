"""The `Backend` protocol: one async method, like an httpx transport."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from ponder.types import Completion, CompletionRequest


class Capabilities(BaseModel):
    """What a backend can do natively."""

    n: bool = False
    tools: bool = False


@runtime_checkable
class Backend(Protocol):
    """Anything that turns a `CompletionRequest` into a `Completion`."""

    name: str
    model: str
    capabilities: Capabilities

    async def complete(self, req: CompletionRequest) -> Completion: ...


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
