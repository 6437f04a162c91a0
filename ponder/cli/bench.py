"""`ponder bench`: a strategy over an environment's tasks, here or on a Ray cluster, with a progress bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import (
    _BUDGET_KEYS,
    SQLITE_INT_MAX,
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    DbOpt,
    EnvSetOpt,
    JsonOpt,
    ModelOpt,
    err,
    handles_errors,
    make_budget,
    open_store,
    print_json,
)
from ponder.cli._experiment_view import _print_experiment
from ponder.cli.otlp import OtlpOpt, _live_exporter
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore

if TYPE_CHECKING:  # the command imports these when it runs
    from ponder.backends.config import BackendConfig
    from ponder.experiments.results import Experiment

_EXECUTORS = ("local", "ray")

EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Environment (registered name).")]
AgentOpt = Annotated[str | None, typer.Option("--agent", "-a", help="Strategy (see `ponder agents`).")]
TasksOpt = Annotated[
    int | None, typer.Option("--n", "-n", help="Run the first N tasks (default: all).", max=SQLITE_INT_MAX)
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", "-c", help="Tasks run at once (per shard on Ray).", min=1, max=10_000)
]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Agent option key=value (repeatable).")]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Seed of every run (default 0).", min=0, max=SQLITE_INT_MAX)
]
ResumeOpt = Annotated[
    str | None, typer.Option("--resume", help="Experiment id: rerun only its tasks that did not finish.")
]
ShardOpt = Annotated[
    str | None,
    typer.Option("--shard", help="I/N: run only the I-th of N fixed slices of the tasks (then `ponder merge`)."),
]
ExecutorOpt = Annotated[
    str,
    typer.Option("--executor", help="Where tasks run: local (this process) or ray (shards as Ray tasks; extra `ray`)."),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="With --executor ray: the cluster's head HOST:PORT (default: start one)."),
]
ShardsOpt = Annotated[
    int | None,
    typer.Option("--shards", help="With --executor ray: how many shards (default: one per CPU).", min=1),
]
TaskMaxCallsOpt = Annotated[
    int | None, typer.Option("--max-calls", help="Budget per task: most backend calls.", min=0, max=SQLITE_INT_MAX)
]
TaskMaxTokensOpt = Annotated[
    int | None, typer.Option("--max-tokens", help="Budget per task: most tokens.", min=0, max=SQLITE_INT_MAX)
]
TaskTimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Budget per task: wall seconds.")]


@handles_errors
def bench(
    env: EnvOpt = None,
    agent: AgentOpt = None,
    n: TasksOpt = None,
    concurrency: ConcurrencyOpt = 8,
    set_: SetOpt = None,
    env_set: EnvSetOpt = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    seed: SeedOpt = None,
    resume: ResumeOpt = None,
    shard: ShardOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    shards: ShardsOpt = None,
    max_calls: TaskMaxCallsOpt = None,
    max_tokens: TaskMaxTokensOpt = None,
    timeout: TaskTimeoutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    otlp: OtlpOpt = None,
) -> None:
    """Run a strategy over an environment's tasks and summarize accuracy, tokens, cost and latency.

    --max-calls/--max-tokens give every task the same budget, so strategies compare at matched
    compute (a task that runs out is an error, counted); `ponder compare` and `ponder plot` then
    set accuracy against tokens. --executor ray runs the sweep's shards on a Ray cluster and
    merges their runs into --db as they arrive (docs/scaling.md).
    """
    from ponder.backends.config import parse_settings, pop_seed, resolve_backend_config
    from ponder.cli._interrupt import Interrupted, leave_now_if_threads_linger

    the_shard = _checked_flags(executor, shard, ray_address, shards, n)
    on_ray = executor == "ray"
    budget = make_budget(max_calls, max_tokens, timeout)
    agent_config = parse_settings(set_ or [])
    seed = pop_seed(agent_config, seed, agent)
    spec = _BenchSpec(
        agent=agent,
        env=env,
        agent_config=agent_config,
        env_config=parse_settings(env_set or []),
        seed=seed,
        n=n,
        shards=shards,
        backend=backend,
        model=model,
        base_url=base_url,
        budget=budget,
        budget_given=not (max_calls is None and max_tokens is None and timeout is None),
    )
    # on Ray, join the cluster before the store is touched: an address that does not answer writes nothing
    store: TraceStore | None = None
    try:
        with contextlib.ExitStack() as stack:
            ray_ex = stack.enter_context(_ray_executor(ray_address, shards)) if on_ray and resume is None else None
            store = open_store(db)
            if resume is not None:
                spec = spec.resumed(store.get_experiment(resume)["config"])
                if on_ray:
                    ray_ex = stack.enter_context(_ray_executor(ray_address, spec.shards))
            if not spec.env or not spec.agent:
                raise ConfigError("give --env NAME and --agent NAME (see `ponder agents`), or --resume EXP_ID")
            cfg = resolve_backend_config(
                backend=spec.backend, model=spec.model, base_url=base_url, api_key_env=api_key_env
            )
            exp = _run_sweep(
                spec, cfg, store, ray_ex, otlp, concurrency=concurrency, resume=resume, shard=the_shard, quiet=as_json
            )
    except Interrupted as e:  # the bar is stopped and the exporter closed; every run is recorded
        if store is not None:
            store.close()
        leave_now_if_threads_linger(e.at)
        raise typer.Exit(130) from None
    if as_json:
        print_json(exp.to_dict())
        return
    _print_experiment(exp)


def _checked_flags(
    executor: str, shard: str | None, ray_address: str | None, shards: int | None, n: int | None
) -> tuple[int, int] | None:
    """The --shard slice; a `ConfigError` for flags that do not go together or an --n below 1."""
    from ponder.experiments.sharding import parse_shard

    if executor not in _EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: choose one of {', '.join(_EXECUTORS)}")
    if executor == "ray" and shard is not None:
        raise ConfigError("--shard runs one slice in this process; with --executor ray give --shards N instead")
    if executor != "ray" and (ray_address is not None or shards is not None):
        raise ConfigError("--ray-address and --shards go with --executor ray")
    the_shard = None if shard is None else parse_shard(shard)
    if n is not None and n <= 0:
        raise ConfigError(f"--n must be at least 1 (got {n}); leave it out to run every task")
    return the_shard


@dataclass(frozen=True)
class _BenchSpec:
    """The sweep the flags describe (with --resume: the experiment's, the flags given overriding it)."""

    agent: str | None
    env: str | None
    agent_config: dict[str, Any]
    env_config: dict[str, Any]
    seed: int | None
    n: int | None
    shards: int | None
    backend: str | None
    model: str | None
    base_url: str | None
    budget: Any
    budget_given: bool

    def resumed(self, prev: dict[str, Any]) -> _BenchSpec:
        """This sweep completed from the config of the experiment it resumes."""
        budget = self.budget
        if prev.get("budget") and not self.budget_given:
            budget = make_budget(**{k: prev["budget"].get(v) for k, v in _BUDGET_KEYS.items()})
        backend, model = self.backend, self.model
        if not (self.backend or self.model or self.base_url):
            backend, model = prev.get("backend"), prev.get("model")
        return replace(
            self,
            agent=self.agent or prev.get("agent"),
            env=self.env or prev.get("env"),
            agent_config={**(prev.get("agent_config") or {}), **self.agent_config},
            env_config={**(prev.get("env_config") or {}), **self.env_config},
            seed=prev.get("seed", 0) if self.seed is None else self.seed,
            n=prev.get("n") if self.n is None else self.n,
            shards=prev.get("shards") if self.shards is None else self.shards,
            backend=backend,
            model=model,
            budget=budget,
        )


def _run_sweep(
    spec: _BenchSpec,
    cfg: BackendConfig,
    store: TraceStore,
    ray_ex: Any,
    otlp: str | None,
    *,
    concurrency: int,
    resume: str | None,
    shard: tuple[int, int] | None,
    quiet: bool,
) -> Experiment:
    """Run the sweep under a progress bar: on the Ray cluster `ray_ex` joined, else in this process."""
    from ponder.backends.config import make_backend
    from ponder.cli._interrupt import run_interruptible
    from ponder.experiments.bench import abench

    assert spec.agent is not None and spec.env is not None  # bench checked them
    the_budget = None if spec.budget == make_budget(None, None, None) else spec.budget
    exporter = _live_exporter(otlp)
    with _bench_progress(spec.agent, spec.env, store, exporter, quiet=quiet) as (bar, on_progress, sweep):
        if ray_ex is not None:
            from ponder.experiments.scale import ShardJob

            ray_ex.notice = lambda line: bar.console.print(Text(safe_text(line), style="yellow"))
            job = ShardJob(
                agent=spec.agent,
                agent_config=spec.agent_config,
                env=spec.env,
                env_config=spec.env_config,
                backend=cfg,
                n=spec.n,
                seed=spec.seed or 0,
                concurrency=concurrency,
                budget=the_budget,
            )
            exp: Experiment = _interruptible(
                bar, sweep, lambda: ray_ex.run(job, store, resume=resume, progress=on_progress)
            )
            return exp
        coro = abench(
            spec.agent,
            spec.env,
            backend=make_backend(cfg),
            n=spec.n,
            concurrency=concurrency,
            store=store,
            seed=spec.seed or 0,
            config=spec.agent_config,
            env_config=spec.env_config,
            resume=resume,
            progress=on_progress,
            shard=shard,
            budget=the_budget,
            heartbeat_s=0.5,
        )
        result: Experiment = run_interruptible(coro, lambda: bar.console.print(_interrupted_line(sweep)))
        return result


def _ray_executor(address: str | None, shards: int | None) -> Any:
    """The Ray executor the flags describe (joined on entering; a one-line error if it cannot be)."""
    from ponder.experiments.scale import RayExecutor, RaySettings

    return RayExecutor(RaySettings(address=address, shards=shards))


@contextlib.contextmanager
def _bench_progress(
    agent: str, env: str, store: TraceStore, exporter: Any, *, quiet: bool
) -> Iterator[tuple[Any, Callable[[Any], None], _Sweep]]:
    """One progress bar over the sweep; its callback also sends each finished run to the live exporter."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=10),
        MofNCompleteColumn(),
        TextColumn(
            "{task.fields[running]} running · {task.fields[calls]} calls · acc {task.fields[acc]} · "
            "{task.fields[tokens]} tok · {task.fields[errors]} err"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, disable=quiet or not err.is_terminal, transient=False) as bar:
        tid = bar.add_task(agent, total=None, acc="–", tokens=0, errors=0, running=0, calls=0)
        sweep = _Sweep()

        def on_progress(p: Any) -> None:
            if sweep.experiment_id is None:
                sweep.experiment_id = p.experiment_id
                bar.console.print(Text(f"experiment {p.experiment_id}: {agent} on {env}", style="dim"))
            sweep.running = p.running
            acc = "–" if p.accuracy is None else f"{p.accuracy:.2f}"
            bar.update(
                tid,
                total=p.total,
                completed=p.done,
                acc=acc,
                tokens=p.tokens,
                errors=p.errors,
                running=p.running,
                calls=p.calls,
            )
            if exporter is not None and p.last is not None:
                exporter.run_finished(store, p.last.run_id)  # sent now, in the background: not after the sweep

        try:
            yield bar, on_progress, sweep
        finally:
            if exporter is not None:
                exporter.close()


@dataclass
class _Sweep:
    """What the progress callback has learnt of the sweep: its experiment id and the tasks in flight."""

    experiment_id: str | None = None
    running: int = 0


def _interrupted_line(sweep: _Sweep) -> Text:
    """What the first Ctrl+C prints at once: what stops, and how to finish the experiment."""
    if sweep.experiment_id is None:
        return Text("interrupted", style="bold yellow")
    flight = f"; cancelling {sweep.running} task{'s' * (sweep.running != 1)} in flight" if sweep.running else ""
    return Text(
        f"interrupted{flight}; finish it with: ponder bench --resume {sweep.experiment_id}", style="bold yellow"
    )


def _interruptible(bar: Any, sweep: _Sweep, go: Callable[[], Any]) -> Any:
    """`go()` (the Ray executor's driver); on Ctrl-C, stop the bar and say how to finish the experiment (exit 130)."""
    try:
        return go()
    except KeyboardInterrupt:
        bar.stop()
        err.print(_interrupted_line(sweep))
        raise typer.Exit(130) from None
