"""Drawing k samples of one request (`RunContext.sample`): one `n=k` request where the backend
supports it, else k branches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import TYPE_CHECKING, TypeVar

from ponder.errors import BackendError
from ponder.types import Choice, CompletionRequest

if TYPE_CHECKING:
    from ponder.runtime.context import RunContext

T = TypeVar("T")


async def limited(sem: asyncio.Semaphore | None, aw: Awaitable[T]) -> T:
    """Await `aw` holding `sem` (no limit when None)."""
    cm: AbstractAsyncContextManager[object] = sem if sem is not None else nullcontext()
    async with cm:
        return await aw


async def sample_choices(
    ctx: RunContext,
    req: CompletionRequest,
    k: int,
    *,
    label: str,
    parent: int | None = None,
    sem: asyncio.Semaphore | None = None,
) -> list[Choice]:
    """`k` sampled choices of `req` (text and finish reason), in a stable order.

    With `capabilities.n`: one request with `n=k`; if a server answers with fewer choices
    (some servers give one), the rest is asked for, never silently dropped.
    Without it: k concurrent requests with `n=1`, each in its own branch `ctx.branch(j)`.
    """
    if k <= 0:
        return []
    under = ctx if parent is None else ctx.within(parent)
    if ctx.backend.capabilities.n and k > 1:
        choices: list[Choice] = []
        while len(choices) < k:
            want = k - len(choices)
            c = await limited(sem, under.complete(req.model_copy(update={"n": want}), label=label))
            got = c.choices[:want]
            if not got:
                raise BackendError(f"the backend returned no choices for a request with n={want}")
            choices.extend(got)
        return choices
    single = req.model_copy(update={"n": 1})

    async def one(j: int) -> Choice:
        branch = under.branch(f"s{j}") if k > 1 else under
        c = await limited(sem, branch.complete(single, label=label))
        return c.choices[0]

    return list(await asyncio.gather(*(one(j) for j in range(k))))


async def sample_texts(ctx: RunContext, req: CompletionRequest, k: int, *, label: str) -> list[str]:
    """`k` sampled texts of `req`, in a stable order (`sample_choices`' texts)."""
    return [c.text for c in await sample_choices(ctx, req, k, label=label)]
