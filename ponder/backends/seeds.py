"""Per-request sampling seeds, derived from the run's seed and where in the run a request is made.

A run has one seed (`--seed`, `--set seed=N`). Every request it sends to a backend that honours
seeds (`capabilities.seed`) carries a seed of its own, a pure function of the run's seed, the
branch path the request is made from, the request itself (less the ids a provider made up) and
its occurrence among identical requests in that branch: so self-consistency's k samples (k
branches) differ, two identical requests in one branch differ, and a rerun with the same seed
sends the same seeds, whatever order the branches happen to run in. A request for `n` choices
carries one seed; the local backend gives choice i `seed + i` (llama.cpp's rule for its `n`).
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31
"""Derived seeds lie in [0, 2**31): every server takes them (llama.cpp reads 2**32-1 as "random")."""


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % (1 << SEED_BITS)


def derive_seed(run_seed: int, branch: str, request: str, index: int) -> int:
    """The seed of a request made in `branch` of a run seeded `run_seed`.

    request: the request's identity as the strategy built it, without a seed
    (`CompletionRequest.identity()`: its key with the provider's tool-call ids renamed, so that
    ids a server made up do not change the seed); index: its occurrence among identical
    requests in the branch (the call site's sample index).
    """
    return _hash("ponder-seed-v1", run_seed, branch, request, index)
