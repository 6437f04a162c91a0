"""The Graph-of-Thoughts controller: runs every operation whose predecessors are done, independent ones at once.

The official controller (`controller/controller.py`) pops one ready operation at a time; this one
starts every ready operation together, so the sublists of GoT's merge sort are sorted concurrently
(and decode together in a local model's slots). Each operation works in its own branch
(`op<index>`, and `op<index>.t<j>` per input thought; its own event is written there too), so
replay serves every call its recorded answer, and finds every event, whatever order they ran in.
Every operation is an event (`got_op`), every new thought one under it (`got_thought`, naming its
parent thoughts — an aggregated thought has several), and scores, validity and ground truth are
written back onto the thought's event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ponder.agents.got.kinds import GotOpData, GotThoughtData
from ponder.agents.got.operations import (
    Aggregate,
    Generate,
    GraphOfOperations,
    GroundTruth,
    Improve,
    KeepBestN,
    KeepValid,
    Operation,
    Score,
    Selector,
    State,
    Thought,
    ValidateAndImprove,
)
from ponder.agents.got.problem import GoTProblem
from ponder.runtime.context import RunContext
from ponder.runtime.sampling import sample_texts
from ponder.types import CompletionRequest, Message

Ask = Callable[[RunContext, str, int, str], Awaitable[list[str]]]


def _summary(state: State) -> str:
    current = state.get("current")
    return str(current) if current not in (None, "") else str(state)


class Controller:
    """Runs one Graph of Operations on one problem inside a run.

    temperature, max_tokens: the sampling of every prompt (the official ChatGPT config: 1.0, 1536).
    """

    def __init__(self, graph: GraphOfOperations, problem: GoTProblem, *, temperature: float, max_tokens: int) -> None:
        graph.check()
        self.graph = graph
        self.problem = problem
        self.temperature = temperature
        self.max_tokens = max_tokens

    async def run(self, ctx: RunContext) -> list[Thought]:
        """Execute every operation; the thoughts of the graph's leaves, in leaf order."""
        started: set[int] = set()
        running: dict[asyncio.Task[None], Operation] = {}
        try:
            while True:
                for op in self.graph.operations:
                    if op.index not in started and op.can_be_executed():
                        started.add(op.index)
                        running[asyncio.create_task(self._execute(op, ctx))] = op
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for t in sorted(done, key=lambda t: running[t].index):
                    op = running.pop(t)
                    t.result()  # an operation's failure ends the run with its error
                    op.executed = True
        finally:
            for t in running:
                t.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return [t for leaf in self.graph.leaves for t in leaf.thoughts]

    # -- recording ---------------------------------------------------------------------

    def _new_thought(self, ctx: RunContext, op: Operation, state: State, parents: list[Thought]) -> Thought:
        t = Thought(state=state, id=f"op{op.index}.{len(op.thoughts)}", parents=tuple(p.id for p in parents))
        op.thoughts.append(t)
        return t

    def _record_thoughts(self, ctx: RunContext, op_seq: int, thoughts: list[Thought]) -> None:
        for t in thoughts:
            t.seq = ctx.event(
                "got_thought",
                t.id,
                _summary(t.state),
                parent=op_seq,
                data=GotThoughtData(id=t.id, parents=list(t.parents), state=t.state).model_dump(exclude_none=True),
            )

    def _mark(self, ctx: RunContext, t: Thought) -> None:
        """Write a thought's score / validity / solved flag onto its event."""
        if t.seq is None:
            return
        data = GotThoughtData(
            id=t.id,
            parents=list(t.parents),
            state=t.state,
            score=t.score if t.scored else None,
            valid=t.valid if t.validated else None,
        )
        ctx.update(t.seq, score=t.score if t.scored else None, data=data.model_dump(exclude_none=True))

    async def _ask(self, ctx: RunContext, prompt: str, n: int, label: str) -> list[str]:
        req = CompletionRequest(
            messages=(Message.user(prompt),), temperature=self.temperature, max_tokens=self.max_tokens
        )
        return await sample_texts(ctx, req, n, label=label)

    # -- operations --------------------------------------------------------------------

    async def _execute(self, op: Operation, ctx: RunContext) -> None:
        inputs = op.previous_thoughts()
        # the operation's event is written from its own branch too: which operations start when
        # depends on which finished first, so their events' order within one branch would not repeat
        octx = ctx.branch(f"op{op.index}")
        seq = octx.event(
            "got_op",
            op.label(),
            f"{len(inputs)} thoughts in",
            status="running",
            data=GotOpData(
                index=op.index,
                op=op.kind,
                predecessors=[p.index for p in op.predecessors],
                inputs=[t.id for t in inputs],
            ).model_dump(exclude_none=True),
        )
        octx = octx.within(seq)
        runner = _RUNNERS[type(op)]
        await runner(self, op, inputs, octx, seq)
        ctx.update(
            seq,
            status="ok",
            summary=f"{len(inputs)} → {len(op.thoughts)} thoughts",
            data=GotOpData(
                index=op.index,
                op=op.kind,
                predecessors=[p.index for p in op.predecessors],
                inputs=[t.id for t in inputs],
                outputs=[t.id for t in op.thoughts],
            ).model_dump(exclude_none=True),
        )

    async def _per_thought(
        self, inputs: list[Thought], ctx: RunContext, fn: Callable[[Thought, RunContext], Awaitable[Any]]
    ) -> list[Any]:
        """`fn` over every input thought concurrently, each in its own branch; results in input order."""
        return list(await asyncio.gather(*(fn(t, ctx.branch(f"t{j}")) for j, t in enumerate(inputs))))

    async def _generate(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, Generate)
        if not inputs and op.predecessors:
            return  # the official Generate: predecessors that produced nothing give nothing
        bases = inputs or [Thought(state=self.problem.initial_state(), id="root")]

        async def one(t: Thought, c: RunContext) -> list[State]:
            prompt = self.problem.generate_prompt(op.num_branches_prompt, t.state)
            texts = await self._ask(c, prompt, op.num_branches_response, "generate")
            return [{**t.state, **s} for s in self.problem.parse_generate_answer(t.state, texts)]

        results = await self._per_thought(bases, ctx, one)
        new = [
            self._new_thought(ctx, op, s, [b] if b.id != "root" else [])
            for b, states in zip(bases, results, strict=True)
            for s in states
        ]
        self._record_thoughts(ctx, seq, new)

    async def _aggregate(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, Aggregate)
        if not inputs:
            return
        base: State = {}
        for t in sorted(inputs, key=lambda t: t.score):
            base = {**base, **t.state}
        states = [t.state for t in inputs]
        texts = await self._ask(ctx, self.problem.aggregation_prompt(states), op.num_responses, "aggregate")
        parsed = self.problem.parse_aggregation_answer(states, texts)
        new = [self._new_thought(ctx, op, {**base, **s}, inputs) for s in parsed]
        self._record_thoughts(ctx, seq, new)

    async def _improve(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        async def one(t: Thought, c: RunContext) -> State:
            texts = await self._ask(c, self.problem.improve_prompt(t.state), 1, "improve")
            return {**t.state, **self.problem.parse_improve_answer(t.state, texts)}

        states = await self._per_thought(inputs, ctx, one)
        new = [self._new_thought(ctx, op, s, [t]) for t, s in zip(inputs, states, strict=True)]
        self._record_thoughts(ctx, seq, new)

    async def _validate_and_improve(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, ValidateAndImprove)

        async def one(t: Thought, c: RunContext) -> list[tuple[State, bool]]:
            chain: list[tuple[State, bool]] = []
            state = t.state
            for attempt in range(op.num_tries + 1):
                if op.validate_function is not None:
                    valid = bool(op.validate_function(state))
                else:
                    texts = await self._ask(c, self.problem.validation_prompt(state), op.num_samples, "validate")
                    valid = self.problem.parse_validation_answer(state, texts)
                chain.append((state, valid))
                if not op.improve or valid or attempt >= op.num_tries:
                    break
                texts = await self._ask(c, self.problem.improve_prompt(state), 1, "improve")
                state = {**state, **self.problem.parse_improve_answer(state, texts)}
            return chain

        chains = await self._per_thought(inputs, ctx, one)
        for t, chain in zip(inputs, chains, strict=True):
            last = t
            for j, (state, valid) in enumerate(chain):
                if j == 0:
                    nt = t.copy()
                    nt.state = dict(state)
                else:
                    nt = Thought(state=state, id=f"op{op.index}.{t.id}.{j}", parents=(last.id,))
                    self._record_thoughts(ctx, seq, [nt])
                nt.valid, nt.validated = valid, True
                self._mark(ctx, nt)
                last = nt
            op.thoughts.append(last)

    async def _score(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, Score)
        scored = [t.copy() for t in inputs]
        states = [t.state for t in inputs]
        if op.combined_scoring:
            if op.scoring_function is not None:
                scores = list(op.scoring_function(states))
            else:
                texts = await self._ask(ctx, self.problem.score_prompt(states), op.num_samples, "score")
                scores = self.problem.parse_score_answer(states, texts)
        else:

            async def one(t: Thought, c: RunContext) -> float:
                if op.scoring_function is not None:
                    return float(op.scoring_function(t.state))
                texts = await self._ask(c, self.problem.score_prompt([t.state]), op.num_samples, "score")
                return self.problem.parse_score_answer([t.state], texts)[0]

            scores = await self._per_thought(inputs, ctx, one)
        for t, s in zip(scored, scores, strict=False):
            t.score, t.scored = float(s), True
            self._mark(ctx, t)
        op.thoughts.extend(scored[: len(scores)])

    async def _keep_best_n(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, KeepBestN)
        ranked = sorted(
            (t for t in inputs if t.scored), key=lambda t: t.score, reverse=op.higher_is_better
        )  # stable: ties keep input order, as Python's sort does in the official code
        op.thoughts.extend(t.copy() for t in ranked[: op.n])

    async def _keep_valid(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        op.thoughts.extend(t.copy() for t in inputs if not t.validated or t.valid)

    async def _select(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, Selector)
        base = inputs or [Thought(state=self.problem.initial_state(), id="root")]
        op.thoughts.extend(t.copy() for t in op.selector(base))

    async def _ground_truth(self, op: Operation, inputs: list[Thought], ctx: RunContext, seq: int) -> None:
        assert isinstance(op, GroundTruth)
        for t in inputs:
            nt = t.copy()
            try:
                nt.solved = bool(op.ground_truth_evaluator(nt.state))
            except Exception:  # the official evaluator treats any failure (unparseable output) as unsolved
                nt.solved = False
            if nt.seq is not None:
                ctx.update(nt.seq, status="chosen" if nt.solved else None)
            op.thoughts.append(nt)


_Runner = Callable[[Controller, Operation, list[Thought], RunContext, int], Awaitable[None]]
_RUNNERS: dict[type[Operation], _Runner] = {
    Generate: Controller._generate,
    Aggregate: Controller._aggregate,
    Improve: Controller._improve,
    ValidateAndImprove: Controller._validate_and_improve,
    Score: Controller._score,
    KeepBestN: Controller._keep_best_n,
    KeepValid: Controller._keep_valid,
    Selector: Controller._select,
    GroundTruth: Controller._ground_truth,
}
