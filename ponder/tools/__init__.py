"""Tools agents act with; `ToolError` is what a tool raises when it refuses its input."""

from ponder.errors import ToolError
from ponder.tools.base import FunctionTool, Tool, ToolOptions, build_tools, tool

__all__ = ["FunctionTool", "Tool", "ToolError", "ToolOptions", "build_tools", "tool"]
