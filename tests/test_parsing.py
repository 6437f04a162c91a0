import pytest

from ponder.parsing import extract_answer, normalize_answer, normalize_number


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("17*23 = 391. The answer is 391.", "391"),
        ("so we get\n#### 1,000", "1,000"),
        ("Answer: Paris", "Paris"),
        ("the final answer is \\boxed{42}", "42"),
        ("First 3, then 5, finally 8", "8"),
        ("The answer is 391 (17 times 23).", "391"),
        ("The answer is **12**.", "12"),
        ("The answer is 3 + 5 = 8.", "8"),
        ("Answer: x = 1,000", "1,000"),
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
