"""pass@k: the unbiased estimator against the closed form 1 - C(n-c, k) / C(n, k), on hand-computed cases."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from ponder.experiments.metrics import pass_at_k, pass_at_k_table


@pytest.mark.parametrize(
    ("n", "c", "k", "want"),
    [
        (5, 0, 1, 0.0),
        (5, 5, 1, 1.0),
        (5, 2, 1, 0.4),  # pass@1 is c / n
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (5, 1, 5, 1.0),  # n - c < k: some pick always holds the correct one
        (10, 3, 5, 11 / 12),  # 1 - C(7,5)/C(10,5) = 1 - 21/252
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    ],
)
def test_hand_computed_cases(n: int, c: int, k: int, want: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


def test_matches_the_closed_form_where_binomials_are_huge() -> None:
    for n, c, k in [(200, 13, 10), (200, 1, 100), (2000, 7, 100), (100, 50, 1)]:
        exact = 1 - Fraction(comb(n - c, k), comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_refuses_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_table_averages_over_problems_and_reports_k_up_to_the_smallest_n() -> None:
    table = pass_at_k_table({"a": (5, 2), "b": (5, 0)})
    assert table == pytest.approx({"pass@1": 0.2, "pass@5": 0.5})
    assert pass_at_k_table({"a": (1, 1), "b": (1, 0)}) == {"pass@1": 0.5}
    assert pass_at_k_table({}) == {}
    assert set(pass_at_k_table({"a": (20, 3)})) == {"pass@1", "pass@10", "pass@20"}
