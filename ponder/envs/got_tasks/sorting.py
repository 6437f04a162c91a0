"""Graph of Thoughts' sorting task: lists of 32, 64 or 128 digits, the official prompter, parser, scoring and graphs.

Ported from spcl/graph-of-thoughts `examples/sorting/` (BSD-style license, see
`data/LICENSE-graph-of-thoughts.txt`): `num_errors` is the official error count (per digit, the
absolute difference of its counts against the sorted reference, plus the number of adjacent
inversions; 300 for a reply that does not parse), the parser reads replies as the official one
does, and `graph(preset)` builds the paper's io, cot, tot, tot2 and got graphs for the size.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, ClassVar

from ponder.agents.got.operations import (
    Aggregate,
    Generate,
    GraphOfOperations,
    GroundTruth,
    KeepBestN,
    Operation,
    Score,
    State,
)
from ponder.agents.got.problem import GoTProblem
from ponder.envs.got_tasks import sorting_prompts as P
from ponder.envs.got_tasks._graphs import levels, score_and_keep, solve_parts
from ponder.errors import ConfigError

SIZES = (32, 64, 128)
UNPARSEABLE = 300
"""The official score of a reply that does not parse."""


def string_to_list(string: str) -> list[int]:
    """The official `utils.string_to_list`: `"[1, 2]"` → `[1, 2]`; anything else raises."""
    if not (string and string[0] == "[" and string[-1] == "]"):
        raise ValueError("string is not a list")
    return [int(num) for num in string[1:-1].split(",")]


def num_errors(state: State) -> float:
    """The official error count of `state["current"]` against the sorted `original` (or its unsorted sublist)."""
    try:
        unsorted_list = state["original"]
        sub = state.get("unsorted_sublist")
        if sub not in ("", None) and len(sub) < len(unsorted_list) - 5:
            unsorted_list = sub
        correct_list = sorted(string_to_list(unsorted_list))
        current_list = string_to_list(state["current"])
        errors = 0
        for i in range(10):
            errors += abs(sum(1 for n in current_list if n == i) - sum(1 for n in correct_list if n == i))
        errors += sum(1 for a, b in itertools.pairwise(current_list) if a > b)
        return errors
    except Exception:  # the official function: anything that does not parse scores 300
        return UNPARSEABLE


def test_sorting(state: State) -> bool:
    """The official ground truth: `current` equals the sorted `original`."""
    try:
        return string_to_list(state["current"]) == sorted(string_to_list(state["original"]))
    except Exception:
        return False


def _output_lines(text: str) -> list[str]:
    answers = text.strip().split("\n")
    if any("Output" in a for a in answers):
        for a in reversed(answers):  # cut everything before the last "Output"
            if "Output" in a:
                answers = answers[answers.index(a) :]
                break
    return answers


def _bracketed(line: str) -> str:
    return line[line.index("[") : line.index("]") + 1]


class SortingProblem(GoTProblem):
    """One list to sort (`original`, as the dataset writes it: "[0, 5, ...]") of `size` digits."""

    name: ClassVar[str] = "sorting"
    presets: ClassVar[tuple[str, ...]] = ("io", "cot", "tot", "tot2", "got")
    higher_is_better: ClassVar[bool] = False

    def __init__(self, original: str, size: int) -> None:
        if size not in SIZES:
            raise ConfigError(f"sorting size must be one of {', '.join(map(str, SIZES))}, not {size}")
        self.original = original
        self.size = size
        self.method = "got"

    def initial_state(self) -> State:
        """The official problem parameters; `method` is the preset the last `graph()` built."""
        return {"original": self.original, "current": "", "phase": 0, "method": self.method}

    def local_score(self, state: State) -> float:
        return num_errors(state)

    # -- prompter (official SortingPrompter) -----------------------------------------

    def generate_prompt(self, num_branches: int, state: State) -> str:
        original, current, method = state["original"], state.get("current", ""), state["method"]
        text = original if current in (None, "") else current
        if method.startswith("io"):
            return P.SORT_PROMPT.format(input=text)
        if method.startswith("cot"):
            return P.SORT_PROMPT_COT.format(input=text)
        if method.startswith("tot"):
            if current in (None, ""):
                return P.SORT_PROMPT.format(input=text)
            return P.TOT_IMPROVE_PROMPT.format(
                input=original, incorrectly_sorted=current, length=len(string_to_list(original))
            )
        if current in (None, ""):
            return self._split_prompt().format(input=text)
        if state.get("phase") == 1:
            return P.SORT_PROMPT.format(input=current)
        sub = state.get("unsorted_sublist")
        if sub not in (None, "") and len(sub) < len(original) - 5:
            original = sub
        return P.TOT_IMPROVE_PROMPT.format(
            input=original, incorrectly_sorted=current, length=len(string_to_list(original))
        )

    def _split_prompt(self) -> str:
        return {32: P.GOT_SPLIT_PROMPT_032, 64: P.GOT_SPLIT_PROMPT_064, 128: P.GOT_SPLIT_PROMPT_128}[self.size]

    def aggregation_prompt(self, states: list[State]) -> str:
        if len(states) != 2:
            raise ConfigError("the sorting aggregation prompt merges exactly two thoughts")
        try:
            len1 = len(string_to_list(states[0]["current"]))
            len2 = len(string_to_list(states[1]["current"]))
        except ValueError:
            len1, len2 = 0, -1  # an unparseable part: the official code would raise; take the largest length
        if len1 == len2:
            length = len1
        elif len1 + len2 - 32 <= 16:
            length = 16
        elif self.size != 128 or len1 + len2 - 64 <= 32:  # the 32 and 64 prompters stop at 32
            length = 32
        else:
            length = 64
        return P.GOT_MERGE_PROMPT.format(
            input1=states[0]["current"], input2=states[1]["current"], length1=length, length2=length * 2
        )

    # -- parser (official SortingParser) ---------------------------------------------

    def parse_aggregation_answer(self, states: list[State], texts: list[str]) -> list[State]:
        if len(states) != 2:
            raise ConfigError("the sorting aggregation parser merges exactly two thoughts")
        new_states = []
        ordered = sorted(states, key=lambda s: str(s.get("part", "")))
        first, second = (str(s.get("unsorted_sublist", "")) for s in ordered)
        merged = first[:-1] + ", " + second[1:]
        for text in texts:
            answers = _output_lines(text)
            stripped = [a for a in answers if "[" in a and "]" in a]
            if not stripped:
                for a in answers:
                    try:
                        if string_to_list("[" + a + "]"):
                            stripped.append("[" + a + "]")
                    except ValueError:
                        pass
            answer = _bracketed(stripped[0]) if stripped else "[]"
            new_states.append({**ordered[0], "current": answer, "unsorted_sublist": merged})
        return new_states

    def parse_generate_answer(self, state: State, texts: list[str]) -> list[State]:
        new_states: list[State] = []
        for text in texts:
            if state["method"] == "got" and state.get("current") == "":
                new_states.extend(self._parse_split(state, text))
                continue
            answers = [a for a in _output_lines(text) if "[" in a and "]" in a]
            answers = [_bracketed(a) for a in answers if a.index("[") < a.index("]")]
            new_states.append({**state, "current": answers[0] if answers else "[]", "phase": 2})
        return new_states

    def _parse_split(self, state: State, text: str) -> list[State]:
        """GoT's first step: a JSON object of "List 1".."List k"; a reply that is not one gives no thoughts."""
        try:
            body = text[text.index("{") : text.index("}") + 1]
            obj: Any = json.loads(body)
        except (ValueError, json.JSONDecodeError):
            return []
        if not isinstance(obj, dict):
            return []
        out = []
        for key, value in obj.items():
            if "List" not in str(key):
                continue
            try:
                items = value if isinstance(value, list) else string_to_list(str(value))
                text_list = str([int(v) for v in items])
            except (ValueError, TypeError):
                continue
            out.append({**state, "current": text_list, "unsorted_sublist": text_list, "phase": 1, "part": str(key)})
        return out

    # -- graphs (the official io/cot/tot/tot2/got for this size) -----------------------

    def graph(self, preset: str) -> GraphOfOperations:
        builders = {"io": self._io, "cot": self._io, "tot": self._tot, "tot2": self._tot2, "got": self._got}
        if preset not in builders:
            raise ConfigError(f"unknown sorting graph {preset!r}; the paper's presets: {', '.join(builders)}")
        self.method = preset
        return builders[preset]()

    def _score(self) -> Score:
        return Score(num_samples=1, combined_scoring=False, scoring_function=num_errors)

    def _io(self) -> GraphOfOperations:
        g = GraphOfOperations()
        g.append_operation(Generate(1, 1))
        g.append_operation(self._score())
        g.append_operation(GroundTruth(ground_truth_evaluator=test_sorting))
        return g

    def _tot(self) -> GraphOfOperations:
        return levels(20, 1 if self.size == 32 else 3, self._score, test_sorting, final_keep=True)

    def _tot2(self) -> GraphOfOperations:
        rounds = {32: 2, 64: 6, 128: 9}[self.size]
        return levels(10, rounds, self._score, test_sorting, final_keep=True, extra_keeps=self.size != 32)

    def _improve_block(self, g: GraphOfOperations, preds: list[Operation]) -> Operation:
        """Aggregate two sorted parts, keep the best merge, try 5 improvements of it, keep the best (64/128)."""
        keep = score_and_keep(g, [g.add_after(preds, Aggregate(10))], self._score)
        improve = g.add_after([keep], Generate(1, 5))
        return score_and_keep(g, [improve, keep], self._score)

    def _got(self) -> GraphOfOperations:
        g = GraphOfOperations()
        plans = g.append_operation(Generate(1, 1))
        parts = solve_parts(g, plans, self.size // 16, self._score)
        while len(parts) > 2:  # 64: one level of merges, 128: two (the official graphs, unrolled)
            parts = [self._improve_block(g, parts[i : i + 2]) for i in range(0, len(parts), 2)]
        g.append_operation(Aggregate(10))
        g.append_operation(self._score())
        keep_best_final = g.append_operation(KeepBestN(1, False))
        g.append_operation(Generate(1, 10))
        score_final = self._score()
        score_final.add_predecessor(keep_best_final)
        g.append_operation(score_final)
        keep_final = KeepBestN(1, False)
        if self.size == 128:  # the official 128 graph also feeds the pre-improvement best straight in
            keep_final.add_predecessor(keep_best_final)
        g.append_operation(keep_final)
        g.append_operation(GroundTruth(ground_truth_evaluator=test_sorting))
        return g


_LIST = re.compile(r"^\[[\d,\s]*\]$")


def is_list_text(text: str) -> bool:
    """Whether `text` is a list as the dataset writes them (used to validate task input)."""
    return bool(_LIST.match(text.strip()))
