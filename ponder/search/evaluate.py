"""State evaluators, the search config's `reward`: `value` (each state rated, its samples combined by
the problem) and `vote` (states compared), each applying a problem's prompts (`ThoughtPrompts`).

A rating call that fails marks its node `error` (recorded) instead of failing the run."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ponder.errors import BackendError
from ponder.runtime.context import RunContext
from ponder.search.generate import RequestFactory
from ponder.search.graph import Node, SearchGraph
from ponder.search.problem import ThoughtPrompts, parse_vote


class ValueEvaluator:
    """Rates each state `n_evaluate` times and combines the samples as the problem says.

    (Game of 24: sure / likely / impossible -> 20 / 1 / 0.001, averaged; the paper's sum in
    faithful mode — both rank alike.) An unparseable rating counts 0 and is recorded as invalid.
    As in the paper, identical value prompts are asked once per run (`cache`) and a state repeated
    within one expansion gets 0.
    """

    def __init__(
        self, request: RequestFactory, prompts: ThoughtPrompts, n_evaluate: int, *, cache: bool = True
    ) -> None:
        self.request = request
        self.prompts = prompts
        self.n = n_evaluate
        self.use_cache = cache
        self.cache: dict[str, tuple[float, int]] = {}  # prompt -> (value, node id that computed it)
        self.calls_saved = 0

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        """Set `value` on each node: rated concurrently (one branch per distinct prompt), recorded in node order."""
        pending, owners = self._without_a_call(nodes, ctx)
        # the rating calls nest under the node; the evaluation event is written once the value is
        # known (no "running" placeholder: fewer writes between a level's answers and its next calls)
        firsts = list(owners.items())
        rated = await asyncio.gather(*(self._rate(n, p, ctx) for p, n in firsts))
        by_prompt = {p: r for (p, _), r in zip(firsts, rated, strict=True)}
        for node, prompt in pending:
            self._record(graph, node, prompt, owners[prompt], by_prompt[prompt], ctx)

    def _without_a_call(self, nodes: list[Node], ctx: RunContext) -> tuple[list[tuple[Node, str]], dict[str, Node]]:
        """Value the nodes that need no model call (a repeated state, a rule, a cached prompt); the
        others, with their prompts, and the first node that asks each prompt in this expansion."""
        problem = self.prompts
        seen: dict[str, int] = {}
        owners: dict[str, Node] = {}
        pending: list[tuple[Node, str]] = []
        for node in nodes:
            prompt = problem.value_prompt(node.state)
            if node.state in seen:
                ctx.event(
                    "evaluation",
                    "duplicate",
                    "a repeated state gets 0",
                    parent=node.seq,
                    score=0.0,
                    data={"duplicate_of": seen[node.state], "value": 0.0},
                )
                node.value = 0.0
                continue
            seen[node.state] = node.id
            if prompt is None:
                v = problem.rule_value(node.state)
                ctx.event(
                    "evaluation",
                    "rule",
                    "valued by rule, no model call",
                    parent=node.seq,
                    score=v,
                    data={"value": v, "rule": True},
                )
                node.value = v
                continue
            if self.use_cache and prompt in self.cache:
                v, src = self.cache[prompt]
                ctx.event(
                    "evaluation",
                    "cached",
                    f"value {v:g} (same prompt as node {src})",
                    parent=node.seq,
                    score=v,
                    data={"value": v, "cached": True, "from_node": src},
                )
                node.value = v
                self.calls_saved += 1
                continue
            pending.append((node, prompt))
            owners.setdefault(prompt, node)
        return pending, owners

    async def _rate(self, node: Node, prompt: str, ctx: RunContext) -> tuple[float, list[Any]] | str:
        """The combined value of `n_evaluate` ratings and the samples, or why the node cannot be valued."""
        try:
            texts = await ctx.branch(f"v{node.id}", parent=node.seq).sample(self.request(prompt), self.n, label="value")
        except BackendError as e:  # this node cannot be valued; the others can
            return str(e) or type(e).__name__
        parsed = [self.prompts.parse_value(t) for t in texts]
        value = self.prompts.combine_values(node.state, parsed)
        return value, [{"text": t, "value": p} for t, p in zip(texts, parsed, strict=True)]

    def _record(
        self,
        graph: SearchGraph,
        node: Node,
        prompt: str,
        owner: Node,
        outcome: tuple[float, list[Any]] | str,
        ctx: RunContext,
    ) -> None:
        """The node's evaluation event and value (`owner` asked the prompt: the others reuse its rating)."""
        if isinstance(outcome, str):
            ctx.event(
                "evaluation",
                "value",
                f"rating failed: {outcome}",
                parent=node.seq,
                status="error",
                data={"value": None, "error": outcome, "from_node": owner.id},
            )
            graph.fail(node, f"rating failed: {outcome}")
            return
        value, samples = outcome
        if self.use_cache:
            self.cache[prompt] = (value, owner.id)
        invalid = sum(1 for s in samples if s["value"] is None)
        data: dict[str, Any] = {"value": value, "samples": samples, "invalid": invalid}
        if owner is not node:
            data = {"value": value, "cached": True, "from_node": owner.id}
            self.calls_saved += 1
        ctx.event(
            "evaluation",
            "value" if owner is node else "cached",
            f"value {value:g}" + (f" ({invalid} unparseable)" if invalid else ""),
            parent=node.seq,
            status="invalid" if invalid == len(samples) and samples else "ok",
            score=value,
            data=data,
        )
        node.value = value


