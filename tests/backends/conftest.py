"""Backend tests start from fresh shared concurrency limiters (they are per process, like the servers they track)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ponder.backends.concurrency import reset_shared_limiters


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    reset_shared_limiters()
    yield
    reset_shared_limiters()
