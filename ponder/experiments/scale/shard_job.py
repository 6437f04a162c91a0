"""One shard of a sweep as a job a remote worker runs: what it needs to know, and what it sends back.

A worker shares no filesystem with the driver. It runs its shard into a private temporary
store and, as each task finishes, sends that task's runs back as the bytes of a small SQLite
store of their own (`TaskDelta`), which the driver merges (`TraceStore.merge_from`). So a
worker that dies loses only the tasks it had not finished yet.

The job carries the backend's settings (`BackendConfig`), never an API key: only the name of
the environment variable the worker reads it from.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import socket
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ponder import registry
from ponder.backends.base import Backend
from ponder.backends.config import BackendConfig, make_backend
from ponder.errors import ConfigError
from ponder.runtime.budget import Budget
from ponder.traces.store import TraceStore

# how long a worker waits for its next finished task before it checks that its sweep still runs
_POLL_S = 1.0
# how long a cancelled shard's sweep gets to close its runs
_STOP_S = 10.0
# a shard's temporary folder, and the file in it naming the worker process that owns it
_PREFIX = "ponder-shard-"
_OWNER = "owner.pid"


class ShardJob(BaseModel):
    """Everything a worker needs to run shard `shard` of `shards` of a sweep (plain data, no secret)."""

    agent: str
    agent_config: dict[str, Any] = Field(default_factory=dict)
    env: str
    env_config: dict[str, Any] = Field(default_factory=dict)
    backend: BackendConfig
    n: int | None = None
    seed: int = 0
    concurrency: int = 8
    budget: Budget | None = None
    name: str | None = None
    shard: int = Field(default=1, ge=1)
    shards: int = Field(default=1, ge=1)
    skip: list[str] = Field(default_factory=list)
    driver_has_key: bool = False  # whether the API key variable was set where the sweep started


class TaskDelta(BaseModel):
    """One finished task, sent from a worker to the driver.

    store: a SQLite store holding the task's run with its child runs, rows and experiment,
        zlib-compressed (an empty store's schema alone is ~100 KB); None when the run never
        started: then `error` says why. `database()` gives the store's bytes.
    """

    shard: int
    task_id: str
    run_id: str
    store: bytes | None = None
    error: str | None = None
    host: str = ""

    def database(self) -> bytes | None:
        """The bytes of the task's SQLite store (None if the run never started)."""
        return None if self.store is None else zlib.decompress(self.store)


def api_key_env(cfg: BackendConfig) -> str | None:
    """The name of the environment variable the backend reads its API key from (None: it takes none)."""
    if cfg.api_key_env:
        return cfg.api_key_env
    field = registry.backend_entry(cfg.backend).options.model_fields.get("api_key_env")
    return field.default if field is not None and isinstance(field.default, str) else None


def check_api_key_env(job: ShardJob, environ: Mapping[str, str]) -> None:
    """Refuse to run where the API key variable is missing but needed.

    Needed: named explicitly (`--api-key-env`), or set on the driver (`job.driver_has_key`), so
    that a worker never sends requests without the key its driver had.
    """
    name = api_key_env(job.backend)
    if name and not environ.get(name) and (job.backend.api_key_env or job.driver_has_key):
        raise ConfigError(
            f"the worker on {socket.gethostname()} has no environment variable {name} "
            f"(the API key's); set it on every node of the cluster"
        )


def _delta_bytes(shard_store: TraceStore, run_id: str, folder: Path) -> bytes | None:
    """A new store holding `run_id` (with its child runs) copied from `shard_store`, as compressed bytes.

    Each starts as a copy of an empty store made once per shard (`folder/empty.db`): making the
    schema afresh for every task costs four times as much.
    """
    empty = folder / "empty.db"
    if not empty.exists():
        TraceStore(empty).close()
    path = folder / f"delta-{run_id}.db"
    try:
        shutil.copyfile(empty, path)
        with TraceStore(path) as delta:
            if delta.merge_from(shard_store, runs=[run_id]).runs == 0:
                return None
        return zlib.compress(path.read_bytes(), 1)
    finally:
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_orphans() -> None:
    """Remove the folders of shards whose worker was killed (their `finally` never ran) on this machine."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            pid = int((folder / _OWNER).read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # being made right now, or not ours
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def run_shard(job: ShardJob) -> Iterator[TaskDelta]:
    """Run one shard of a sweep into a temporary store; yield each task as it finishes.

    What a Ray worker runs (`ponder.experiments.scale.ray_executor`), and plain Python: it runs the
    sweep's `abench` for this shard in a thread of its own and hands each finished task back.
    An error that stops the whole shard (a bad option, a missing key) is raised.
    """
    check_api_key_env(job, os.environ)
    backend = make_backend(job.backend)
    host = socket.gethostname()
    out: queue.Queue[TaskDelta | BaseException | None] = queue.Queue()
    _remove_orphans()
    with tempfile.TemporaryDirectory(prefix=_PREFIX) as tmp:
        folder = Path(tmp)
        (folder / _OWNER).write_text(str(os.getpid()), encoding="ascii")
        store = TraceStore(folder / "shard.db")

        def finished(p: Any) -> None:
            # runs on the shard's event loop, right after a task's run is stored
            if p.last is None:
                return
            r = p.last
            try:
                data = _delta_bytes(store, r.run_id, folder)
            except Exception as e:  # a delta that cannot be made is reported, the shard goes on
                data, r = None, r.model_copy(update={"error": f"could not ship the run: {type(e).__name__}: {e}"})
            out.put(
                TaskDelta(shard=job.shard, task_id=r.task_id, run_id=r.run_id, store=data, error=r.error, host=host)
            )

        thread, running = _start_sweep(job, backend, store, finished, out)
        try:
            while True:
                try:
                    item = out.get(timeout=_POLL_S)
                except queue.Empty:
                    if not thread.is_alive() and out.empty():
                        return
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if thread.is_alive() and "task" in running:  # stopped early (cancelled): stop the sweep too
                running["loop"].call_soon_threadsafe(running["task"].cancel)
            thread.join(timeout=_STOP_S)
            store.close()


def _start_sweep(
    job: ShardJob,
    backend: Backend,
    store: TraceStore,
    progress: Callable[[Any], None],
    out: queue.Queue[TaskDelta | BaseException | None],
) -> tuple[threading.Thread, dict[str, Any]]:
    """Start the shard's `abench` in a thread of its own, which puts what stops it (an exception)
    and then None on `out`; the dict gets the sweep's event loop and task once it runs."""
    from ponder.experiments.bench import abench

    running: dict[str, Any] = {}

    async def main() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        await abench(
            job.agent,
            job.env,
            backend=backend,
            n=job.n,
            concurrency=job.concurrency,
            store=store,
            seed=job.seed,
            config=job.agent_config,
            env_config=job.env_config,
            budget=job.budget,
            name=job.name,
            shard=(job.shard, job.shards),
            skip=set(job.skip),
            progress=progress,
        )

    def sweep() -> None:
        try:
            asyncio.run(main())
        except BaseException as e:  # handed to the generator, which raises it to the driver
            out.put(e)
        finally:
            out.put(None)

    thread = threading.Thread(target=sweep, name=f"ponder-shard-{job.shard}", daemon=True)
    thread.start()
    return thread, running
