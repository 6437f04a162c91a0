"""pass@k: the unbiased estimator of Chen et al. 2021 (HumanEval), in its numerically stable form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

REPORTED_K = (1, 10, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k): the chance that at least one of k of the n samples (c correct) passes.

    Computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms the huge binomials.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_at_k_table(counts: Mapping[str, tuple[int, int]], ks: Iterable[int] | None = None) -> dict[str, float]:
    """Mean pass@k over problems, from {problem: (n samples, c correct)}.

    ks: the k to report (default 1, 10, 100 and the smallest n), each only where every problem has
    at least k samples.
    """
    if not counts:
        return {}
    smallest = min(n for n, _ in counts.values())
    wanted = sorted({*(ks if ks is not None else (*REPORTED_K, smallest))})
    return {
        f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in counts.values()) / len(counts)
        for k in wanted
        if 1 <= k <= smallest
    }
