"""Oracle figures read back from a recorded run: "any of b" for tree search, "best of k" for sampling.

The ToT paper reports Game-of-24 success two ways (its log: top-1 62 %, any of the 5 final
states 69 %), and best-of-k next to majority vote for its sampling baselines (IO/CoT best of
100). A run's own answer gives the first figure; this module reads the second from the run's
events, judged by the env:

- a faithful ToT run records its finalists with their correctness (an `evaluation` event
  labelled `finalists`); any one correct counts;
- any other tree search: the states still kept at the end (kept or chosen `node` events with
  no child node), their answers as the env's problem reads them;
- self-consistency: any sampled `path` whose answer the env judges correct.
"""

from __future__ import annotations

from typing import Any

from ponder.traces.events import EventRecord
from ponder.traces.store import TraceStore
from ponder.types import Task

ANY_OF_B = "any of b"
BEST_OF_K = "best of k"


def _tree_finalists(events: list[EventRecord]) -> list[EventRecord]:
    nodes = [e for e in events if e.kind == "node" and e.parent_seq is not None]
    parents = {e.parent_seq for e in nodes}
    return [e for e in nodes if e.status in ("kept", "chosen") and e.seq not in parents]


def oracle(store: TraceStore, run_id: str, task: Task, env: Any) -> tuple[bool | None, str | None]:
    """(whether any final candidate of the run is correct, which oracle that is), or (None, None).

    env: the experiment's env, which judges the candidates' answers.
    """
    events = list(store.events(run_id, with_data=True))
    for e in events:
        if e.kind == "evaluation" and e.label == "finalists" and e.data is not None:
            return bool(e.data.get("any_correct")), ANY_OF_B
    finals = _tree_finalists(events)
    if finals and env is not None and env.searchable:
        problem = env.thought_problem(task)
        answers = [problem.answer(str((e.data or {}).get("y", ""))) for e in finals]
        return any(env.evaluate(task, a).correct for a in answers if a is not None), ANY_OF_B
    paths = [e for e in events if e.kind == "path" and e.data is not None]
    if paths and env is not None:
        answers = [p.data.get("answer") for p in paths if p.data is not None]
        return any(env.evaluate(task, a).correct for a in answers if a is not None), BEST_OF_K
    return None, None
