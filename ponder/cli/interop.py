"""`ponder serve` (strategies behind an OpenAI-compatible endpoint) and `ponder proxy` (record and
replay any OpenAI-compatible client); the servers live in `ponder.interop` (the `serve-api` extra)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from ponder.cli._common import (
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    DbOpt,
    MaxCallsOpt,
    MaxTokensOpt,
    ModelOpt,
    err,
    handles_errors,
    make_budget,
    open_store,
)
from ponder.errors import ConfigError

INSTALL_HINT = "pip install -e '.[serve-api]'"

HostOpt = Annotated[
    str, typer.Option("--host", help="Address to listen on (loopback by default; 0.0.0.0 for every interface).")
]


def _require_stack(command: str) -> None:
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"ponder {command} needs {' and '.join(missing)}: {INSTALL_HINT}")


def _listening(command: str, host: str, what: str) -> Any:
    def ready(port: int) -> None:
        err.print(Text(f"ponder {command}: listening on http://{host}:{port}/v1 · {what} · Ctrl+C stops"))

    return ready


def _patterns(regexes: list[str]) -> list[re.Pattern[str]]:
    out = []
    for r in regexes:
        try:
            out.append(re.compile(r))
        except re.error as e:
            raise ConfigError(f"--key-ignore {r!r}: not a regular expression ({e})") from None
    return out


@handles_errors
def serve(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0: a free one, printed).", min=0, max=65535)] = 8400,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="PONDER_SERVE_API_KEY",
            help="Require this bearer token from clients (or $PONDER_SERVE_API_KEY).",
            show_default=False,
        ),
    ] = None,
    max_calls: MaxCallsOpt = None,
    max_tokens: MaxTokensOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Budget per request: wall seconds of its run.", min=0.001)
    ] = 600.0,
    keepalive: Annotated[
        float, typer.Option("--keepalive", help="Seconds between SSE keep-alives while a streamed run thinks.", min=0.1)
    ] = 15.0,
    db: DbOpt = None,
) -> None:
    """Serve strategies as an OpenAI-compatible API: model = STRATEGY[@UPSTREAM][#KEY=VALUE,...].

    Every request is a recorded run (ponder runs / tui / fork / diff). The upstream defaults to what
    these backend flags select, as for `ponder run`; see docs/interop.md.
    """
    _require_stack("serve")
    from ponder._util.secrets import register_secret
    from ponder.backends.config import resolve_backend_config
    from ponder.interop._http import is_loopback, serve_foreground
    from ponder.interop.serve import StrategyServer
    from ponder.interop.serve_spec import Upstreams

    budget = make_budget(max_calls, max_tokens, timeout)
    default = resolve_backend_config(backend=backend, model=model, base_url=base_url, api_key_env=api_key_env)
    if api_key is not None:
        if len(api_key) < 8:
            raise ConfigError("--api-key: use a token of at least 8 characters")
        register_secret(api_key)
    if not is_loopback(host) and api_key is None:
        err.print(
            Text(f"ponder serve: warning: listening on {host} with no --api-key; anyone who can reach it can use it")
        )
    store = open_store(db)
    server = StrategyServer(store, Upstreams(default).get, api_key=api_key, budget=budget, keepalive_s=keepalive)
    where = f"{default.backend}{':' + default.model if default.model else ''}"
    serve_foreground(server.app, host, port, _listening("serve", host, f"upstream {where} · runs in {store.path}"))


UpstreamOpt = Annotated[
    str | None, typer.Option("--upstream", "-u", help="The OpenAI-compatible API root to forward to (…/v1).")
]
ReplayDbOpt = Annotated[
    Path | None, typer.Option("--replay", help="Answer from this recording (a trace db) instead of the upstream.")
]
RecordMissingOpt = Annotated[
    bool, typer.Option("--record-missing", help="With --replay: forward and record what is not recorded.")
]
ReplayRunOpt = Annotated[
    str | None, typer.Option("--run", help="With --replay: serve only this run's calls (default: all).")
]
ProxyPortOpt = Annotated[int, typer.Option("--port", "-p", help="Port (0: a free one, printed).", min=0, max=65535)]
UpstreamTimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds the upstream gets to answer (a stream: per event).", min=0.001)
]
IdleGapOpt = Annotated[
    float,
    typer.Option(
        "--idle-gap", help="Seconds idle after which a client without X-Ponder-Session starts a new run.", min=0
    ),
]
KeyIgnoreOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--key-ignore",
        help="With --replay: a regex whose matches in request texts do not count when matching (repeatable).",
    ),
]
UpstreamKeyEnvOpt = Annotated[
    str | None,
    typer.Option("--upstream-key-env", help="Env var whose key to send upstream instead of the client's."),
]


@handles_errors
def proxy(
    upstream: UpstreamOpt = None,
    replay: ReplayDbOpt = None,
    record_missing: RecordMissingOpt = False,
    run: ReplayRunOpt = None,
    host: HostOpt = "127.0.0.1",
    port: ProxyPortOpt = 8401,
    timeout: UpstreamTimeoutOpt = 60.0,
    idle_gap: IdleGapOpt = 30.0,
    key_ignore: KeyIgnoreOpt = None,
    upstream_key_env: UpstreamKeyEnvOpt = None,
    db: DbOpt = None,
) -> None:
    """Record any OpenAI-compatible client's calls as runs; with --replay, answer them from the recording.

    One run per X-Ponder-Session header value, else per client address until idle for --idle-gap
    seconds. Unrecorded requests under --replay answer 409 with the closest recorded one.
    """
    _require_stack("proxy")
    from ponder.interop._http import serve_foreground
    from ponder.interop.proxy import RecordingProxy, public_url
    from ponder.interop.proxy_replay import ReplayIndex

    if replay is None and upstream is None:
        raise ConfigError("give --upstream URL to record, or --replay DB to answer from a recording")
    if record_missing and (replay is None or upstream is None):
        raise ConfigError("--record-missing needs --replay DB and --upstream URL (where the missing calls go)")
    if (run is not None or key_ignore) and replay is None:
        raise ConfigError("--run and --key-ignore say how to replay: give --replay DB too")
    if replay is not None and db is not None:
        raise ConfigError("--replay DB is also where --record-missing records: leave out --db")
    key = None
    if upstream_key_env is not None:
        key = os.environ.get(upstream_key_env)
        if not key:
            raise ConfigError(f"--upstream-key-env {upstream_key_env}: that variable is not set")
    if replay is not None:
        if not replay.exists():
            raise ConfigError(f"--replay {replay}: no such file")
        store = open_store(replay, readonly=not record_missing)
        index = ReplayIndex(store, run, ignore=_patterns(key_ignore or []))
        what = f"replaying {len(index.calls)} recorded calls from {store.path}"
        if record_missing:
            what += f", missing ones from {public_url(upstream or '')}"
    else:
        store, index = open_store(db), None
        what = f"upstream {public_url(upstream or '')} · runs in {store.path}"
    app = RecordingProxy(
        store,
        upstream=upstream if replay is None or record_missing else None,
        replay=index,
        record_missing=record_missing,
        timeout=timeout,
        idle_gap=idle_gap,
        upstream_api_key=key,
    )
    serve_foreground(app.app, host, port, _listening("proxy", host, what))
