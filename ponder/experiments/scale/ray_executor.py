"""The Ray executor: a sweep's shards run as Ray tasks; the driver merges their runs as they arrive.

Each shard is a Ray generator task (`run_shard`) on some node of the cluster. It runs into a
temporary store of its own and yields each finished task as the bytes of a small store
(`TaskDelta`), through Ray's object store; no filesystem is shared. The driver merges each
one into its store (one transaction per task), so its store only ever holds whole tasks, and
reports progress over all shards.

Failures: a shard whose worker or node dies is run again (`retries` times) without the tasks
the driver already has; an interrupted or crashed driver is resumed by running the same sweep
again (`--resume EXP`, or the same command: the sweep's id is made from its config), which
sends the workers only the tasks its store does not have finished. An error in the sweep
itself (a bad option, a missing API key variable on a worker) stops it with one message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from ponder._util.text import safe_text
from ponder.backends.config import make_backend
from ponder.errors import ConfigError, PonderError
from ponder.experiments.bench import Progress, ProgressCallback
from ponder.experiments.results import Experiment
from ponder.experiments.scale.ray_reaper import ClusterReaper
from ponder.experiments.scale.shard_job import ShardJob, TaskDelta, api_key_env, run_shard
from ponder.experiments.sharding import shard_slice, sweep_id
from ponder.experiments.sweeps import plan_sweep, sharded_config
from ponder.experiments.task_results import TaskResult, result_of_run
from ponder.traces.store import TraceStore

Notice = Callable[[str], None]

# how long a Ray address gets to accept a connection before it is called unreachable
_CONNECT_S = 5.0
# how often the driver looks at its shards (and at the idle deadline)
_POLL_S = 0.5


class RaySettings(BaseModel):
    """How a sweep runs on Ray.

    address: an existing cluster (`HOST:PORT` of its head, `ray://HOST:PORT` for Ray Client,
        or `auto` for the one `ray start` runs on this machine); None starts a new local
        cluster for the sweep (and stops it after).
    shards: how many shards (Ray tasks); None: one per CPU of the cluster, at most one per task.
    retries: how many times a shard whose worker dies is run again.
    idle_timeout_s: the longest the driver waits for any shard to finish a task.
    connect_timeout_s: the longest joining the cluster at `address` may take.
    """

    address: str | None = None
    shards: int | None = Field(default=None, ge=1)
    retries: int = Field(default=2, ge=0)
    idle_timeout_s: float = Field(default=1800.0, gt=0)
    connect_timeout_s: float = Field(default=60.0, gt=0)


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'ponder[ray]'") from None
    return ray


# joins the cluster at argv[1] in a process of its own, so that a deadline can stop it
_PROBE = (
    "import logging, sys, ray; "
    "ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR); "
    "print(int(ray.cluster_resources().get('CPU', 0)))"
)


def _unreachable(address: str, reason: str) -> ConfigError:
    return ConfigError(
        f"no Ray cluster answers at {address} ({reason}); start one with `ray start --head` "
        f"or leave out --ray-address to run a local one"
    )


def _check_reachable(address: str, deadline_s: float) -> None:
    """A `ConfigError` unless a Ray cluster answers at the address within the deadline.

    Ray itself retries for minutes, printing as it goes: the address is first tried with a
    plain connection, then joined by a separate process that the deadline kills.
    """
    if address != "auto":
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if not host or port is None:
            raise ConfigError(f"--ray-address {address!r}: write it as HOST:PORT (the head's GCS port, e.g. HOST:6379)")
        try:
            with socket.create_connection((host, port), timeout=min(_CONNECT_S, deadline_s)):
                pass
        except OSError as e:
            raise _unreachable(address, e.strerror or type(e).__name__) from None
    env = {**os.environ, "RAY_BACKEND_LOG_LEVEL": "error"}
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, address], capture_output=True, text=True, timeout=deadline_s, env=env
        )
    except subprocess.TimeoutExpired:
        raise _unreachable(address, f"no answer within {deadline_s:g} s: is it a Ray head's address?") from None
    if probe.returncode != 0:
        raise _unreachable(address, _probe_reason(probe.stderr, probe.returncode))


def _probe_reason(stderr: str, returncode: int) -> str:
    """Why joining failed, from the probe's traceback: Ray's own root error (an auth token, say), else the last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    causes = [ln for ln in lines if ln.startswith("ray.exceptions.")]
    reason = (causes or lines or [f"exit code {returncode}"])[0 if causes else -1]
    reason = reason.removeprefix("ray.exceptions.")
    return safe_text(reason if len(reason) <= 300 else reason[:299] + "…")


