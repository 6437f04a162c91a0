"""A scripted model for RAP on GSM8K: it proposes the plan's next sub-question (and a distractor), answers
sub-questions (now and then wrongly, by the request's seed), and finds the plan's sub-questions useful."""

from __future__ import annotations

import random
import re

from ponder.types import Choice, CompletionRequest

_HEADER = re.compile(r"^Question (\d+): ", re.MULTILINE)

# the arithmetic env's first problem (a baker's loaves), decomposed
BAKER_PLAN = [
    ("How many loaves does she make in the afternoon?", "She makes 12 * 3 = 36 loaves. The answer is 36."),
    ("How many loaves does she make in all?", "She makes 12 + 36 = 48 loaves. The answer is 48."),
    ("Now we can answer the question: How many loaves are left?", "She has 48 - 40 = 8 left. The answer is 8."),
]
BAKER_WRONG = {
    "How many loaves does she make in the afternoon?": "She makes 12 + 3 = 15 loaves. The answer is 15.",
    "Now we can answer the question: How many loaves are left?": "48 + 40 = 88. The answer is 88.",
}
DISTRACTOR = ("How many loaves does she sell?", "She sells 40 loaves. The answer is 40.")


def _block(prompt: str) -> str:
    """The part of the prompt about the question being solved (after its `Question N:` header)."""
    starts = list(_HEADER.finditer(prompt))
    return prompt[starts[-1].start() :] if starts else prompt


def gsm_model(
    plan: list[tuple[str, str]],
    *,
    wrong: dict[str, str] | None = None,
    distractor: tuple[str, str] = DISTRACTOR,
    p_wrong: float = 0.3,
    logprobs: bool = True,
    echo: bool = False,
):
    """plan: (sub-question, answer) in order, the last the overall question. wrong: a wrong answer some
    samples give (with probability p_wrong, drawn from the request's seed). echo: answers repeat their
    line prefix (`Answer 5.1: ...`), as chat models do."""
    wrong = wrong or {}
    answers = dict(plan) | {distractor[0]: distractor[1]}

    def respond(req: CompletionRequest) -> str | list[Choice]:
        p = req.messages[-1].content
        if p.endswith("Is the new question useful?"):
            new = p.rsplit("\n", 2)[-2].split(":", 1)[-1].strip()
            good = any(new == q for q, _ in plan)
            lp = (-0.05 if good else -0.3) if logprobs else None
            return [Choice(text="Yes" if good else "No", logprob=lp)]
        block = _block(p)
        last = block.rstrip("\n").rsplit("\n", 1)[-1]
        rng = random.Random(f"{req.seed}")
        if m := re.fullmatch(r"Answer (\d+)\.(\d+):", last):
            q = block.rstrip("\n").rsplit("\n", 2)[-2].split(":", 1)[-1].strip()
            out = []
            for _ in range(req.n):
                a = answers.get(q, "I am not sure.")
                if q in wrong and rng.random() < p_wrong:
                    a = wrong[q]
                out.append(f"Answer {m.group(1)}.{m.group(2)}: {a}" if echo else a)
            return [Choice(text=t) for t in out]
        asked = len(re.findall(r"^Answer \d+\.\d+:", block, re.MULTILINE))
        if last.endswith("Now we can answer the question:"):
            return [Choice(text=plan[-1][0].split(":", 1)[1].strip())]
        nxt = plan[min(asked, len(plan) - 1)][0]
        return [Choice(text=nxt if i % 2 == 0 else distractor[0]) for i in range(req.n)]

    return respond
