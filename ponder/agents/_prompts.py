"""Prompt templates shared by strategies (named, module-level; never built inside control flow)."""

from __future__ import annotations

from string import Template

COT_SYSTEM = "You are a careful reasoner. Think step by step, then give the final answer."
COT_TRIGGER = "Let's think step by step."
# the answer format in words: a template's placeholder ("The answer is X") gets echoed as the answer
COT_ANSWER_FORMAT = 'End with a last line that starts with "The answer is" and then gives the final answer itself.'
COT_ZERO_SHOT = Template("Q: $question\n$format\nA: $trigger")
COT_EXEMPLAR = Template("Q: $question\nA: $reasoning The answer is $answer.")
COT_FEW_SHOT = Template("$exemplars\n\nQ: $question\nA:")
# the input-output (standard prompting) baseline: the answer directly, no reasoning asked for
IO_SYSTEM = "Answer the question directly."
IO_ANSWER_FORMAT = 'Reply with one line that starts with "The answer is" and then gives the answer itself.'
IO_ZERO_SHOT = Template("Q: $question\n$format\nA:")
IO_FEW_SHOT = Template("$exemplars\n\nQ: $question\nA:")
IO_EXEMPLAR = Template("Q: $question\nA: The answer is $answer.")
