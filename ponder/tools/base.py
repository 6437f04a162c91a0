"""The `Tool` protocol: what `RunContext.call_tool` needs of a tool."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ponder.types import ToolSpec


@runtime_checkable
class Tool(Protocol):
    """A named capability an agent can call. `acall` returns text or raises `ToolError`."""

    name: str
    description: str

    def spec(self) -> ToolSpec: ...

    async def acall(self, args: Any) -> str: ...
