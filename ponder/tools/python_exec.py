"""`python`: run code in the sandbox of `ponder.tools.sandbox` (bubblewrap; see there for what it isolates).

Off unless enabled: agents get it only when it is listed in their tools explicitly. Without
`bwrap` installed it refuses, saying how to install it, unless the weaker rlimits-only sandbox
is chosen by name (`PONDER_SANDBOX=rlimits`, or `SandboxLimits(sandbox="rlimits")`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import ToolError
from ponder.tools.base import ToolOptions, parse_args
from ponder.tools.sandbox import SandboxLimits, run_python
from ponder.types import ToolSpec

__all__ = ["CodeArgs", "PythonTool", "make_python"]


class CodeArgs(BaseModel):
    """Arguments of the python tool."""

    code: str = Field(description="Python source to run; print what you want to see")


class PythonTool:
    """Runs Python code in a sandboxed subprocess and returns what it printed. Disabled unless `enabled`."""

    name = "python"
    description = "Run Python code in a sandbox (no network, limited time and memory); returns what it printed."

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
