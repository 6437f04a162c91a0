"""Ctrl+C during `ponder bench` on a slow model: the first one says how to resume at once, the
process is gone within seconds, the requests in flight are dropped, the runs are recorded as
cancelled, and `--resume` finishes the experiment with nothing lost. The progress bar shows the
tasks in flight and the calls made while no task has finished."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ponder.backends.scripted import ScriptedBackend
from ponder.cli._interrupt import Interrupted, run_interruptible
from ponder.experiments.bench import Progress, abench
from ponder.runtime.base import BaseAgent
from ponder.runtime.context import RunContext
from ponder.traces.store import TraceStore
from ponder.types import CompletionRequest, Message, Result, Task
from tests._toys import ToyEnv
from tests.fake_openai import FakeOpenAI, text

# -- the heartbeat: tasks in flight and calls made, before any task ends ----------------------------


class ThreeSteps(BaseAgent):
    """Three model calls one after another."""

    name: ClassVar[str] = "three_steps"

    async def solve(self, task: Task, ctx: RunContext) -> Result:
        for i in range(3):
            comp = await ctx.complete(CompletionRequest(messages=(Message.user(f"step {i}: {task.input}"),)))
        return Result(answer=comp.text)


async def test_progress_shows_tasks_in_flight_and_calls_made(store: TraceStore) -> None:
    seen: list[Progress] = []
    both_half_way = asyncio.Event()

    async def model(req: CompletionRequest) -> str:
        if req.messages[-1].content.startswith("step 2"):  # the last step waits until progress has shown the rest
            await asyncio.wait_for(both_half_way.wait(), timeout=10)
        return "The answer is 0."

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.done == 0 and p.running == 2 and p.calls == 4:
            both_half_way.set()

    exp = await abench(
        ThreeSteps(),
        ToyEnv(count=2),
        backend=ScriptedBackend(model),
        store=store,
        concurrency=2,
        progress=progress,
        heartbeat_s=0.01,
    )
    assert exp.summary.calls == 6 and exp.summary.errors == 0
    assert any(p.done == 0 and p.running == 2 and p.calls == 4 and p.last is None for p in seen)
    assert seen[-1].done == 2 and seen[-1].running == 0 and seen[-1].calls == 6


def test_without_a_heartbeat_progress_comes_once_per_task(store: TraceStore) -> None:
    from ponder.experiments.bench import bench

    seen: list[Progress] = []
    backend = ScriptedBackend(lambda r: "4")
    bench(ThreeSteps(), ToyEnv(count=3), backend=backend, store=store, progress=seen.append, concurrency=1)
    assert [(p.done, p.running) for p in seen] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert [p.calls for p in seen] == [0, 3, 6, 9]


# -- the interrupt machinery, in this process -----------------------------------------------------


def test_the_first_ctrl_c_cancels_the_coroutine_at_once() -> None:
    said: list[float] = []
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    # what was installed before (default_int_handler; SIG_IGN after a test that left it so, e.g. the TUI's)
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(Interrupted):
        run_interruptible(forever(), lambda: said.append(time.monotonic()))
    timer.join()
    assert cancelled.is_set() and len(said) == 1
    assert time.monotonic() - t0 < 5
    assert signal.getsignal(signal.SIGINT) is before  # put back


def test_a_coroutine_that_finishes_is_returned() -> None:
    async def quick() -> int:
        return 7

    assert run_interruptible(quick(), lambda: pytest.fail("no interrupt")) == 7


# -- the real command, a real SIGINT ----------------------------------------------------------------


class SlowServer:
    """An OpenAI-compatible loopback server that never answers: it holds each request until the
    client goes away (noted in `dropped`) or 60 s pass."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.dropped: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.arrived.append(time.monotonic())
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    ready, _, _ = select.select([self.connection], [], [], 0.05)
                    if ready and not self.connection.recv(1, 2):  # MSG_PEEK: EOF means the client hung up
                        outer.dropped.append(time.monotonic())
                        return
                self.send_error(504)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> SlowServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class Lines:
    """A pipe read line by line in a thread, each line with the time it came."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append((time.monotonic(), line))

    def wait_for(self, needle: str, timeout: float) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for at, line in self.lines:
                if needle in line:
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no {needle!r} in {timeout} s: {self.text()[-1500:]!r}")

    def text(self) -> str:
        return "".join(line for _, line in self.lines)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "PONDER_CONFIG": str(tmp_path / "no-config.toml"),
        "PONDER_DB": str(tmp_path / "t.db"),
        "OPENAI_API_KEY": "sk-test",
        "TTY_COMPATIBLE": "1",  # the progress bar draws into the pipe as into a terminal
        "COLUMNS": "200",
    }


def _bench(env: dict[str, str], url: str, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", "from ponder.cli import main; main()", "bench", "--backend", "openai"]
    cmd += ["--base-url", url, "--model", "m", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # a real `ponder bench` process, a loopback server and a real SIGINT
def test_ctrl_c_during_a_slow_bench(env: dict[str, str], tmp_path: Path) -> None:
    with SlowServer() as slow:
        proc = _bench(env, slow.url, "--env", "arithmetic", "--agent", "cot", "--n", "6", "--concurrency", "3")
        err = Lines(proc.stderr)
        try:
            end = time.monotonic() + 60
            while len(slow.arrived) < 3 and time.monotonic() < end:
                time.sleep(0.05)
            assert len(slow.arrived) == 3, err.text()
            err.wait_for("3 running · 0 calls", timeout=10)  # the bar says what is going on, not only 0/6
            exp_id = err.text().split("experiment ", 1)[1].split(":", 1)[0]

            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            said = err.wait_for(f"finish it with: ponder bench --resume {exp_id}", timeout=5)
            code = proc.wait(timeout=10)
            gone = time.monotonic()
        finally:
            proc.kill()
            proc.wait()
        assert code == 130
        assert said - sent < 1.0, f"the resume line came {said - sent:.2f} s after Ctrl+C"
        assert gone - sent < 5.0, f"the process took {gone - sent:.2f} s to exit"
        assert "cancelling 3 tasks in flight" in err.text()
        assert "Traceback" not in err.text()
        end = time.monotonic() + 5
        while len(slow.dropped) < 3 and time.monotonic() < end:
            time.sleep(0.05)
        assert len(slow.dropped) == 3, "the requests in flight were dropped, not left running"

    with TraceStore(tmp_path / "t.db", readonly=True) as store:
        runs = store.list_runs(experiment_id=exp_id, limit=100)
        assert sorted(r.status for r in runs) == ["cancelled"] * 3
        assert all(r.error == "the run was cancelled" for r in runs)

    # nothing lost: --resume finishes the experiment, the cancelled tasks with the rest
    with FakeOpenAI(lambda body: text("The answer is 8.")) as fast:
        again = _bench(env, fast.url, "--resume", exp_id, "--json")
        out, errs = again.communicate(timeout=120)
    assert again.returncode == 0, errs
    data = json.loads(out)
    assert data["id"] == exp_id and data["summary"]["n"] == 6 and data["summary"]["errors"] == 0
