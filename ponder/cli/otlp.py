"""OpenTelemetry from the command line: the live `--otlp` export of `run`/`bench` and `ponder export`
(whose `--csv` writes an experiment's tasks as CSV: `ponder.cli.data`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from ponder._util.text import safe_text
from ponder.cli._common import DbOpt, JsonOpt, err, handles_errors, open_store, out, print_json
from ponder.errors import ConfigError

OtlpOpt = Annotated[
    str | None,
    typer.Option("--otlp", help="Also send the run as OpenTelemetry spans to this OTLP/HTTP endpoint (otel extra)."),
]


def _live_exporter(endpoint: str | None) -> Any:
    """The live OTLP exporter (`--otlp`, else $PONDER_OTLP_ENDPOINT with $PONDER_OTLP_HEADERS), or None.

    Each run is sent as soon as it finishes; a failure is one line on stderr, once (the runs are stored).
    """
    import os

    if not (endpoint or os.environ.get("PONDER_OTLP_ENDPOINT")):
        return None
    from ponder.export.otel import target_from
    from ponder.export.otel_live import LiveExporter

    headers = [h for h in os.environ.get("PONDER_OTLP_HEADERS", "").split(",") if h.strip()]
    target = target_from(endpoint, headers, content=True, env=os.environ)
    return (
        None
        if target is None
        else LiveExporter(target, report=lambda line: err.print(Text(f"ponder: {safe_text(line)}")))
    )


@handles_errors
def export(
    run_id: Annotated[
        str | None,
        typer.Argument(metavar="[ID]", help="The run to export (with its child runs); with --csv, the experiment."),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Export every run of this experiment instead.")
    ] = None,
    otlp: Annotated[str | None, typer.Option("--otlp", help="OTLP/HTTP endpoint, e.g. http://127.0.0.1:6006.")] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="Header NAME=VALUE sent to the endpoint (repeatable).")
    ] = None,
    no_content: Annotated[
        bool, typer.Option("--no-content", help="Leave out prompts, replies, tool arguments and results.")
    ] = False,
    project: Annotated[str, typer.Option("--project", help="Project name the trace tool files the runs under.")] = (
        "ponder"
    ),
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds each request may take in all (connect, send, answer, retries); the first that fails ends it.",
        ),
    ] = 10.0,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Write an experiment's tasks as CSV (ponder export EXP --csv) instead.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="With --csv: the file (default stdout).")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send recorded runs as OpenTelemetry spans (GenAI + OpenInference attributes) to an OTLP/HTTP endpoint,
    or write an experiment's tasks as CSV (`--csv`: agent, config, model and env on every row)."""
    from ponder.export.otel import OTLPTarget, experiment_run_ids, export_runs, parse_headers

    if as_csv:
        if otlp is not None or as_json:
            raise ConfigError("--csv writes CSV; leave out --otlp and --json")
        if (run_id is None) == (experiment is None):
            raise ConfigError("give the experiment: ponder export EXP_ID --csv")
        from ponder.cli.data import export_csv

        export_csv(run_id or experiment or "", db, output)
        return
    if output is not None:
        raise ConfigError("--output goes with --csv")
    if otlp is None:
        raise ConfigError("give --otlp URL (e.g. http://127.0.0.1:6006 for Phoenix), or --csv for an experiment")
    if (run_id is None) == (experiment is None):
        raise ConfigError("give a RUN_ID or --experiment EXP_ID (one of them)")
    if not timeout > 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")
    target = OTLPTarget(
        endpoint=otlp, headers=parse_headers(header or []), content=not no_content, project=project, timeout_s=timeout
    )
    target.traces_url()
    store = open_store(db, create=False)
    if experiment is not None:
        ids = experiment_run_ids(store, store.get_experiment(experiment)["id"])
    else:
        ids = [store.get_run(store.resolve_run_id(run_id or "")).id]
    report = export_runs(store, ids, target)
    if as_json:
        print_json(report.model_dump())
        return
    runs = f"{report.runs} run{'s' * (report.runs != 1)}"
    out.print(Text(f"exported {runs} as {report.spans} spans to {report.endpoint}: {report.accepted} accepted"))
