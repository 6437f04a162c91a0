"""`CachedBackend`: wraps any backend with a persistent cache keyed by request key and sample index."""

from __future__ import annotations

from ponder.backends.base import Backend, TextSink, current_call_site, stream_completion
from ponder.traces.store import TraceStore
from ponder.types import Completion, CompletionRequest


class CachedBackend:
    """Answers a request seen before from `store`'s cache; asks `inner` otherwise.

    The call site (branch and sample index) is part of the key, so k identical sampled
    requests (self-consistency's paths) are cached as k answers, not one answer k times.
    """

    def __init__(self, inner: Backend, store: TraceStore) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name
        self.model = inner.model
        self.capabilities = inner.capabilities
        self.free = inner.free
        self.hits = 0
        self.misses = 0

    async def complete(self, req: CompletionRequest) -> Completion:
        """The cached answer to `req`, or the inner backend's (then cached)."""
        return await self._answer(req, None)

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """`complete`, streamed: a cached text handed on in one piece, the inner backend's as it streams."""
        return await self._answer(req, on_text)

    async def _answer(self, req: CompletionRequest, on_text: TextSink | None) -> Completion:
        site = current_call_site.get()
        index = site.sample_index if site is not None else 0
        key = req.key() if site is None or not site.branch else f"{req.key()}@{site.branch}"
        cached = self.store.cache_get(key, index)
        if cached is not None:
            self.hits += 1
            hit = Completion.model_validate(cached).model_copy(update={"origin": "cache", "latency_ms": 0.0})
            if on_text is not None and hit.text:
                on_text(hit.text)
            return hit
        self.misses += 1
        if on_text is not None:
            completion = await stream_completion(self.inner, req, on_text)
        else:
            completion = await self.inner.complete(req)
        self.store.cache_put(key, index, completion.model_dump(mode="json"))
        return completion
