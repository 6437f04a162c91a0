"""`ReplayBackend`: the one recorded backend — serves completions recorded in a trace store, so a run
re-executes with no model, and says what a request the recording cannot answer gets (`on_miss`).

- `raise` (replay, `ponder_replay` tests): a miss raises `ReplayMiss` (and is noted in `misses`: an
  agent may swallow the error);
- `live` (a fork with no edit): a miss goes to the `live` backend, and so does the fork point
  (`fork_at`: the call site whose recorded answer is not served);
- `edit` (a fork with an edit): the fork point is answered with `edit`; every later miss goes live.

Whatever the policy, a request the recording shows failing fails again the same way (a recorded
backend error is part of the run), and the capabilities are the ones the recording shows used, so
the agent takes the code paths it took when recording. A call recorded from a stream is recorded
like any other: `stream` serves its recorded text as one piece (a miss that goes live streams live).
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict, deque
from typing import Any, Literal

from ponder.backends.base import Backend, Capabilities, TextSink, current_call_site, stream_completion
from ponder.errors import BackendError, ConfigError, ReplayMiss, StoreError
from ponder.traces.events import LLMCallRecord
from ponder.traces.store import TraceStore
from ponder.types import Choice, Completion, CompletionRequest, Usage

OnMiss = Literal["raise", "live", "edit"]
# a call site: (request key, branch, sample index)
Site = tuple[str, str, int]


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

    A request made at a call site (branch, sample index) gets the answer recorded at the same site;
    otherwise identical requests are served in recorded order. A request never recorded is handled
    as `on_miss` says (the module docstring).

    store: the trace store; run_id: the run whose calls to serve (all runs if None).
    live: the backend a miss goes to (`on_miss` `live` or `edit`); fork_at: the fork point's call
    site; edit: the text the fork point returns with `on_miss="edit"`. A run that can go live is
    billed only for what went live: answers served from the recording carry no usage then.
    """

    free = False  # a replayed run is priced as the recorded one was

    def __init__(
        self,
        store: TraceStore,
        run_id: str | None = None,
        *,
        on_miss: OnMiss = "raise",
        live: Backend | None = None,
        fork_at: Site | None = None,
        edit: str | None = None,
    ) -> None:
        if on_miss != "raise" and live is None:
            raise ConfigError(f"on_miss={on_miss!r} sends misses to a live backend: give one")
        if (on_miss == "edit") != (edit is not None):
            raise ConfigError("on_miss='edit' and an edit go together: the edit is what the fork point returns")
        self.store = store
        if run_id is not None:
            run = store.get_run(run_id)
            calls = store.llm_calls(store.descendant_run_ids(run.id))
            self.model = run.model or "replay"
        else:
            calls = store.all_llm_calls()
            self.model = "replay"
        if run_id is not None and not calls:
            raise StoreError(f"run {run_id} has no recorded llm calls to replay (were they deleted?)")
        self.name = "replay"
        if live is not None:
            self.name, self.model, self.free = live.name, live.model, live.free
        self.calls = [c for c in calls if c.response is not None]
        self.on_miss, self.live, self.fork_at, self.edit = on_miss, live, fork_at, edit
        self._failed = {
            (c.request_key, c.branch, c.sample_index): c.error or "failed" for c in calls if c.response is None
        }
        self._by_site: dict[Site, LLMCallRecord] = {}
        self._by_key: dict[str, deque[LLMCallRecord]] = defaultdict(deque)
        for c in self.calls:
            self._by_site[(c.request_key, c.branch, c.sample_index)] = c
            self._by_key[c.request_key].append(c)
        # a strategy that picks its path from the backend (ReAct's native tools, one n=k request or k
        # branches, seeded requests) must pick what it picked when recording
        self.capabilities = Capabilities(
            n=any((c.request.get("n") or 1) > 1 for c in self.calls),
            tools=any(c.request.get("tools") for c in self.calls),
            seed=recorded_seeds(self.calls),
        )
        self.served = 0
        self.live_calls = 0
        self.misses: list[str] = []
        self._forked = False

    def _recorded(self, key: str, where: Site | None) -> LLMCallRecord | None:
        rec = self._by_site.get((key, *where[1:])) if where is not None else None
        if rec is None:
            queue = self._by_key.get(key)
            if queue:
                rec = queue[0] if len(queue) == 1 else queue.popleft()
        return rec

    async def _go_live(self, req: CompletionRequest, on_text: TextSink | None) -> Completion:
        assert self.live is not None
        self.live_calls += 1
        if on_text is not None:
            return await stream_completion(self.live, req, on_text)
        return await self.live.complete(req)

    async def complete(self, req: CompletionRequest) -> Completion:
        """The recorded answer to `req` (a miss: as `on_miss` says)."""
        return await self._answer(req, None)

    async def stream(self, req: CompletionRequest, on_text: TextSink) -> Completion:
        """`complete`, the recorded text handed to `on_text` in one piece (a live answer streams live)."""
        return await self._answer(req, on_text)

    async def _answer(self, req: CompletionRequest, on_text: TextSink | None) -> Completion:
        key = req.key()
        site = current_call_site.get()
        where = (key, site.branch, site.sample_index) if site is not None else None
        if self.fork_at is not None and not self._forked and where == self.fork_at and self.on_miss != "raise":
            self._forked = True  # the fork point: a miss by design
            if self.edit is not None:
                choice = Choice(text=self.edit, finish_reason="stop")
                return _handed_on(Completion(choices=[choice], model=self.model, origin="edit"), on_text)
            return await self._go_live(req, on_text)
        rec = self._recorded(key, where)
        if rec is None:
            if where is not None and where in self._failed:  # it failed here when recorded: it fails the same way
                raise BackendError(self._failed[where])
            if self.on_miss == "raise":
                miss = describe_miss(req, self.calls)
                self.misses.append(miss)
                raise ReplayMiss(miss)
            return await self._go_live(req, on_text)
        self.served += 1
        assert rec.response is not None
        completion = Completion.model_validate(rec.response)
        update: dict[str, Any] = {"origin": "replay"}
        if self.live is not None:
            update["usage"] = Usage()  # nothing is billed for what the recording answered
        return _handed_on(completion.model_copy(update=update), on_text)


def _handed_on(completion: Completion, on_text: TextSink | None) -> Completion:
    if on_text is not None and completion.text:
        on_text(completion.text)
    return completion
