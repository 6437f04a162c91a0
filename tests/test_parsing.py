import pytest

from ponder.parsing import answer_value, extract_answer, is_placeholder, normalize_answer, normalize_number


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("17*23 = 391. The answer is 391.", "391"),
        ("so we get\n#### 1,000", "1000"),
        ("Answer: Paris", "Paris"),
        ("the final answer is \\boxed{42}", "42"),
        ("First 3, then 5, finally 8", "8"),
        ("The answer is 391 (17 times 23).", "391"),
        ("The answer is **12**.", "12"),
        ("The answer is 3 + 5 = 8.", "8"),
        ("Answer: x = 1,000", "1000"),
        ("He needs 16 days. The answer is 16 days.", "16"),
        ("The answer is 3 Musketeers of France and Spain", "3 Musketeers of France and Spain"),
        ("I don't know", None),
        ("", None),
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("1,000", "1000"), ("3.0", "3"), ("$5", "5"), ("-0.50", "-0.5"), ("abc", None), ("1e5", None)],
)
def test_normalize_number(raw, norm):
    assert normalize_number(raw) == norm


def test_normalize_answer():
    assert normalize_answer(" 1,000. ") == "1000"
    assert normalize_answer("Paris") == normalize_answer("  paris ")
    assert normalize_answer(None) == ""


# -- the rules real model text needs (issue 18 item 5) ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The answer is X.",
        "The answer is N",
        "The answer is <answer>.",
        "Answer: <the final answer>",
        "The answer is your answer.",
        "Final answer: [your answer here]",
        "#### {answer}",
        "The answer is ...",
    ],
)
def test_a_template_placeholder_is_never_the_answer(text):
    assert extract_answer(text) is None


@pytest.mark.parametrize("value", ["X", "x.", "N", "<answer>", "<the final answer>", "your answer", "...", "**X**"])
def test_placeholders_are_recognized(value):
    assert is_placeholder(value)
    assert answer_value(value) is None


@pytest.mark.parametrize("value", ["374", "Paris", "yes", "A", "Lord Byron", "0"])
def test_real_answers_are_not_placeholders(value):
    assert not is_placeholder(value)


def test_a_placeholder_echoed_after_the_answer_leaves_the_answer():
    # seen from Qwen2.5-Coder-0.5B under self-consistency: the prompt's placeholder repeated last
    assert extract_answer("17 * 23 = 401\nThe answer is 401.\nThe answer is X.") == "401"
    assert extract_answer("So it is 432.\nThe answer is X.") == "432"  # the last number stated


@pytest.mark.parametrize(
    "text",
    [
        "The answer is: The answer is 374",
        "The final answer is: The answer is 374.",
        "Answer: The answer is 374",
        "The answer is The final answer is **374**",
    ],
)
def test_a_nested_answer_statement_reads_as_its_value(text):
    assert extract_answer(text) == "374"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The answer is 12.\nWait, I made an error: 17 * 23 = 391.\nThe answer is 391.", "391"),
        ("The answer is \\boxed{12}. Checking again, the answer is 391.", "391"),
        ("#### 12\nOn reflection:\n#### 391", "391"),
        ("Answer: 12\nThe final answer is \\boxed{391}.", "391"),
        # Qwen2.5-Coder-0.5B (tests/recordings/cot_word_problem.db): a sentence about the answer states none
        ('"The answer is 10 apples. "\nThis answer is based on the information provided in the problem.', "10"),
        ("The answer is 56. That answer is correct because 8 * 7 = 56.", "56"),
    ],
)
def test_the_last_stated_answer_wins(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The answer is 14,834.", "14834"),
        ("The answer is 1,234,567", "1234567"),
        ("The answer is $1,250.00.", "1250"),
        ("The answer is $5 each.", "5"),
        ("The answer is 16 days.", "16"),
        ("The answer is 8 loaves left", "8"),
        ("The answer is 25%.", "25"),
        ("The final answer is \\boxed{945}.", "945"),
        ("The answer is \\(\\boxed{14{,}834}\\).", "14834"),
        ("The answer is $945$.", "945"),
        ("\\[\n\\boxed{\\text{60 dollars}}\n\\]", "60"),
        ("The answer is 374.", "374"),
        ("The answer is **374**", "374"),
        ("**Answer:** 374", "374"),
        ("### Final Answer\nThe answer is **374**.", "374"),
        ("The answer is 35 \\times 27 = 945", "945"),
        ("The answer is 3.50 dollars", "3.5"),
        ("The answer is -7.", "-7"),
        ("The final answer is:\n\\[\n\\boxed{945}\n\\]", "945"),
    ],
)
def test_numbers_read_as_the_number(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The answer is Lord Byron. He was a poet.", "Lord Byron"),
        ("The answer is yes.", "yes"),
        ("The answer is 116 million people", "116 million people"),
        ("The answer is 3 Musketeers of France and Spain", "3 Musketeers of France and Spain"),
    ],
)
def test_text_answers_stay_text(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("374", "374"),
        ("The answer is 374", "374"),
        ("$1,250.", "1250"),
        ("7006652 (1234 * 5678)", "7006652"),
        ("**Paris**", "Paris"),
        ("answer", None),
        ("", None),
    ],
)
def test_answer_value_reads_one_stated_answer(value, answer):
    assert answer_value(value) == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        # Qwen2.5-Coder-0.5B, self-consistency samples on GSM8K-format questions
        ("The answer is: The farmer picks 1260 apples.", "1260"),
        (
            'The answer is 10 weeks.\nThe final answer is:\n"The answer is 10 weeks. "\n'
            "- Therefore, the answer is correct.",
            "10",
        ),
        ("The answer is: Apollo 11", "Apollo 11"),
        ("The answer is: The Treaty of Paris of 1783", "The Treaty of Paris of 1783"),
    ],
)
def test_a_sentence_restating_the_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("3 * 20", "60"),  # Qwen2.5-Coder-1.5B's `finish[3 * 20]`
        ("(4 + 8) * (6 - 4)", "24"),
        ("10 ÷ 4", "2.5"),
        ("2/3", "2/3"),  # a fraction stays as written
        ("7 / 3", "7 / 3"),  # no exact decimal
        ("2023-01-05", "2023-01-05"),  # a date is not a subtraction
    ],
)
def test_an_arithmetic_answer_reads_as_its_value(value, answer):
    assert answer_value(value) == answer


def test_extract_answer_without_the_last_number_fallback():
    assert extract_answer("7 - 4 = 3 (left: 1 2 3)", last_number=False) is None
    assert extract_answer("7 - 4 = 3 (left: 1 2 3)") == "3"
