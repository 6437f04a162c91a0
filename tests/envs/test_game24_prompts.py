"""Every Game-of-24 prompt ponder sends is the ToT paper's, character for character except the
placeholders: pinned to a copy of the source text (tests/envs/data/tot_game24_prompts.json, which
names its repository, path and commit)."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

import pytest

from ponder.envs.game24 import prompts

SOURCE = json.loads((Path(__file__).parent / "data" / "tot_game24_prompts.json").read_text(encoding="utf-8"))
OURS = {
    "standard_prompt": prompts.STANDARD_PROMPT,
    "cot_prompt": prompts.COT_PROMPT,
    "propose_prompt": prompts.PROPOSE_PROMPT,
    "value_prompt": prompts.VALUE_PROMPT,
    "value_last_step_prompt": prompts.VALUE_LAST_STEP_PROMPT,
}


def test_the_source_copy_names_where_it_comes_from() -> None:
    assert SOURCE["repository"] == "princeton-nlp/tree-of-thought-llm"
    assert SOURCE["path"] == "src/tot/prompts/game24.py"
    assert len(SOURCE["commit"]) == 40
    assert set(SOURCE["prompts"]) == set(OURS)


@pytest.mark.parametrize("name", sorted(OURS))
def test_prompt_is_the_papers_character_for_character(name: str) -> None:
    ours: Template = OURS[name]
    # the paper's code fills `{input}`/`{answer}` with str.format; ponder uses $input/$answer
    as_format = ours.template.replace("$input", "{input}").replace("$answer", "{answer}")
    assert as_format == SOURCE["prompts"][name]


def test_the_last_step_examples_judge_a_wrong_answer_impossible() -> None:
    # the official second "impossible" example: (13 - 4) * (10 - 9) is 9, not 24
    text = prompts.VALUE_LAST_STEP_PROMPT.template
    assert "Answer: (13 - 4) * (10 - 9) = 24\nJudge: \nimpossible" in text
    assert text.count("Answer: (13 - 9) * (10 - 4) = 24") == 1, "the correct answer appears once, judged sure"
