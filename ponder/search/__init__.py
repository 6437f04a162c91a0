"""The search layer, in the shape llm-reasoners made standard (`reasoners/base.py`).

- the world model (`world.WorldModel`: `init_state`, `step(state, action, ctx)` -> a new state,
  `is_terminal`, `answer`; ToT's text states are `world.TextSteps`, a ToT problem with its prompts
  is `problem.ThoughtProblem`);
- the search config (`config.SearchConfig`: the actions of a state — a `Generator`, propose or
  sample — and what the states they reach are worth — an `Evaluator`, value or vote — composed;
  the prompts are the operators they apply);
- the algorithm (`base.Search`, made by its `base.SearchSettings`): registered under the
  `ponder.search` entry-point group (`bfs`, `dfs`, `beam`, `mcts` are, in pyproject.toml), so a
  plugin adds one (docs/search.md builds best-first search outside ponder);
- the graph (`graph.SearchGraph`, a networkx DiGraph: a node may have several parents) that records
  every node and edge, for every algorithm, through one hook (`graph.SearchHook`).

`agent.SearchAgent` composes them; `tot`, `mcts` and `beam` are its registered strategies. This
package is built on `ponder.runtime` and never imports `ponder.agents`.
"""
