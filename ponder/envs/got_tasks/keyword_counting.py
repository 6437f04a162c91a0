"""Graph of Thoughts' keyword-counting task: how often each country is named in a passage — the official
prompter, parser, scoring and graphs (ported from spcl/graph-of-thoughts `examples/keyword_counting/`,
BSD-style license, see `data/LICENSE-graph-of-thoughts.txt`).

`num_errors` is the official count: against the dataset's country list (or, for a part of the
passage, the countries counted in that part), the absolute differences of the frequencies, a
country missing or extra counting its whole frequency; a reply that does not parse scores 100.
The graphs are the paper's io, cot, tot, tot2 and got4/got8/gotx (split into 4 or 8 paragraphs
or into sentences, count each part 10 times and keep the best, merge pairwise 3 times with a
validate-and-improve step, keep the best).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from ponder.agents.got.operations import (
    Aggregate,
    Generate,
    GraphOfOperations,
    GroundTruth,
    Operation,
    Score,
    Selector,
    State,
    ValidateAndImprove,
)
from ponder.agents.got.problem import GoTProblem
from ponder.envs.got_tasks import keyword_counting_prompts as P
from ponder.envs.got_tasks._graphs import levels, part_selector, score_and_keep
from ponder.errors import ConfigError

UNPARSEABLE = 100
"""The official score of a state whose reply does not parse."""
PRESETS = ("io", "cot", "tot", "tot2", "got4", "got8", "gotx")
PARTS = {"got4": ("Paragraph", 4), "got8": ("Paragraph", 8), "gotx": ("Sentence", 32)}
"""What the GoT graphs split the passage into, and how many parts they provide for (gotx: 32 sentences)."""


def string_to_list(string: str) -> list[str]:
    """The official `string_to_list` of this task: `"[Peru, Chile]"` → `["Peru", "Chile"]`; anything else raises."""
    if not (string and string[0] == "[" and string[-1] == "]"):
        raise ValueError("string is not a list")
    return [item.strip().replace("'", "").replace('"', "") for item in string[1:-1].split(", ")]


def list_to_freq_dict(items: list[str]) -> dict[str, int]:
    """The official `list_to_freq_dict`: each element with how often it occurs (first-seen order)."""
    return dict(Counter(items))


def count_in_text(text: str, countries: Sequence[str]) -> dict[str, int]:
    """How often each country occurs in `text` (`str.count`, as the official error count counts a part)."""
    return {country: text.count(country) for country in countries}


def num_errors(countries: Sequence[str], state: State) -> float:
    """The official error count of `state["current"]` (a JSON dict) against the ground truth, or against the
    countries counted in `sub_text` when the state holds a part of the passage."""
    try:
        sub = state.get("sub_text")
        if (
            "sub_text" in state and (sub != "" or state["current"] == "{}") and len(sub) < len(state["original"]) * 0.75  # type: ignore[arg-type]
        ):
            correct = count_in_text(str(sub), countries)
        else:
            correct = list_to_freq_dict(string_to_list(state["ground_truth"]))
        current = json.loads(state["current"])
        errors = 0
        for country in set(correct) - set(current):
            errors += abs(correct[country])
        for country in set(current) - set(correct):
            errors += abs(current[country])
        for country in set(correct) & set(current):
            errors += abs(correct[country] - current[country])
        return errors
    except Exception:  # the official function: anything that does not parse scores 100
        return UNPARSEABLE


def test_keyword_counting(state: State) -> bool:
    """The official ground truth: the reply's countries and frequencies are exactly the dataset's."""
    try:
        correct = list_to_freq_dict(string_to_list(state["ground_truth"]))
        current = json.loads(state["current"])
        return set(correct) == set(current) and all(correct[k] == current[k] for k in correct)
    except Exception:
        return False


def valid_aggregation(state: State) -> bool:
    """The official check of a merge: its countries are the two inputs' and each frequency is their sum.

    Where the official function raises (a frequency that is not a number) and so ends the whole
    graph, a merge here is invalid and the graph goes on.
    """
    try:
        aggr1, aggr2 = json.loads(state["aggr1"]), json.loads(state["aggr2"])
        current = json.loads(state["current"])
        if set(aggr1) | set(aggr2) != set(current):
            return False
        return all(aggr1.get(c, 0) + aggr2.get(c, 0) == current[c] for c in current)
    except Exception:
        return False


def strip_answer_json(text: str) -> str:
    """The official parser's reading of a reply: the JSON object after `Output:` (the last `{`…`}`), else `{}`."""
    text = text.strip()
    if "Output:" in text:
        text = text[text.index("Output:") + len("Output:") :].strip()
    start, end = text.rfind("{"), text.rfind("}")
    if start == -1 or end == -1:
        return "{}"
    text = text[start : end + 1]
    try:
        json.loads(text)
    except ValueError:
        return "{}"
    return text


