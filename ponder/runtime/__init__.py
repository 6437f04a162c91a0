"""What every strategy runs on: the `Agent` contract and `BaseAgent`, `RunContext`, the runner,
budgets, the state a run's contexts share, tool calls, memory and sampling.

`ponder.agents` (the strategies) and `ponder.search` (the search layer) are built on this package;
it imports neither.
"""