class VoteEvaluator:
    """Shows the new states side by side `n_vote` times; a state's value is the votes it gets."""

    def __init__(self, request: RequestFactory, prompts: ThoughtPrompts, n_vote: int) -> None:
        self.request = request
        self.prompts = prompts
        self.n = n_vote

    async def reward(self, graph: SearchGraph, nodes: list[Node], ctx: RunContext) -> None:
        """Set each node's `value` to the votes it gets over `n_vote` samples of one comparison prompt."""
        parents = {n.parent for n in nodes}
        only = parents.pop() if len(parents) == 1 else None
        parent_seq = graph.node(only).seq if only is not None else ctx.parent
        ids = [n.id for n in nodes]
        if len(nodes) == 1:
            nodes[0].value = float(self.n)
            ctx.event(
                "evaluation",
                "vote",
                "one candidate: all votes, no model call",
                parent=parent_seq,
                score=float(self.n),
                data={"nodes": ids, "votes": [self.n], "rule": True},
            )
            return
        seq = ctx.event(
            "evaluation",
            "vote",
            f"vote over {len(nodes)} states",
            parent=parent_seq,
            status="running",
            data={"nodes": ids},
        )
        prompt = self.prompts.vote_prompt([n.state for n in nodes])
        try:
            texts = await ctx.branch(f"vote{nodes[0].id}", parent=seq).sample(
                self.request(prompt), self.n, label="vote"
            )
        except BackendError as e:  # these states cannot be compared; the search goes on without them
            reason = str(e) or type(e).__name__
            ctx.update(seq, status="error", summary=f"vote failed: {reason}", data={"nodes": ids, "error": reason})
            for n in nodes:
                graph.fail(n, f"vote failed: {reason}")
            return
        picks = [parse_vote(t, len(nodes)) for t in texts]
        tally = Counter(p for p in picks if p is not None)
        for i, n in enumerate(nodes):
            n.value = float(tally.get(i, 0))
        invalid = sum(1 for p in picks if p is None)
        ctx.update(
            seq,
            status="invalid" if invalid == len(picks) else "ok",
            summary=", ".join(f"#{n.id}: {n.value:g}" for n in nodes)
            + (f" ({invalid} unparseable)" if invalid else ""),
            data={
                "nodes": ids,
                "votes": [n.value for n in nodes],
                "picks": picks,
                "invalid": invalid,
                "samples": texts,
            },
        )