def _pad(states: list[State]) -> list[State]:
    if len(states) > 2:
        raise ConfigError("the keyword-counting aggregation merges at most two thoughts")
    return [*states, *({"current": "{}", "sub_text": ""} for _ in range(2 - len(states)))]


class KeywordCountingProblem(GoTProblem):
    """Count the countries named in `original`; `ground_truth` is the dataset's list ("[Peru, Chile, Peru]")
    and `countries` every country the dataset names (the official `all_potential_countries`)."""

    name: ClassVar[str] = "keyword_counting"
    presets: ClassVar[tuple[str, ...]] = PRESETS
    higher_is_better: ClassVar[bool] = False

    def __init__(self, original: str, ground_truth: str, countries: Sequence[str]) -> None:
        self.original, self.ground_truth, self.countries = original, ground_truth, tuple(countries)
        self.method = "got4"

    def initial_state(self) -> State:
        """The official problem parameters; `method` is the preset the last `graph()` built."""
        return {
            "original": self.original,
            "ground_truth": self.ground_truth,
            "current": "",
            "phase": 0,
            "method": self.method,
        }

    def local_score(self, state: State) -> float:
        return num_errors(self.countries, state)

    def answer(self, state: State) -> str | None:
        value = state.get("current")
        return str(value) if value not in (None, "") else None

    # -- prompter (official KeywordCountingPrompter) ------------------------------------

    def generate_prompt(self, num_branches: int, state: State) -> str:
        if num_branches != 1:
            raise ConfigError("keyword counting branches by several replies, not by asking for several")
        original, current, method = state["original"], state.get("current", ""), str(state["method"])
        text = original if current in (None, "") else current
        if method.startswith("io"):
            return P.COUNT_PROMPT.format(input=text)
        if method.startswith("cot"):
            return P.COUNT_PROMPT_COT.format(input=text)
        if method.startswith("tot"):
            if current in (None, ""):
                return P.COUNT_PROMPT_COT.format(input=text)
            return P.TOT_IMPROVE_PROMPT.format(input=original, incorrect_dict=current)
        phase, sub = state.get("phase"), state.get("sub_text")
        if current in (None, "") and phase == 0:
            split = {"got8": P.GOT_SPLIT_PROMPT2, "gotx": P.GOT_SPLIT_PROMPT3}.get(method, P.GOT_SPLIT_PROMPT)
            return split.format(input=text)
        if phase == 1:
            count = P.COUNT_PROMPT_SENTENCE if method == "gotx" else P.COUNT_PROMPT_COT
            return count.format(input=sub)
        if sub not in (None, "") and len(sub) < len(original) * 0.75:
            original = sub
        improve = P.SENTENCE_IMPROVE_PROMPT if method == "gotx" else P.TOT_IMPROVE_PROMPT
        return improve.format(input=original, incorrect_dict=current)

    def aggregation_prompt(self, states: list[State]) -> str:
        first, second = _pad(states)
        return P.GOT_AGGREGATE_PROMPT.format(input1=first["current"], input2=second["current"])

    def improve_prompt(self, state: State) -> str:
        return P.GOT_IMPROVE_AGGREGATE_PROMPT.format(
            input1=state.get("aggr1"), input2=state.get("aggr2"), input3=state.get("current")
        )

    # -- parser (official KeywordCountingParser) ---------------------------------------

    def parse_aggregation_answer(self, states: list[State], texts: list[str]) -> list[State]:
        first, second = _pad(states)
        sub_text = str(first.get("sub_text", "")) + str(second.get("sub_text", ""))
        return [
            {
                **first,
                "sub_text": sub_text,
                "current": strip_answer_json(text),
                "aggr1": first["current"],
                "aggr2": second["current"],
            }
            for text in texts
        ]

    def parse_improve_answer(self, state: State, texts: list[str]) -> State:
        if len(texts) != 1:
            raise ConfigError("an improve prompt takes exactly one reply")
        return {**state, "current": strip_answer_json(texts[0])}

    def parse_generate_answer(self, state: State, texts: list[str]) -> list[State]:
        new_states: list[State] = []
        for text in texts:
            answer = strip_answer_json(text)
            if str(state["method"]).startswith("got") and state.get("current") == "" and state.get("phase") == 0:
                new_states.extend(self._parse_split(state, answer))
            else:
                new_states.append({**state, "current": answer, "phase": 2})
        return new_states

    def _parse_split(self, state: State, answer: str) -> list[State]:
        """GoT's first step: a JSON object of "Paragraph i" (or "Sentence i") texts; other keys are skipped,
        as the official parser skips them, and so is a part that is not text (the official one would
        crash on it when merging)."""
        parts: Any = json.loads(answer)
        return [
            {**state, "current": "", "sub_text": value, "phase": 1, "part": key}
            for key, value in parts.items()
            if ("Paragraph" in key or "Sentence" in key) and isinstance(value, str)
        ]

    # -- graphs (the official io, cot, tot, tot2, got4, got8, gotx) ---------------------

    def graph(self, preset: str) -> GraphOfOperations:
        if preset not in PRESETS:
            raise ConfigError(f"unknown keyword_counting graph {preset!r}; the paper's presets: {', '.join(PRESETS)}")
        self.method = preset
        if preset in ("io", "cot"):
            g = GraphOfOperations()
            g.append_operation(Generate(1, 1))
            g.append_operation(self._score())
            g.append_operation(GroundTruth(ground_truth_evaluator=test_keyword_counting))
            return g
        if preset in ("tot", "tot2"):
            branches, rounds = (20, 3) if preset == "tot" else (10, 5)
            return levels(branches, rounds, self._score, test_keyword_counting, final_keep=True)
        kind, n_parts = PARTS[preset]
        return self._got(kind, n_parts)

    def _score(self) -> Score:
        return Score(num_samples=1, combined_scoring=False, scoring_function=self.local_score)

    def _merge(self, g: GraphOfOperations, preds: list[Operation]) -> Operation:
        """Aggregate two parts 3 times, validate (and improve up to 3 times) each merge, keep the best."""
        merged = g.add_after(preds, Aggregate(3))
        checked = g.add_after([merged], ValidateAndImprove(1, True, 3, validate_function=valid_aggregation))
        return score_and_keep(g, [checked], self._score)

    def _got(self, kind: str, n_parts: int) -> GraphOfOperations:
        g = GraphOfOperations()
        plans = g.append_operation(Generate(1, 1))
        parts: list[Operation] = []
        for i in range(1, n_parts + 1):
            part_id = f"{kind} {i}"
            selected = g.add_after([plans], Selector(selector=part_selector(part_id), name=part_id))
            counted = g.add_after([selected], Generate(1, 10))
            parts.append(score_and_keep(g, [counted], self._score))
        while len(parts) > 1:
            parts = [self._merge(g, parts[i : i + 2]) for i in range(0, len(parts), 2)]
        g.append_operation(GroundTruth(ground_truth_evaluator=test_keyword_counting))
        return g
