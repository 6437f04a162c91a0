"""Monte-Carlo tree search [`mcts`] over thought states: the search layer's MCTS (`ponder.search.mcts`).

`ponder run "4 9 10 13" --agent mcts --set env=game24 --set n_iterations=20 --set parallel=4`:
the paper's propose/value prompts as actions and rewards, UCT selection, `parallel` selections
at once with virtual loss. Settings: n_iterations, depth, c, rollout_depth, parallel,
virtual_loss, reward (value/env/both), output (best_terminal/aggregate), and the search
config's (method_generate, method_evaluate, n_evaluate, …).
"""

from __future__ import annotations

from typing import ClassVar

from ponder.search.agent import SearchAgent


class MCTSAgent(SearchAgent):
    """MCTS over thought states; each node records its visits N and value Q, the chosen path marked."""

    name: ClassVar[str] = "mcts"
    fixed_search: ClassVar[str | None] = "mcts"
