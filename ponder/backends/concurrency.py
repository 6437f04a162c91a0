"""How many requests an HTTP backend keeps in flight: an adaptive AIMD limit, or a fixed one.

`AIMD` is the controller (pure arithmetic, no clock): it starts high, halves on an overload
signal (429, 503, a connection error) and grows by one per window of successes, like TCP's
congestion window. `ConcurrencyLimiter` admits requests under the limit; with an `AIMD` it is
shared by every backend in the process that talks to the same server (`shared_limiter`),
so concurrent runs back off together. A fixed `concurrency` gives a limiter without AIMD.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


class AIMD:
    """Additive-increase / multiplicative-decrease limit.

    initial: the starting limit (high: a server that copes is never throttled). minimum,
    maximum: bounds. increase: added per window of `limit` successes (so +1 per round of
    requests). decrease: the factor applied on overload.

    Overload signals are counted once per epoch: every request admitted before a decrease
    carries the old epoch, and its 429 does not halve the limit again (a burst of rejections
    from one over-full round is one signal, not twenty).
    """

    def __init__(
        self,
        initial: int = 64,
        *,
        minimum: int = 1,
        maximum: int = 256,
        increase: float = 1.0,
        decrease: float = 0.5,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum or not 0 < decrease < 1 or increase <= 0:
            raise ValueError("AIMD needs 1 <= minimum <= initial <= maximum, 0 < decrease < 1 and increase > 0")
        self._limit = float(initial)
        self.minimum = minimum
        self.maximum = maximum
        self.increase = increase
        self.decrease = decrease
        self.epoch = 0
        self.decreases = 0
        self.lowest = initial

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(self.minimum, int(self._limit))

    def on_success(self) -> None:
        """A request succeeded: grow by `increase / limit` (one per window of successes)."""
        self._limit = min(float(self.maximum), self._limit + self.increase / self.limit)

    def on_overload(self, epoch: int) -> bool:
        """The server said it is overloaded to a request admitted in `epoch`; True if the limit was cut."""
        if epoch != self.epoch:
            return False
        self._limit = max(float(self.minimum), self._limit * self.decrease)
        self.epoch += 1
        self.decreases += 1
        self.lowest = min(self.lowest, self.limit)
        return True


@dataclass(frozen=True)
class Slot:
    """An admitted request: the epoch it was admitted in, the limit in force then, and how many
    places it holds (a request the server answers with several choices at once holds one each)."""

    epoch: int
    limit: int
    weight: int = 1


@dataclass
class _Waiter:
    fut: asyncio.Future[None]
    weight: int
    granted: Slot | None = None


class LimiterStats(BaseModel):
    """What a limiter did (for a run's stats and the scheduling benchmark)."""

    adaptive: bool
    limit: int
    lowest_limit: int
    peak_in_flight: int
    overloads: int
    decreases: int


Sleep = Callable[[float], Awaitable[Any]]


class ConcurrencyLimiter:
    """Admits at most `limit` requests at once; with `aimd`, the limit adapts to the server's signals.

    Usable from several event loops and threads (a process may run `asyncio.run` more than once
    with one backend): waiters are futures of their own loop, woken thread-safely.
    """

    def __init__(self, *, fixed: int | None = None, aimd: AIMD | None = None) -> None:
        if (fixed is None) == (aimd is None):
            raise ValueError("give a fixed limit or an AIMD controller")
        self.fixed = fixed
        self.aimd = aimd
        self.in_flight = 0
        self.peak = 0
        self.overloads = 0
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._waiters: collections.deque[_Waiter] = collections.deque()

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return self.aimd.limit if self.aimd is not None else int(self.fixed or 1)

    def _epoch(self) -> int:
        return self.aimd.epoch if self.aimd is not None else 0

    async def acquire(self, sleep: Sleep = asyncio.sleep, *, weight: int = 1) -> Slot:
        """Wait for a place (and for any Retry-After pause the server asked of everyone).

        weight: places the request holds (at most the limit); waiters are admitted in the order
        they came, so a request that needs several places is not passed by one-place requests.
        """
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            await sleep(wait)
        with self._lock:
            w = max(1, min(weight, self.limit))
            if not self._waiters and self.in_flight + w <= self.limit:
                return self._take(w)
            waiter = _Waiter(asyncio.get_running_loop().create_future(), max(1, weight))
            self._waiters.append(waiter)
        try:
            await waiter.fut
        except asyncio.CancelledError:
            with self._lock:
                if waiter.granted is not None:  # admitted, but the caller left: give the places on
                    self.in_flight -= waiter.granted.weight
                    self._grant()
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
            raise
        assert waiter.granted is not None
        return waiter.granted

    def _take(self, weight: int) -> Slot:
        # called with the lock held
        self.in_flight += weight
        self.peak = max(self.peak, self.in_flight)
        return Slot(self._epoch(), self.limit, weight)

    def _grant(self) -> None:
        # called with the lock held: admit waiters, first come first served, while their places are free
        while self._waiters:
            head = self._waiters[0]
            w = max(1, min(head.weight, self.limit))
            if self.in_flight + w > self.limit:
                return
            self._waiters.popleft()
            head.granted = self._take(w)
            head.fut.get_loop().call_soon_threadsafe(_resolve, head.fut)

    def release(
        self, slot: Slot, *, overloaded: bool = False, ok: bool = False, retry_after: float | None = None
    ) -> None:
        """Give the places back and tell the controller how the request went.

        overloaded: the server signalled overload (429, 503, refused connection); ok: it answered.
        retry_after: seconds the server asked for; new requests wait that long (adaptive mode).
        """
        with self._lock:
            self.in_flight -= slot.weight
            if self.aimd is not None:
                if overloaded:
                    self.overloads += 1
                    self.aimd.on_overload(slot.epoch)
                    if retry_after:
                        self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
                elif ok:
                    self.aimd.on_success()
            self._grant()

    def stats(self) -> LimiterStats:
        """The limiter's figures so far."""
        with self._lock:
            return LimiterStats(
                adaptive=self.aimd is not None,
                limit=self.limit,
                lowest_limit=self.aimd.lowest if self.aimd is not None else self.limit,
                peak_in_flight=self.peak,
                overloads=self.overloads,
                decreases=self.aimd.decreases if self.aimd is not None else 0,
            )


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


_shared: dict[str, ConcurrencyLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(server: str, factory: Callable[[], AIMD] = AIMD) -> ConcurrencyLimiter:
    """The adaptive limiter of `server` (its base URL), shared by every backend of this process."""
    with _shared_lock:
        limiter = _shared.get(server)
        if limiter is None:
            limiter = _shared[server] = ConcurrencyLimiter(aimd=factory())
        return limiter


def reset_shared_limiters() -> None:
    """Forget every shared limiter (tests; a new process starts empty anyway)."""
    with _shared_lock:
        _shared.clear()


def summarize_limits(attempts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A run's concurrency figures from its recorded attempts: limits seen and overloads met."""
    seen = list(attempts)
    limits = [a["concurrency"] for a in seen if a.get("concurrency")]
    statuses = [a.get("status") for a in seen]
    return {
        "attempts": len(statuses),
        "overloaded": sum(1 for s in statuses if s in OVERLOAD_STATUSES),
        "min_limit": min(limits, default=None),
        "max_limit": max(limits, default=None),
    }


OVERLOAD_STATUSES = frozenset({429, 503, 529})
"""HTTP statuses that mean "too many requests": the adaptive limit halves on them."""
