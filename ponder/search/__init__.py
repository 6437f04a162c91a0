"""The search layer, in the shape llm-reasoners made standard.

- the problem searched (`problem.ThoughtProblem`: states, prompts for actions, terminal test, answer);
- the search config (`config.SearchConfig`: a `Generator` — propose/sample — and an `Evaluator` —
  value/vote — composed);
- the algorithm (`base.Search`: `bfs`, `dfs`, `beam`, `mcts`, each with its own settings model in
  the `settings.AnySearch` union);
- the tree (`tree.SearchTree`, a networkx graph) that records through a `TreeHook`.

`agent.SearchAgent` composes them; `tot`, `mcts` and `beam` are its registered strategies.
"""
