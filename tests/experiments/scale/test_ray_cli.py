"""`ponder bench --executor ray`: the CLI on Ray, on a cluster it starts and on an existing one.

Skipped without the ray extra. The existing cluster is a `ray start --head` on loopback that the
test starts and stops; its driver is killed mid-sweep and the same command finishes the sweep.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.errors import PonderError
from ponder.traces.store import TraceStore
from tests.experiments.scale.conftest import KEY, KEY_ENV, TASKS, WRONG, Server, numbers

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
pytestmark = pytest.mark.ray
runner = CliRunner()
CLI = [sys.executable, "-c", "import sys; from ponder.cli import main; sys.argv[0] = 'ponder'; main()"]


def _bench_args(server: Server, problems: Path, db: Path) -> list[str]:
    return [
        "bench",
        "--env", "arithmetic",
        "--env-set", f"path={problems}",
        "--agent", "cot",
        "--base-url", server.url,
        "--model", "fake-model",
        "--api-key-env", KEY_ENV,
        "--db", str(db),
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok_tasks(db: Path) -> dict[str, list[str]]:
    if not db.exists():
        return {}
    try:
        with TraceStore(db, readonly=True) as s:
            runs = s.list_runs(limit=1000, status="ok")
    except PonderError:  # being created by the driver
        return {}
    out: dict[str, list[str]] = {}
    for r in runs:
        out.setdefault(str(r.task["id"]), []).append(r.id)
    return out


def test_bench_on_ray_gives_what_bench_gives(cluster: None, server: Server, problems: Path, tmp_path: Path) -> None:
    here = runner.invoke(app, [*_bench_args(server, problems, tmp_path / "here.db"), "--json"])
    assert here.exit_code == 0, here.output
    there = runner.invoke(app, [*_bench_args(server, problems, tmp_path / "ray.db"), "--executor", "ray",
                                "--shards", "3", "--json"])  # fmt: skip
    assert there.exit_code == 0, there.output
    a, b = json.loads(here.stdout), json.loads(there.stdout)

    def outcomes(d: dict[str, Any]) -> dict[str, Any]:
        return {r["task_id"]: (r["answer"], r["correct"], r["status"], r["calls"]) for r in d["results"]}

    assert outcomes(a) == outcomes(b)
    assert a["summary"]["correct"] == b["summary"]["correct"] == TASKS - 1
    assert b["config"]["shards"] == 3 and outcomes(b)[f"p{WRONG}"][1] is False


@pytest.fixture
def head(tmp_path: Path) -> Iterator[str]:
    """An existing Ray cluster: `ray start --head --block` on loopback, stopped after the test."""
    port = _free_port()
    env = {**os.environ, KEY_ENV: KEY, "RAY_AUTH_MODE": "disabled"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    proc = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the test's Ray head did not start")
                time.sleep(0.2)
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_a_killed_driver_is_finished_by_the_same_command_on_an_existing_cluster(
    head: str, server: Server, problems: Path, tmp_path: Path
) -> None:
    # the model answers p0..p3 at once and holds p4..p7 until the driver has been killed
    release = threading.Event()

    def hold(body: dict[str, Any]) -> None:
        if numbers(body)[0] >= 4:
            release.wait(60)

    server.before = hold
    db = tmp_path / "sweep.db"
    cmd = [*CLI, *_bench_args(server, problems, db), "--executor", "ray", "--ray-address", head, "--shards", "2"]
    cmd += ["--concurrency", "1"]
    env = {**os.environ, KEY_ENV: KEY, "RAY_AUTH_MODE": "disabled"}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(_ok_tasks(db)) < 4:
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the first four tasks never arrived"
            time.sleep(0.1)
    finally:
        driver.kill()
        driver.wait(30)
        release.set()
    before = _ok_tasks(db)
    assert sorted(before) == ["p0", "p1", "p2", "p3"]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    after = _ok_tasks(db)
    assert sorted(after) == [f"p{i}" for i in range(TASKS)]
    for task_id, run_ids in before.items():
        assert after[task_id] == run_ids  # kept, not run again
        assert server.asked(int(task_id[1:])) == 1
    assert all(len(ids) == 1 for ids in after.values())


def test_a_ray_address_that_does_not_answer_is_one_line_and_writes_nothing(
    server: Server, problems: Path, tmp_path: Path
) -> None:
    db = tmp_path / "never.db"
    cmd = [*CLI, *_bench_args(server, problems, db), "--executor", "ray", "--ray-address", f"127.0.0.1:{_free_port()}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers at 127.0.0.1:" in lines[0], res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not db.exists() and server.requests == []
