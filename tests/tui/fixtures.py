"""Trace databases for the TUI tests, written through `Recorder` with a frozen clock.

Every timestamp comes from `FrozenClock` (a fixed start, a fixed step per call), so the
same database — and the same screenshots — come out on every machine and every day.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from ponder.traces.recorder import Recorder
from ponder.traces.store import TraceStore

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC

HOSTILE = (
    "[bold]not bold[/bold] [red]not red[/] [link=http://x]no link[/link] \x1b[31mred?\x1b[0m "
    "\x1b]0;set-title\x07 bell\x07 back\x08space [/etc/passwd] Lookup[/etc/passwd] end"
)


class FrozenClock:
    """A stand-in for the `time` module inside the store: `time()` advances by `step` per call."""

    def __init__(self, start: float = T0, step: float = 0.25) -> None:
        self.now = start
        self.step = step

    def time(self) -> float:
        self.now += self.step
        return self.now


@contextmanager
def frozen_clock(start: float = T0, step: float = 0.25) -> Iterator[FrozenClock]:
    clock = FrozenClock(start, step)
    with mock.patch("ponder.traces._base.time", clock):
        yield clock


def _llm(rec: Recorder, seq: int, prompt: str, text: str | list[str], *, system: str = "You are careful.") -> None:
    texts = text if isinstance(text, list) else [text]
    rec.llm_call(
        event_seq=seq,
        request_key=f"key{seq:04d}",
        branch="",
        sample_index=0,
        request={
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            "temperature": 0.7,
            "n": len(texts),
        },
        response={"choices": [{"text": t, "finish_reason": "stop"} for t in texts], "model": "gpt-4o-mini"},
        prompt_tokens=len(prompt.split()) + 4,
        completion_tokens=sum(len(t.split()) for t in texts),
        latency_ms=420.0,
        origin="live",
    )
    rec.add_usage(len(prompt.split()) + 4, sum(len(t.split()) for t in texts), 1, 0.00012)


def make_tot(store: TraceStore, run_id: str = "7077a0000001") -> str:
    """A Tree-of-Thoughts run: scored nodes over two levels, some pruned, one chosen path."""
    rec = Recorder.start(
        store,
        agent="tot",
        task={"id": "game24-1", "input": "Use 4 9 10 13 to make 24", "expected": "(10 - 4) * (13 - 9)"},
        backend="openai",
        model="gpt-4o-mini",
        config={"breadth": 2, "depth": 2, "n_evaluate": 3},
        run_id=run_id,
    )
    level1 = [
        ("13 - 9 = 4 (left: 4 4 10)", 20.0, "chosen"),
        ("10 - 4 = 6 (left: 6 9 13)", 3.0, "kept"),
        ("4 + 9 = 13 (left: 10 13 13)", 0.001, "pruned"),
    ]
    for i, (thought, score, status) in enumerate(level1):
        call = rec.event("llm_call", "propose", f"propose step 1 [{i}]")
        _llm(rec, call, "Input: 4 9 10 13\nPossible next steps:", thought)
        node = rec.event(
            "node", thought, thought, status="running", data={"id": i + 1, "depth": 1, "y": thought + "\n"}
        )
        words = ["sure", "sure", "sure"] if score > 10 else ["likely"] * 3 if score > 1 else ["impossible"] * 3
        values = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}
        rec.event(
            "evaluation",
            "value",
            f"value {score:g}",
            parent=node,
            score=score,
            data={"value": score, "samples": [{"text": f"...\n{w}", "value": values[w]} for w in words], "invalid": 0},
        )
        rec.update(node, status=status, score=score)
        if status != "pruned":
            for j, (t2, s2, st2) in enumerate(
                [
                    (
                        "10 - 4 = 6 (left: 4 6)",
                        20.0 if status == "chosen" else 1.0,
                        "chosen" if status == "chosen" else "kept",
                    ),
                    ("4 * 4 = 16 (left: 10 16)", 0.5, "pruned"),
                ]
            ):
                child = rec.event(
                    "node",
                    t2,
                    t2,
                    parent=node,
                    status=st2,
                    score=s2,
                    data={"id": 10 * (i + 1) + j, "depth": 2, "y": f"{thought}\n{t2}\n", "step": t2, "value": s2},
                )
                if st2 == "chosen":
                    rec.event("thought", "step", "4 * 6 = 24", parent=child)
    rec.event("answer", "answer", "(13 - 9) * (10 - 4) = 24", score=1.0, data={"answer": "24", "correct": True})
    rec.finish(status="ok", answer="(13 - 9) * (10 - 4) = 24", correct=True, score=1.0)
    return rec.run_id


def make_sc(store: TraceStore, run_id: str = "5c0000000002") -> str:
    """A self-consistency run: five sampled paths and a vote."""
    rec = Recorder.start(
        store,
        agent="self_consistency",
        config={"k": 5, "inner": "cot", "inner_config": {}},
        task={"input": "What is 17 * 23?"},
        backend="scripted",
        model="scripted",
        run_id=run_id,
    )
    answers = ["391", "391", "381", "391", "401"]
    call = rec.event("llm_call", "sample", "5 samples")
    _llm(rec, call, "What is 17 * 23? Think step by step.", [f"17 * 23 = {a}. The answer is {a}." for a in answers])
    for i, a in enumerate(answers):
        rec.event("path", f"path {i}", a, parent=call, data={"index": i, "answer": a, "text": f"17 * 23 = {a}"})
    rec.event("vote", "majority", "391", data={"tally": {"391": 3, "381": 1, "401": 1}, "winner": "391"})
    rec.event("answer", "answer", "391", score=1.0, data={"answer": "391", "correct": True})
    rec.finish(status="ok", answer="391", correct=True, score=1.0)
    return rec.run_id


def make_react(store: TraceStore, run_id: str = "4eac70000003") -> str:
    """A ReAct run whose actions are the markup-hostile strings: steps as siblings, not a chain."""
    rec = Recorder.start(
        store,
        agent="react",
        task={"input": "Was the Apple Remote designed for Front Row?"},
        backend="scripted",
        model="scripted",
        run_id=run_id,
    )
    steps = [
        ("I should search for the Apple Remote.", "Search[Apple Remote]", "The Apple Remote is a remote control..."),
        ("Look for the password file.", "Lookup[/etc/passwd]", "No more results."),
        ("It was designed for Front Row.", "Finish[yes]", None),
    ]
    for i, (thought, action, obs) in enumerate(steps):
        call = rec.event("llm_call", f"step {i + 1}", f"Thought: {thought} Action: {action}")
        _llm(rec, call, f"Question ... step {i + 1}", f"Thought: {thought}\nAction: {action}")
        rec.event("thought", "thought", thought, data={"text": thought})
        tool, _, arg = action.partition("[")
        act = rec.event("action", action, action, data={"tool": tool, "input": arg.removesuffix("]")})
        if obs is not None:
            rec.tool_call(
                event_seq=act, tool="wikipedia", args={"query": action}, result=obs, error=None, duration_ms=12.0
            )
            rec.event("observation", "observation", obs, data={"text": obs})
    rec.event("answer", "answer", "yes", score=1.0, data={"answer": "yes", "correct": True})
    rec.finish(status="ok", answer="yes", correct=True, score=1.0)
    return rec.run_id


def make_reflexion(store: TraceStore, run_id: str = "4ef1e0000004") -> str:
    """A Reflexion run: two trials (child runs) with a reflection between them."""
    rec = Recorder.start(
        store,
        agent="reflexion",
        config={"inner": "cot", "inner_config": {}, "max_trials": 3},
        task={"input": "What is 12 * 12?"},
        backend="scripted",
        model="scripted",
        run_id=run_id,
    )
    for t, (answer, correct) in enumerate([("124", False), ("144", True)]):
        trial = rec.event("trial", f"trial {t + 1}", f"answer {answer}", status="running")
        child = Recorder.start(
            store,
            agent="cot",
            task={"input": "What is 12 * 12?"},
            backend="scripted",
            model="scripted",
            parent_id=rec.run_id,
            branch=f"trial{t + 1}",
            run_id=f"{run_id[:10]}t{t}",
        )
        c = child.event("llm_call", "cot", f"The answer is {answer}")
        _llm(child, c, "What is 12 * 12?", f"The answer is {answer}.")
        child.event("answer", "answer", answer, data={"answer": answer, "correct": correct})
        child.finish(status="ok", answer=answer, correct=correct, score=1.0 if correct else 0.0)
        # as Reflexion records it: a wrong trial is closed `error` with the verdict's data (success false)
        verdict = {"run_id": child.run_id, "answer": answer, "success": correct, "score": float(correct)}
        rec.update(trial, status="ok" if correct else "error", score=1.0 if correct else 0.0, data=verdict)
        if not correct:
            rec.event("reflection", "reflection", "I multiplied wrongly: 12 * 12 = 144.", parent=trial)
            rec.event("memory_write", "memory", "12 * 12 = 144, check the carry.")
            rec.event("memory_read", "memory", "1 reflection recalled")
    rec.event("answer", "answer", "144", score=1.0, data={"answer": "144", "correct": True})
    rec.finish(status="ok", answer="144", correct=True, score=1.0)
    return rec.run_id


def make_hostile(store: TraceStore, run_id: str = "ba0000000005", huge: int = 200_000) -> str:
    """A run whose model output is full of markup and escape codes, and one huge payload."""
    rec = Recorder.start(
        store,
        agent="cot",
        task={"input": "Say [bold]hi[/bold] \x1b[31mplease"},
        backend="scripted",
        model="scripted",
        run_id=run_id,
    )
    call = rec.event("llm_call", "cot [x]", HOSTILE)
    _llm(rec, call, "Say [bold]hi[/bold]", HOSTILE)
    rec.event("info", "big", "a huge payload", data={"text": "lorem ipsum " * (huge // 12)})
    rec.event("error", "ToolError", "Lookup[/etc/passwd] failed: [red]denied[/red]", status="error")
    rec.event("answer", "answer", "[bold]hi", data={"answer": "[bold]hi"})
    rec.finish(status="ok", answer="[bold]hi\x1b[31m", correct=None)
    return rec.run_id


def make_misc(store: TraceStore) -> dict[str, str]:
    """A few plain runs with other statuses, one in an experiment."""
    exp = store.create_experiment("gsm8k-sweep", {"agents": ["cot"]}, exp_id="e0000000e001")
    out = {}
    r = Recorder.start(
        store,
        agent="cot",
        task={"input": "What is 2 + 2?"},
        backend="scripted",
        model="scripted",
        experiment_id=exp,
        run_id="c0000000000a",
    )
    c = r.event("llm_call", "cot", "4")
    _llm(r, c, "What is 2 + 2?", "The answer is 4.")
    r.event("answer", "answer", "4")
    r.finish(status="ok", answer="4", correct=True, score=1.0)
    out["cot"] = r.run_id
    r = Recorder.start(
        store,
        agent="cot",
        task={"input": "Divide by zero?"},
        backend="scripted",
        model="scripted",
        run_id="c0000000000b",
    )
    r.event("error", "BackendError", "the backend failed", status="error")
    r.finish(status="error", error="BackendError: the backend failed")
    out["error"] = r.run_id
    r = Recorder.start(
        store, agent="cot", task={"input": "A long one"}, backend="scripted", model="scripted", run_id="c0000000000c"
    )
    r.event("error", "cancelled", "the run was cancelled", status="error")
    r.finish(status="cancelled", error="cancelled")
    out["cancelled"] = r.run_id
    return out


def build_fixture_db(path: Path | str, **kw: Any) -> dict[str, str]:
    """Write every fixture run to the database at `path` (frozen clock); returns name -> run id."""
    with frozen_clock(), TraceStore(path) as store:
        ids = {
            "tot": make_tot(store),
            "sc": make_sc(store),
            "react": make_react(store),
            "reflexion": make_reflexion(store),
            "hostile": make_hostile(store, **kw),
        }
        ids.update(make_misc(store))
    return ids
