"""Tools agents act with; `ToolError` is what a tool raises when it refuses its input."""

from ponder.errors import ToolError
from ponder.tools.base import Tool

__all__ = ["Tool", "ToolError"]
