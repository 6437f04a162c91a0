"""The keyword-counting env's error count, parser and prompts are the official ones (spcl/graph-of-thoughts
`examples/keyword_counting/keyword_counting.py`, commit 363421c6…)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ponder.envs.got_tasks import keyword_counting_prompts as P
from ponder.envs.got_tasks.keyword_counting import (
    KeywordCountingProblem,
    num_errors,
    strip_answer_json,
    valid_aggregation,
)
from ponder.envs.got_tasks.keyword_counting_env import KeywordCountingEnv, all_countries, ground_truth_of
from ponder.errors import ConfigError
from ponder.types import Task

# -- the official functions, verbatim (modulo typing and lint marks) --------------------------------


def official_string_to_list(string: str) -> list[str]:
    assert string[0] == "[" and string[-1] == "]", "String is not a list."
    return [item.strip().replace("'", "").replace('"', "") for item in string[1:-1].split(", ")]


def official_list_to_freq_dict(lst: list[str]) -> dict[str, int]:
    return dict(Counter(lst))


def official_valid_aggregation(state: dict[str, Any]) -> bool:
    aggr1 = json.loads(state["aggr1"])
    aggr2 = json.loads(state["aggr2"])
    current = json.loads(state["current"])

    if set(aggr1.keys()) | set(aggr2.keys()) != set(current.keys()):
        return False

    for country in current.keys():  # noqa: SIM118
        aggr1_freq = aggr1[country] if country in aggr1.keys() else 0  # noqa: SIM118
        aggr2_freq = aggr2[country] if country in aggr2.keys() else 0  # noqa: SIM118
        if aggr1_freq + aggr2_freq != current[country]:
            return False

    return True


def official_num_errors(all_possible_countries: list[str], state: dict[str, Any]) -> float:
    try:
        if (
            "sub_text" in state
            and (state["sub_text"] != "" or state["current"] == "{}")
            and len(state["sub_text"]) < len(state["original"]) * 0.75
        ):
            text = state["sub_text"]
            correct_freq_dict = dict()
            for country in all_possible_countries:
                # find number of times country appears in text
                num_occurrences = text.count(country)
                correct_freq_dict[country] = num_occurrences
        else:
            correct_freq_dict = official_list_to_freq_dict(official_string_to_list(state["ground_truth"]))
        current_freq_dict = json.loads(state["current"])
        countries_not_in_current = set(correct_freq_dict.keys()) - set(current_freq_dict.keys())
        countries_not_in_correct = set(current_freq_dict.keys()) - set(correct_freq_dict.keys())
        # count the number of errors
        num_errors = 0
        for country in countries_not_in_current:
            num_errors += abs(correct_freq_dict[country])
        for country in countries_not_in_correct:
            num_errors += abs(current_freq_dict[country])
        for country in set(correct_freq_dict.keys()) & set(current_freq_dict.keys()):
            num_errors += abs(correct_freq_dict[country] - current_freq_dict[country])
        return num_errors
    except:  # noqa: E722
        return 100


def official_strip_answer_json(text: str) -> str:
    text = text.strip()
    if "Output:" in text:
        text = text[text.index("Output:") + len("Output:") :].strip()
    # find the last "{" and "}" and only keep the text in between including the brackets
    start = text.rfind("{")
    end = text.rfind("}")
    if start == -1 or end == -1:
        return "{}"
    text = text[start : end + 1]
    try:
        json.loads(text)
        return text
    except:  # noqa: E722
        return "{}"


# -- comparisons ----------------------------------------------------------------------------------

TASK = next(KeywordCountingEnv().tasks())
TRUTH = TASK.metadata["ground_truth"]
COUNTRIES = list(all_countries())
SOME = ["Norway", "Sweden", "Canada", "Peru", "Atlantis", "United States"]
freqs = st.dictionaries(st.sampled_from(SOME), st.integers(-2, 9), max_size=6)


@given(freqs)
def test_error_count_of_any_dict_equals_the_official_function(current: dict[str, int]) -> None:
    state = {"original": TASK.input, "ground_truth": TRUTH, "current": json.dumps(current)}
    assert num_errors(COUNTRIES, state) == official_num_errors(COUNTRIES, state)


@given(freqs, st.integers(0, 400), st.integers(0, 2500))
def test_error_count_of_a_part_equals_the_official_function(current: dict[str, int], start: int, length: int) -> None:
    sub = str(TASK.input)[start : start + length]  # a part of the passage, up to all of it
    for cur in (json.dumps(current), "{}"):
        state = {"original": TASK.input, "ground_truth": TRUTH, "current": cur, "sub_text": sub}
        assert num_errors(COUNTRIES, state) == official_num_errors(COUNTRIES, state)


@given(st.text(max_size=80))
def test_error_count_and_parser_of_any_reply_text_equal_the_official_functions(text: str) -> None:
    assert strip_answer_json(text) == official_strip_answer_json(text)
    state = {"original": TASK.input, "ground_truth": TRUTH, "current": text}
    assert num_errors(COUNTRIES, state) == official_num_errors(COUNTRIES, state)


@given(freqs, freqs, freqs)
def test_merge_validation_equals_the_official_function(a: dict[str, int], b: dict[str, int], c: dict[str, int]) -> None:
    summed = {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}
    for current in (c, summed):
        state = {"aggr1": json.dumps(a), "aggr2": json.dumps(b), "current": json.dumps(current)}
        assert valid_aggregation(state) == official_valid_aggregation(state)


def test_a_merge_the_official_check_would_crash_on_is_invalid_here() -> None:
    state = {"aggr1": '{"Peru": "two"}', "aggr2": '{"Peru": 1}', "current": '{"Peru": 3}'}
    with pytest.raises(TypeError):
        official_valid_aggregation(state)
    assert valid_aggregation(state) is False


def test_parser_reads_replies_as_the_official_one() -> None:
    problem = KeywordCountingProblem(str(TASK.input), TRUTH, COUNTRIES)
    problem.graph("got4")
    state = problem.initial_state()
    split = 'Output:\n{"Paragraph 1": "In Peru.", "Paragraph 2": "In Chile.", "Note": "x", "Paragraph 3": 7}'
    parts = problem.parse_generate_answer(state, [split])
    assert [(p["part"], p["sub_text"], p["phase"]) for p in parts] == [
        ("Paragraph 1", "In Peru.", 1),
        ("Paragraph 2", "In Chile.", 1),
    ]
    counted = problem.parse_generate_answer(parts[0], ['Approach...\nOutput: {"Peru": 1} and then {"Peru": 2}'])
    assert counted[0]["current"] == '{"Peru": 2}' and counted[0]["phase"] == 2
    merged = problem.parse_aggregation_answer([parts[0], parts[1]], ['{"Peru": 1, "Chile": 1}'])
    assert merged[0]["sub_text"] == "In Peru.In Chile." and merged[0]["aggr1"] == ""
    one = problem.parse_aggregation_answer([{"current": '{"Peru": 1}', "sub_text": "a"}], ["{}"])
    assert one[0]["aggr2"] == "{}" and one[0]["sub_text"] == "a"  # one input: merged with an empty dict
    assert '"Peru": 1' in problem.aggregation_prompt([{"current": '{"Peru": 1}'}])


def test_env_tasks_are_the_official_data_and_scores_record_errors() -> None:
    env = KeywordCountingEnv()
    tasks = list(env.tasks())
    assert len(tasks) == 100 and len(COUNTRIES) == 42
    good = env.evaluate(TASK, TASK.expected)
    assert good.correct and good.metrics == {"errors": 0.0}
    assert env.evaluate(TASK, None).metrics == {"errors": 100.0}
    off = json.loads(str(TASK.expected))
    off["Norway"] += 2
    bad = env.evaluate(TASK, json.dumps(off))
    assert bad.correct is False and bad.metrics == {"errors": 2.0}
    assert env.verify(TASK, str(TASK.expected)) == 1.0
    assert env.extract_answer("no dict") is None
    assert env.extract_answer('Output: {"Peru": 1}') == '{"Peru": 1}'


def test_a_passage_of_ones_own_is_counted_and_one_without_countries_refused() -> None:
    assert ground_truth_of(str(TASK.input)) == TRUTH
    # Chile is not one of the dataset's 42 countries: not counted
    assert ground_truth_of("From Japan to Kenya, Chile and back to Japan.") == "[Japan, Japan, Kenya]"
    env = KeywordCountingEnv()
    own = Task(id="own", input="From Japan to Kenya, Chile and back to Japan.")
    assert env.evaluate(own, '{"Japan": 2, "Kenya": 1}').correct is True
    with pytest.raises(ConfigError, match="names none of the 42 countries"):
        env.got_problem(Task(id="none", input="Nowhere at all."))


def test_graphs_are_the_official_builders() -> None:
    problem = KeywordCountingProblem(str(TASK.input), TRUTH, COUNTRIES)
    # the official io/cot: Generate, Score, GroundTruth; tot: 20 branches, 3 more levels; tot2: 10 and 5
    sizes = {p: len(problem.graph(p).operations) for p in problem.presets}
    assert sizes == {"io": 3, "cot": 3, "tot": 14, "tot2": 20, "got4": 30, "got8": 62, "gotx": 254}
    g = problem.graph("got4")
    kinds = [op.kind for op in g.operations]
    assert kinds[:5] == ["Generate", "Selector", "Generate", "Score", "KeepBestN"]
    assert kinds[17:21] == ["Aggregate", "ValidateAndImprove", "Score", "KeepBestN"]
    merge = g.operations[17]
    assert [p.index for p in merge.predecessors] == [4, 8] and merge.num_responses == 3  # type: ignore[attr-defined]
    assert g.operations[2].num_branches_response == 10  # type: ignore[attr-defined]
    assert g.leaves == [g.operations[-1]] and g.operations[-1].kind == "GroundTruth"
    with pytest.raises(ConfigError, match="unknown keyword_counting graph 'got'"):
        problem.graph("got")


OFFICIAL_SHA256 = {
    "COUNT_PROMPT": "293c0095b5356ca854af4c4bad53d46ad16c860797392da15fe493d7835bc048",
    "COUNT_PROMPT_COT": "cfefde1409bd32f075df1af67ae48282a94b3b2cfb269555f9a33df7c26eed1a",
    "COUNT_PROMPT_SENTENCE": "edbfff764179141b8e4219433ba1ec5011fe1c02c12d174a4b1972a811b09a67",
    "TOT_IMPROVE_PROMPT": "fef6b2dd21bc203778767d29981b1d6ec445e8469ab3af3bda8e7c8814e3b923",
    "SENTENCE_IMPROVE_PROMPT": "b380a562a70e6dc03f529ea97fe39de0a8b7e5325649a3dc585ed055946c11f6",
    "GOT_SPLIT_PROMPT": "d7834f822ebefcc0df8f1c7a83a29edab4bd1d8286129bc6bfea191837c76c76",
    "GOT_SPLIT_PROMPT2": "fa4ea4691b38bbb279e66b9bbb457fda56fbb813fc44756b1a4245ce093662c8",
    "GOT_SPLIT_PROMPT3": "b2bddde55f532a8946752e171072b7b3fef55f1eddea50070b51fd80450ca4c5",
    "GOT_AGGREGATE_PROMPT": "9f7d57424934572e124f8adc06a19da8e85c04d6f55ff1c9807b5dba4d899e4f",
    "GOT_IMPROVE_AGGREGATE_PROMPT": "950fd75b8bb6ab374536201428b17965ef62d016cf1531b9a750f82295f02497",
}
DATA_SHA256 = "d1be929b6170f1e81edcdfbed4fc8e6879be0242494de0254a716e02a5361b85"


def test_prompts_and_data_are_the_official_ones_pinned_by_commit() -> None:
    # hashes of the KeywordCountingPrompter class attributes and of countries.csv at the pinned commit
    assert (P.SOURCE_REPO, P.SOURCE_COMMIT) == ("spcl/graph-of-thoughts", "363421c61c7bc11edf32845a697ae2aaccd75463")
    for name, digest in OFFICIAL_SHA256.items():
        assert hashlib.sha256(getattr(P, name).encode()).hexdigest() == digest, name
    data = Path(P.__file__).parent / "data"
    assert hashlib.sha256((data / "countries.csv").read_bytes()).hexdigest() == DATA_SHA256
    assert "ETH Zurich" in (data / "LICENSE-graph-of-thoughts.txt").read_text()
