"""A scripted model for RAP on Blocksworld: it predicts changes exactly (in RAP's [CHANGE] wording),
names the gold plan's actions as the likely next lines, and calls gold actions good."""

from __future__ import annotations

import re

from ponder.types import Choice, CompletionRequest


def _change(action: str) -> str:
    a = action.lower().strip(". ")
    if m := re.match(r"pick up the (\w+) block", a):
        x = m.group(1)
        return (
            f"The hand was empty and is now holding the {x} block, the {x} block was on the table and is now "
            f"in the hand, and the {x} block is no longer clear."
        )
    if m := re.match(r"unstack the (\w+) block from on top of the (\w+) block", a):
        x, y = m.groups()
        return (
            f"The hand was empty and is now holding the {x} block, the {x} block was on top of the {y} block and "
            f"is now in the hand, the {x} block is no longer clear, and the {y} block is now clear."
        )
    if m := re.match(r"put down the (\w+) block", a):
        x = m.group(1)
        return (
            f"The hand was holding the {x} block and is now empty, the {x} block was in the hand and is now on "
            f"the table, and the {x} block is now clear."
        )
    if m := re.match(r"stack the (\w+) block on top of the (\w+) block", a):
        x, y = m.groups()
        return (
            f"The hand was holding the {x} block and is now empty, the {x} block was in the hand and is now on "
            f"top of the {y} block, the {x} block is now clear, and the {y} block is no longer clear."
        )
    return "I do not know."


def bw_model(gold: list[str], *, logprobs: bool = True):
    """`gold`: the plan's actions in English. Next-line samples name the first gold action not yet in the
    prompt's plan; self-evaluation says good for gold actions."""

    def respond(req: CompletionRequest) -> str | list[Choice]:
        p = req.messages[-1].content
        if "[CHANGE]" in p and p.rstrip().endswith("[CHANGE]"):
            action = p.rsplit("[ACTION]", 1)[1].split("\n")[0].strip()
            return _change(action)
        if p.rstrip().endswith("[EVALUATION]"):
            action = p.rsplit("[ACTION]", 1)[1].strip().split("\n")[0].strip()
            return (
                Choice(text="good", logprob=-0.1 if logprobs else None)
                if action in gold
                else Choice(text="bad", logprob=-0.2 if logprobs else None)
            )  # type: ignore[return-value]
        done = p.rsplit("[PLAN]", 1)[1].strip().splitlines()
        nxt = next((g for g in gold if g not in done), gold[-1])
        return [Choice(text=nxt, logprob=-0.3 if logprobs else None) for _ in range(req.n)]

    return respond
