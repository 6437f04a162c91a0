"""`ReplayBackend`: serves completions recorded in a trace store, so a run re-executes with no model."""

from __future__ import annotations

import difflib
import json
from collections import defaultdict, deque
from typing import Any

from ponder.backends.base import Capabilities, current_call_site
from ponder.errors import ReplayMiss, StoreError
from ponder.traces.events import LLMCallRecord
from ponder.traces.store import TraceStore
from ponder.types import Completion, CompletionRequest


def _messages_text(req: dict[str, Any]) -> list[str]:
    return [f"[{m.get('role')}] {m.get('content', '')}" for m in req.get("messages", [])]


def describe_miss(req: CompletionRequest, recorded: list[LLMCallRecord]) -> str:
    """A message naming the closest recorded request and the first message that differs."""
    want = req.canonical()
    head = f"no recorded completion for request {req.key()}"
    if not recorded:
        return head + " (the recording has no llm calls; was it deleted?)"
    want_text = json.dumps(want, sort_keys=True, ensure_ascii=False)

    def ratio(r: LLMCallRecord) -> float:
        got = json.dumps(r.request, sort_keys=True, ensure_ascii=False)
        return difflib.SequenceMatcher(None, want_text, got, autojunk=False).quick_ratio()

    best = max(recorded, key=ratio)
    lines = [
        head,
        f"closest recorded request: call #{best.id} (event {best.event_seq}, branch {best.branch!r})",
    ]
    a, b = _messages_text(best.request), _messages_text(want)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            lines.append(f"first differing message: #{i}")
            diff = difflib.unified_diff(x.splitlines(), y.splitlines(), "recorded", "requested", lineterm="", n=1)
            lines.extend(list(diff)[:40])
            break
    else:
        if len(a) != len(b):
            lines.append(f"recorded request has {len(a)} messages, this one {len(b)}")
        else:
            rest = {k: v for k, v in want.items() if k != "messages"}
            old = {k: v for k, v in best.request.items() if k != "messages"}
            changed = sorted(k for k in set(rest) | set(old) if rest.get(k) != old.get(k))
            lines.append(f"messages match; differing parameters: {', '.join(changed) or 'none (sample index)'}")
    return "\n".join(lines)


def recorded_seeds(calls: list[LLMCallRecord]) -> bool:
    """Whether the run derived a seed for its requests: every recorded request carries one.

    A recording made before ponder derived seeds (or on a backend that takes none) has requests
    without; its replay must send them without a seed too, or no request key would match.
    """
    return bool(calls) and all(c.request.get("seed") is not None for c in calls)


class ReplayBackend:
    """Serves the completions recorded for a run (and its child runs), matched by request key.

    A request made at a call site (branch, sample index) gets the answer recorded at the
    same site; otherwise identical requests are served in recorded order. A request never
    recorded raises `ReplayMiss`.

    store: the trace store; run_id: the run whose calls to serve (all runs if None).
    """

    name = "replay"
    free = False  # a replayed run is priced as the recorded one was

    def __init__(self, store: TraceStore, run_id: str | None = None) -> None:
        self.store = store
        if run_id is not None:
            run = store.get_run(run_id)
            ids = store.descendant_run_ids(run.id)
            self.model = run.model or "replay"
            calls = store.llm_calls(ids)
        else:
            self.model = "replay"
            calls = store.all_llm_calls()
        self.calls = [c for c in calls if c.response is not None]
        if run_id is not None and not self.calls and calls == []:
            raise StoreError(f"run {run_id} has no recorded llm calls to replay (were they deleted?)")
        # a strategy that picks its mode from the backend (ReAct's auto) must pick what it picked when recording
        self.capabilities = Capabilities(n=True, tools=any(c.request.get("tools") for c in self.calls))
        self._by_site: dict[tuple[str, str, int], LLMCallRecord] = {}
        self._by_key: dict[str, deque[LLMCallRecord]] = defaultdict(deque)
        for c in self.calls:
            self._by_site[(c.request_key, c.branch, c.sample_index)] = c
            self._by_key[c.request_key].append(c)
        self.served = 0
        # a strategy choosing between one n=k request and k branches (self-consistency, ToT's value
        # samples) must choose as it did when recording: `n` only if a recorded request used it
        uses_n = any((c.request.get("n") or 1) > 1 for c in self.calls)
        self.capabilities = self.capabilities.model_copy(update={"n": uses_n, "seed": recorded_seeds(self.calls)})

    async def complete(self, req: CompletionRequest) -> Completion:
        key = req.key()
        site = current_call_site.get()
        rec = self._by_site.get((key, site.branch, site.sample_index)) if site is not None else None
        if rec is None:
            queue = self._by_key.get(key)
            if not queue:
                raise ReplayMiss(describe_miss(req, self.calls))
            rec = queue[0] if len(queue) == 1 else queue.popleft()
        self.served += 1
        assert rec.response is not None
        completion = Completion.model_validate(rec.response)
        return completion.model_copy(update={"origin": "replay"})
