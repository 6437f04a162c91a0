"""Waiting for the TUI under test: for its workers and the messages they post, always with a deadline."""

from __future__ import annotations

import asyncio

from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

DEADLINE_S = 30.0


async def workers_done(app: App, timeout: float = DEADLINE_S) -> None:
    """Wait until every worker the app has now has ended.

    A worker cancelled because a newer one of its `exclusive` group replaced it (the detail pane
    when the cursor moves on, the next poll of a running run) has ended as the app means it to:
    that is not a failure. `App.workers.wait_for_complete()` raises `WorkerCancelled` for it, and
    stops waiting for the others, so it is not used here. A worker that failed still fails the test.
    """
    waits = [w.wait() for w in list(app.workers)]
    if not waits:
        return
    results = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, WorkerCancelled | asyncio.CancelledError):
            raise r


async def settle(pilot: Pilot) -> None:
    """Let messages, workers and the messages they post run to the end."""
    for _ in range(4):
        await pilot.pause()
        await workers_done(pilot.app)
    await pilot.pause()
