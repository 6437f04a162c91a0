"""What `ponder proxy --replay DB` serves: the recorded replies, found by request key.

Identical requests are served their recorded replies in recorded order (the last one again once
they are used up), as `ReplayBackend` serves a re-run. A reply is sent back as it was recorded: the
upstream's own body, or its own chunks for a stream; a reply recorded the other way (a stream asked
for what was recorded whole, or a reply ponder itself made in a `ponder serve` or `ponder run`
recording) is rebuilt from the completion.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import AsyncGenerator
from typing import Any

from ponder.backends.replay import describe_miss
from ponder.interop.wire import WireRequest, completion_body, completion_chunks, sse
from ponder.traces.events import LLMCallRecord
from ponder.traces.store import TraceStore
from ponder.types import Completion


class ReplayIndex:
    """The recorded replies of a store (or of one run and its child runs), by request key.

    run_id: only that run's calls (None: every call in the store).
    """

    def __init__(self, store: TraceStore, run_id: str | None = None) -> None:
        if run_id is not None:
            calls = store.llm_calls(store.descendant_run_ids(store.resolve_run_id(run_id)))
        else:
            calls = store.all_llm_calls()
        self.calls: list[LLMCallRecord] = []
        self.failed: dict[str, LLMCallRecord] = {}
        self._by_key: dict[str, deque[LLMCallRecord]] = defaultdict(deque)
        for c in calls:
            self.add(c)

    def add(self, call: LLMCallRecord) -> None:
        """Serve `call` too (a missing one recorded with `--record-missing`); failed calls are not served."""
        if call.response is None:
            self.failed.setdefault(call.request_key, call)  # named when the same request misses
            return
        self.calls.append(call)
        self._by_key[call.request_key].append(call)

    def models(self) -> list[str]:
        """The models the recorded requests named, in order of first use."""
        seen: dict[str, None] = {}
        for c in self.calls:
            model = c.request.get("model")
            if isinstance(model, str) and model:
                seen.setdefault(model, None)
        return list(seen)

    def lookup(self, req: WireRequest) -> LLMCallRecord | None:
        """The recorded call that answers `req`, or None."""
        queue = self._by_key.get(req.key())
        if not queue:
            return None
        return queue[0] if len(queue) == 1 else queue.popleft()

    def describe_miss(self, req: WireRequest) -> str:
        """Why `req` has no recorded reply: its call failed, or the closest recorded request and how it differs."""
        key = req.key()
        failed = self.failed.get(key)
        if failed is not None:
            return (
                f"no recorded completion for request {key}: it was recorded, but its call failed"
                f" (call #{failed.id} of run {failed.run_id}: {failed.error}); record it again"
            )
        if not self.calls and self.failed:
            return f"no recorded completion for request {key} (every call in the recording failed)"
        return describe_miss(req, self.calls)


def recorded_body(call: LLMCallRecord) -> dict[str, Any]:
    """The reply body to send for a recorded call asked for whole."""
    assert call.response is not None
    wire = call.response.get("wire")
    if isinstance(wire, dict) and isinstance(wire.get("body"), dict):
        body: dict[str, Any] = wire["body"]
        return body
    c = Completion.model_validate(call.response)
    return completion_body(c, id=f"chatcmpl-replay-{call.id}", model=c.model, created=0)


async def recorded_stream(call: LLMCallRecord, *, usage: bool) -> AsyncGenerator[bytes, None]:
    """The SSE body to send for a recorded call asked for as a stream."""
    assert call.response is not None
    wire = call.response.get("wire")
    if isinstance(wire, dict) and isinstance(wire.get("chunks"), list):
        chunks: list[Any] = wire["chunks"]
    else:
        c = Completion.model_validate(call.response)
        chunks = completion_chunks(c, id=f"chatcmpl-replay-{call.id}", model=c.model, usage=usage)
    for chunk in chunks:
        yield sse(chunk)
    yield sse("[DONE]")
