"""What `ponder proxy --replay DB` serves: the recorded replies, found by request key.

Identical requests are served their recorded replies in recorded order (the last one again once
they are used up), as `ReplayBackend` serves a re-run. A reply is sent back as it was recorded: the
upstream's own body, or its own chunks for a stream; a reply recorded the other way (a stream asked
for what was recorded whole, or a reply ponder itself made in a `ponder serve` or `ponder run`
recording) is rebuilt from the completion. With `ignore` patterns, what they match in the
requests' texts does not count when matching (`ponder proxy --key-ignore`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from ponder._util.secrets import redact
from ponder.backends.replay import describe_miss
from ponder.interop.wire import WireRequest, completion_body, completion_chunks, sse
from ponder.traces.events import LLMCallRecord
from ponder.traces.store import TraceStore
from ponder.types import Completion

IGNORED = "<ignored>"


def _scrub(data: Any, ignore: Sequence[re.Pattern[str]]) -> Any:
    if isinstance(data, str):
        for pattern in ignore:
            data = pattern.sub(IGNORED, data)
        return data
    if isinstance(data, dict):
        return {k: _scrub(v, ignore) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v, ignore) for v in data]
    return data


def matching_key(request: dict[str, Any], ignore: Sequence[re.Pattern[str]]) -> str:
    """The key of a request as stored (redacted JSON) with every match of `ignore` in its texts made one token."""
    text = json.dumps(_scrub(request, ignore), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def as_stored(req: WireRequest) -> dict[str, Any]:
    """A request as the store keeps it (its canonical form, redacted as every stored JSON is)."""
    stored: dict[str, Any] = json.loads(redact(json.dumps(req.canonical(), ensure_ascii=False, default=str)))
    return stored


class ReplayIndex:
    """The recorded replies of a store (or of one run and its child runs), by request key.

    run_id: only that run's calls (None: every call in the store).
    ignore: patterns whose matches in the requests' texts do not count when matching (a random id
        a framework writes into its prompts): recorded and incoming requests are then keyed by
        `matching_key` instead of the recorded request key.
    """

    def __init__(self, store: TraceStore, run_id: str | None = None, *, ignore: Sequence[re.Pattern[str]] = ()) -> None:
        self.ignore = tuple(ignore)
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
        key = matching_key(call.request, self.ignore) if self.ignore else call.request_key
        if call.response is None:
            self.failed.setdefault(key, call)  # named when the same request misses
            return
        self.calls.append(call)
        self._by_key[key].append(call)

    def key(self, req: WireRequest) -> str:
        """What `req` is matched by: its request key, or its `matching_key` when some text is ignored."""
        return matching_key(as_stored(req), self.ignore) if self.ignore else req.key()

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
        queue = self._by_key.get(self.key(req))
        if not queue:
            return None
        return queue[0] if len(queue) == 1 else queue.popleft()

    def describe_miss(self, req: WireRequest) -> str:
        """Why `req` has no recorded reply: its call failed, or the closest recorded request and how it differs."""
        key = req.key()
        failed = self.failed.get(self.key(req))
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