class RayExecutor:
    """A connection to a Ray cluster for running sweeps; a context manager.

    Entering connects (or starts a local cluster; a Ray already initialized in this process, as
    in a notebook or a test, is used as it is); leaving disconnects what it connected.
    """

    def __init__(self, settings: RaySettings | None = None, *, notice: Notice | None = None) -> None:
        self.settings = settings or RaySettings()
        self.notice: Notice = notice or (lambda _message: None)
        self._ray: ModuleType | None = None
        self._started = False
        self._reaper: ClusterReaper | None = None

    def __enter__(self) -> RayExecutor:
        ray = _import_ray()
        address = self.settings.address
        if not ray.is_initialized():
            if address:
                _check_reachable(address, self.settings.connect_timeout_s)
            # a cluster started here is stopped when this process ends, even by a kill -9
            self._reaper = None if address else ClusterReaper()
            try:
                with self._reaper.marking() if self._reaper is not None else contextlib.nullcontext():
                    ray.init(
                        address=address or "local",  # a new cluster, never one found running on this machine
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                        configure_logging=True,
                    )
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
                self._close_reaper()
                where = f"at {address}" if address else "on this machine"
                raise ConfigError(f"cannot start or join a Ray cluster {where}: {e}") from None
            self._started = True
        self._ray = ray
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
        self._started = False
        self._close_reaper()

    def _close_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.close()  # the agents `ray.shutdown()` leaves behind go too
            self._reaper = None

    @property
    def ray(self) -> ModuleType:
        """The connected `ray` module."""
        if self._ray is None:
            raise RuntimeError("use RayExecutor as a context manager (with RayExecutor() as ex: ...)")
        return self._ray

    def cluster_cpus(self) -> int:
        """The CPUs the cluster offers (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def run(
        self,
        job: ShardJob,
        store: TraceStore,
        *,
        resume: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Experiment:
        """Run the sweep `job` describes (its `shard`/`shards`/`skip` are set here) into `store`.

        resume: the id of the experiment this sweep continues (it must be this sweep).
        Returns the experiment read back from `store`, like `bench`.
        """
        return _Sweep(self, job, store, progress).run(resume)


class _ShardState(BaseModel):
    index: int
    tasks: list[str]
    attempts: int = 0
    failure: str | None = None


class _Sweep:
    """One sweep on Ray: plan, submit the shards, merge what arrives, run failed shards again."""

    def __init__(self, ex: RayExecutor, job: ShardJob, store: TraceStore, progress: ProgressCallback | None) -> None:
        self.ex, self.ray, self.store = ex, ex.ray, store
        self.progress = progress
        # the driver plans exactly as every worker does, to know the sweep's id and its tasks
        backend = make_backend(job.backend, env={})
        base = plan_sweep(
            job.agent,
            job.env,
            backend,
            n=job.n,
            seed=job.seed,
            concurrency=job.concurrency,
            config=job.agent_config,
            env_config=job.env_config,
            budget=job.budget,
        )
        n_shards = ex.settings.shards or min(ex.cluster_cpus(), len(base.tasks))
        key = api_key_env(job.backend)
        has_key = job.driver_has_key or bool(key and os.environ.get(key))
        self.job = job.model_copy(update={"shards": n_shards, "driver_has_key": has_key})
        self.env = base.env
        self.exp_config = sharded_config(base.config, n_shards)
        self.exp_id = sweep_id(self.exp_config)
        self.name = job.name or base.default_name
        self.shards = {
            i: _ShardState(index=i, tasks=[t.id for t in shard_slice(base.tasks, (i, n_shards))])
            for i in range(1, n_shards + 1)
        }
        self.running: dict[Any, int] = {}
        self.done = self.correct = self.errors = self.tokens = 0
        self.total = 0

    # -- the store's view --------------------------------------------------------------
    def finished(self) -> set[str]:
        """The tasks of this sweep the store has a finished (`ok`) run of."""
        try:
            self.store.get_experiment(self.exp_id)
        except PonderError:
            return set()
        runs = self.store.list_runs(experiment_id=self.exp_id, limit=1_000_000, status="ok")
        return {str(r.task.get("id")) for r in runs}

    def merge(self, delta: TaskDelta, folder: Path) -> TaskResult:
        data = delta.database()
        if data is None:
            return TaskResult(task_id=delta.task_id, run_id=delta.run_id, status="error", error=delta.error)
        path = folder / f"{delta.run_id}.db"
        path.write_bytes(data)
        try:
            with TraceStore(path, readonly=True) as src:
                self.store.merge_from(src)
        finally:
            path.unlink(missing_ok=True)
        return result_of_run(self.store, delta.run_id, env=self.env, error=delta.error)

    # -- running -------------------------------------------------------------------------
    def submit(self, shard: _ShardState, finished: set[str]) -> None:
        todo = [t for t in shard.tasks if t not in finished]
        if not todo:
            return
        shard.attempts += 1
        job = self.job.model_copy(update={"shard": shard.index, "skip": sorted(finished & set(shard.tasks))})
        remote = self.ray.remote(run_shard).options(num_cpus=1, max_retries=0, name=f"ponder-shard-{shard.index}")
        self.running[remote.remote(job)] = shard.index

    def report(self, result: TaskResult | None) -> None:
        if result is not None:
            self.done += 1
            self.correct += bool(result.correct)
            self.errors += result.status != "ok"
            self.tokens += result.prompt_tokens + result.completion_tokens
        if self.progress is not None:
            p = Progress(self.done, self.total, self.correct, self.errors, self.tokens, result, self.exp_id)
            self.progress(p)

    def stop_all(self) -> None:
        for gen in list(self.running):
            with contextlib.suppress(Exception):
                self.ray.cancel(gen, force=True)
        self.running.clear()

    def failed(self, index: int, error: BaseException) -> None:
        """A shard's worker, node or object was lost: run it again without what arrived."""
        shard = self.shards[index]
        reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if shard.attempts > self.ex.settings.retries:
            shard.failure = reason
            self.ex.notice(f"shard {index}/{len(self.shards)} failed {shard.attempts} times ({reason}); giving up")
            return
        finished = self.finished()
        left = len([t for t in shard.tasks if t not in finished])
        self.ex.notice(
            f"shard {index}/{len(self.shards)} was lost ({reason}); running its {left} unfinished tasks again"
        )
        self.submit(shard, finished)

    def run(self, resume: str | None) -> Experiment:
        if resume is not None and resume != self.exp_id:
            raise ConfigError(
                f"experiment {resume} is not this sweep on Ray (its id would be {self.exp_id}); "
                f"resume it with the same options, --shards included"
            )
        finished = self.finished()
        self.total = sum(len([t for t in s.tasks if t not in finished]) for s in self.shards.values())
        try:
            self.store.get_experiment(self.exp_id)
        except PonderError:
            self.store.create_experiment(self.name, self.exp_config, exp_id=self.exp_id)
        self.report(None)
        for shard in self.shards.values():
            self.submit(shard, finished)
        try:
            with tempfile.TemporaryDirectory(prefix="ponder-ray-") as tmp:
                self.loop(Path(tmp))
        except BaseException:
            self.stop_all()
            raise
        lost = [s for s in self.shards.values() if s.failure]
        if lost:
            which = ", ".join(f"{s.index}/{len(self.shards)} ({s.failure})" for s in lost)
            raise PonderError(
                f"shard {which} did not finish; the tasks that did are in the store: "
                f"finish the sweep with --resume {self.exp_id}"
            )
        return Experiment.load(self.store, self.exp_id)

    def loop(self, folder: Path) -> None:
        ray = self.ray
        last_news = time.monotonic()
        while self.running:
            ready, _ = ray.wait(list(self.running), num_returns=1, timeout=_POLL_S)
            if not ready:
                idle = time.monotonic() - last_news
                if idle > self.ex.settings.idle_timeout_s:
                    raise PonderError(
                        f"no shard finished a task for {idle:.0f} s; stopped. "
                        f"Finish the sweep with --resume {self.exp_id}"
                    )
                continue
            last_news = time.monotonic()
            for gen in ready:
                index = self.running[gen]
                try:
                    delta = ray.get(next(gen), timeout=self.ex.settings.idle_timeout_s)
                except StopIteration:
                    del self.running[gen]
                    continue
                except ray.exceptions.RayTaskError as e:
                    cause = e.cause if isinstance(e.cause, BaseException) else e
                    message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
                    raise PonderError(f"shard {index}/{len(self.shards)} stopped: {message}") from None
                except ray.exceptions.RayError as e:  # the worker, its node or the object was lost
                    del self.running[gen]
                    self.failed(index, e)
                    continue
                self.report(self.merge(delta, folder))
