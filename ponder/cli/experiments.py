"""Experiments: `ponder bench` over an environment's tasks, `merge` of sharded sweeps, `compare` and `plot`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import (
    _BUDGET_KEYS,
    SQLITE_INT_MAX,
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    DbOpt,
    JsonOpt,
    ModelOpt,
    err,
    handles_errors,
    make_budget,
    open_store,
    out,
    print_json,
)
from ponder.cli._experiment_view import _print_experiment
from ponder.cli.otlp import OtlpOpt, _live_exporter
from ponder.errors import ConfigError
from ponder.traces.store import TraceStore

_EXECUTORS = ("local", "ray")


@handles_errors
def bench(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Environment (registered name).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Strategy (see `ponder agents`).")] = None,
    n: Annotated[
        int | None, typer.Option("--n", "-n", help="Run the first N tasks (default: all).", max=SQLITE_INT_MAX)
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", help="Tasks run at once (per shard on Ray).", min=1, max=10_000)
    ] = 8,
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Agent option key=value (repeatable).")] = None,
    env_set: Annotated[list[str] | None, typer.Option("--env-set", help="Env option key=value (repeatable).")] = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of every run (default 0).", min=0, max=SQLITE_INT_MAX)
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Experiment id: rerun only its tasks that did not finish.")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="I/N: run only the I-th of N fixed slices of the tasks (then `ponder merge`)."),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor", help="Where tasks run: local (this process) or ray (shards as Ray tasks; extra `ray`)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="With --executor ray: the cluster's head HOST:PORT (default: start one)."),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option("--shards", help="With --executor ray: how many shards (default: one per CPU).", min=1),
    ] = None,
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", help="Budget per task: most backend calls.", min=0, max=SQLITE_INT_MAX)
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Budget per task: most tokens.", min=0, max=SQLITE_INT_MAX)
    ] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Budget per task: wall seconds.")] = None,
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

    from ponder.backends.config import make_backend, parse_settings, pop_seed, resolve_backend_config
    from ponder.cli._interrupt import Interrupted, leave_now_if_threads_linger, run_interruptible
    from ponder.experiments.bench import abench
    from ponder.experiments.sharding import parse_shard

    if executor not in _EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: choose one of {', '.join(_EXECUTORS)}")
    on_ray = executor == "ray"
    if on_ray and shard is not None:
        raise ConfigError("--shard runs one slice in this process; with --executor ray give --shards N instead")
    if not on_ray and (ray_address is not None or shards is not None):
        raise ConfigError("--ray-address and --shards go with --executor ray")
    the_shard = None if shard is None else parse_shard(shard)
    if n is not None and n <= 0:
        raise ConfigError(f"--n must be at least 1 (got {n}); leave it out to run every task")
    budget = make_budget(max_calls, max_tokens, timeout)
    agent_config = parse_settings(set_ or [])
    seed = pop_seed(agent_config, seed, agent)
    env_config = parse_settings(env_set or [])
    # on Ray, join the cluster before the store is touched: an address that does not answer writes nothing
    store: TraceStore | None = None
    try:
        with contextlib.ExitStack() as stack:
            ray_ex = stack.enter_context(_ray_executor(ray_address, shards)) if on_ray and resume is None else None
            store = open_store(db)
            if resume is not None:
                prev = store.get_experiment(resume)["config"]
                if prev.get("budget") and max_calls is None and max_tokens is None and timeout is None:
                    budget = make_budget(**{k: prev["budget"].get(v) for k, v in _BUDGET_KEYS.items()})
                agent = agent or prev.get("agent")
                env = env or prev.get("env")
                agent_config = {**(prev.get("agent_config") or {}), **agent_config}
                env_config = {**(prev.get("env_config") or {}), **env_config}
                seed = prev.get("seed", 0) if seed is None else seed
                n = prev.get("n") if n is None else n
                shards = prev.get("shards") if shards is None else shards
                if not (backend or model or base_url):
                    backend, model = prev.get("backend"), prev.get("model")
                if on_ray:
                    ray_ex = stack.enter_context(_ray_executor(ray_address, shards))
            if not env or not agent:
                raise ConfigError("give --env NAME and --agent NAME (see `ponder agents`), or --resume EXP_ID")
            cfg = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
            the_budget = None if budget == make_budget(None, None, None) else budget
            exporter = _live_exporter(otlp)
            with _bench_progress(agent, env, store, exporter, quiet=as_json) as (bar, on_progress, sweep):
                if ray_ex is not None:
                    from ponder.experiments.scale import ShardJob

                    ray_ex.notice = lambda line: bar.console.print(Text(safe_text(line), style="yellow"))
                    job = ShardJob(
                        agent=agent,
                        agent_config=agent_config,
                        env=env,
                        env_config=env_config,
                        backend=cfg,
                        n=n,
                        seed=seed or 0,
                        concurrency=concurrency,
                        budget=the_budget,
                    )
                    exp = _interruptible(
                        bar, sweep, lambda: ray_ex.run(job, store, resume=resume, progress=on_progress)
                    )
                else:
                    coro = abench(
                        agent,
                        env,
                        backend=make_backend(cfg),
                        n=n,
                        concurrency=concurrency,
                        store=store,
                        seed=seed or 0,
                        config=agent_config,
                        env_config=env_config,
                        resume=resume,
                        progress=on_progress,
                        shard=the_shard,
                        budget=the_budget,
                        heartbeat_s=0.5,
                    )
                    exp = run_interruptible(coro, lambda: bar.console.print(_interrupted_line(sweep)))
    except Interrupted as e:  # the bar is stopped and the exporter closed; every run is recorded
        if store is not None:
            store.close()
        leave_now_if_threads_linger(e.at)
        raise typer.Exit(130) from None
    if as_json:
        print_json(exp.to_dict())
        return
    _print_experiment(exp)


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


def _new_paths(output: Path) -> list[Path]:
    """The paths a store at `output` would create that do not exist yet: the file, its -wal/-shm, its folders."""
    path = output.expanduser().absolute()
    if path.exists():
        return []
    made = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    folder = path.parent
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    return made


def _remove_new(made: list[Path]) -> None:
    """Remove what `_new_paths` listed (files first, then the folders, innermost first), once closed."""
    for p in made:
        if p.is_file():
            p.unlink(missing_ok=True)
    for p in made:
        if p.is_dir():
            with contextlib.suppress(OSError):  # something else was put there meanwhile: keep it
                p.rmdir()


@handles_errors
def merge(
    shards: Annotated[list[Path], typer.Argument(help="Trace databases to merge (the shards of a sweep).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The database to merge into (created if missing).")],
    as_json: JsonOpt = False,
) -> None:
    """Merge trace databases into one (every run, event, call and memory row, ids kept); merging again adds nothing."""
    from ponder.traces.store import MergeReport

    out_path = output.expanduser().resolve()
    for s in shards:
        if s.expanduser().resolve() == out_path:
            raise ConfigError(f"{s} is also the output; merge into another file")
    sources = [TraceStore(s, readonly=True) for s in shards]
    total = MergeReport()
    made = _new_paths(output)  # what a failed merge must not leave behind
    try:
        with TraceStore(output) as target, target.atomic():  # all the sources or none
            for src in sources:
                total = total + target.merge_from(src)
                src.close()
    except BaseException:
        _remove_new(made)
        raise
    if as_json:
        print_json(total.model_dump())
        return
    out.print(
        Text(
            f"merged {len(shards)} store{'s' * (len(shards) != 1)} into {output}: {total.runs} runs, "
            f"{total.events} events, {total.llm_calls} llm calls, {total.tool_calls} tool calls, "
            f"{total.memory} memory rows, {total.experiments} experiments added; "
            f"{total.skipped_runs} runs were already there"
            + (f"; {total.replaced_runs} unfinished runs replaced by their newer rows" if total.replaced_runs else "")
        )
    )


@handles_errors
def compare(
    exp_ids: Annotated[list[str], typer.Argument(help="Two or more experiment ids.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Experiments side by side: a row per figure ("–" where one does not apply); the tasks one solved, another not."""
    from ponder.experiments.comparison import compare as compare_experiments

    if len(set(exp_ids)) < 2:
        raise ConfigError("give at least two different experiment ids to compare")
    comparison = compare_experiments(exp_ids, open_store(db, readonly=True))
    if as_json:
        print_json(comparison.to_dict())
        return
    table = Table(box=None, header_style="bold")
    table.add_column("", no_wrap=True)
    for e in comparison.experiments:
        table.add_column(e.id)
    for row in comparison.rows:
        table.add_row(row.label, *(Text("–" if v is None else safe_text(v)) for v in row.values))
    out.print(table)
    for p in comparison.solved_by_one_only:
        tasks = ", ".join(p["tasks"][:20]) + (f" … (+{len(p['tasks']) - 20})" if len(p["tasks"]) > 20 else "")
        out.print(Text(f"solved by {p['solved_by']}, not by {p['not_by']} ({len(p['tasks'])}): {tasks or '—'}"))


