"""`python`: run code in a sandboxed subprocess (wall timeout, CPU and memory limits, temp cwd, scrubbed env).

Off unless enabled: agents get it only when it is listed in their tools explicitly.
This is a guard against accidents and runaway code, not a security boundary against a
determined attacker (no seccomp, no network namespace).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import ToolError
from ponder.tools.base import ToolOptions, parse_args
from ponder.types import ToolSpec

_SAFE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
}


class SandboxLimits(BaseModel):
    """Limits of one sandboxed run. memory_mb bounds the address space (RLIMIT_AS)."""

    timeout_s: float = Field(default=10.0, gt=0)
    cpu_s: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=512, ge=32)
    max_output: int = Field(default=8000, ge=100)


class ExecResult(BaseModel):
    """What a sandboxed run did."""

    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def explain(self, limits: SandboxLimits) -> str:
        """Why it failed, in a line: timeout, a limit, an exception, a signal."""
        if self.timed_out:
            return f"timed out after {limits.timeout_s} s (wall clock)"
        rc = self.returncode
        if rc is not None and rc < 0:
            sig = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else str(-rc)
            if sig in ("SIGXCPU", "SIGKILL"):
                return f"killed by {sig} (CPU limit {limits.cpu_s} s)"
            return f"killed by {sig}"
        tail = self.stderr.strip().splitlines()[-1:] or [f"exit code {rc}"]
        if "MemoryError" in self.stderr:
            return f"MemoryError (memory limit {limits.memory_mb} MB)"
        return tail[0]


def _limit(limits: SandboxLimits) -> Any:
    def preexec() -> None:  # runs in the child between fork and exec: no imports, no locks, C calls only
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return preexec


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n] + f"\n… ({len(s) - n} more characters)"


def run_python(code: str, limits: SandboxLimits | None = None, *, stdin: str = "") -> ExecResult:
    """Run `code` with `python -I` in a fresh temporary directory, a minimal environment and rlimits."""
    lim = limits or SandboxLimits()
    with tempfile.TemporaryDirectory(prefix="ponder-py-") as tmp:
        script = os.path.join(tmp, "main.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(code)
        env = {**_SAFE_ENV, "HOME": tmp, "TMPDIR": tmp}
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", script],
            cwd=tmp,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_limit(lim),
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
        timed_out = False
        try:
            out, err = proc.communicate(stdin.encode(), timeout=lim.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return ExecResult(
            stdout=_clip(out.decode("utf-8", "replace"), lim.max_output),
            stderr=_clip(err.decode("utf-8", "replace"), lim.max_output),
            returncode=proc.returncode,
            timed_out=timed_out,
        )


class CodeArgs(BaseModel):
    """Arguments of the python tool."""

    code: str = Field(description="Python source to run; print what you want to see")


class PythonTool:
    """Runs Python code in a sandboxed subprocess and returns what it printed. Disabled unless `enabled`."""

    name = "python"
    description = "Run Python code in a sandbox (no network promises, limited time and memory); returns its output."

    def __init__(self, limits: SandboxLimits | None = None, *, enabled: bool = False) -> None:
        self.limits = limits or SandboxLimits()
        self.enabled = enabled
        self.timeout = self.limits.timeout_s + 5.0  # the sandbox's own timeout fires first

    def spec(self) -> ToolSpec:
        schema = CodeArgs.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    async def acall(self, args: Any) -> str:
        if not self.enabled:
            raise ToolError("the python tool is disabled; list it explicitly in the agent's tools to enable it")
        code = parse_args(CodeArgs, args, tool=self.name).code  # type: ignore[attr-defined]
        res = await asyncio.to_thread(run_python, code, self.limits)
        if not res.ok:
            detail = res.stderr.strip()[-1500:]
            raise ToolError(f"python failed: {res.explain(self.limits)}" + (f"\n{detail}" if detail else ""))
        return res.stdout if res.stdout.strip() else "(no output; print what you want to see)"


def make_python(options: ToolOptions | None = None) -> PythonTool:
    """Sandboxed Python (subprocess, time/CPU/memory limits); on only when listed explicitly."""
    opts = options or ToolOptions()
    return PythonTool(enabled="python" in opts.enabled)
