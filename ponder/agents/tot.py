"""Tree-of-Thoughts (Yao et al. 2023): the search layer's BFS/DFS over thought states.

The pieces live in `ponder.search`: the problem (`problem`, supplied by the env where it has
one), the search config (`generate`: propose/sample; `evaluate`: value/vote) and the
algorithm (`bfs`, `dfs`), composed by `SearchAgent`. `--set faithful=true` with `env=game24`
runs the paper's algorithm exactly (docs/reproducing.md).
"""

from __future__ import annotations

from typing import ClassVar

from ponder.search.agent import SearchAgent


class TreeOfThoughts(SearchAgent):
    """Tree-of-Thoughts: generate, evaluate and search thought states (BFS or DFS); the tree is recorded node by node.

    breadth: states kept per level in BFS (the paper's n_select_sample). depth: levels (the paper's steps).
    value_threshold, max_steps: for DFS. See `SearchAgent` for the rest.
    """

    name: ClassVar[str] = "tot"