@handles_errors
def plot(
    exp_ids: Annotated[list[str], typer.Argument(help="Experiment ids (one point each).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The chart file: .png or .svg.")],
    title: Annotated[str | None, typer.Option("--title", help="Chart title.")] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="An env metric to plot (its mean per task, e.g. errors) instead of accuracy."),
    ] = None,
    better: Annotated[
        str | None,
        typer.Option("--better", help="higher or lower: which way the metric is better (default: lower for errors)."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Chart accuracy (or an env metric's mean: --metric errors) against tokens per task, one point per
    experiment, the Pareto front marked; an experiment with failed tasks says how many in its label."""
    from ponder.experiments.plot import pareto_front, plot_experiments
    from ponder.experiments.results import Experiment

    if better not in (None, "higher", "lower"):
        raise ConfigError(f"--better {better!r}: say higher or lower")
    store = open_store(db, create=False)
    exps = [Experiment.load(store, e) for e in dict.fromkeys(exp_ids)]
    higher = None if better is None else better == "higher"
    points = plot_experiments(exps, output, title=title, metric=metric, higher_is_better=higher)
    front = {points[i].experiment_id for i in pareto_front(points)}
    if as_json:
        rows = [{**vars(p), "pareto": p.experiment_id in front} for p in points]
        print_json({"output": str(output), "points": rows})
        return
    out.print(Text(f"wrote {output}: {len(points)} experiments, Pareto front: {', '.join(sorted(front))}"))
