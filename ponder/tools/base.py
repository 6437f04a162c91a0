"""The `Tool` protocol, `FunctionTool` (a function plus a pydantic argument model) and the `@tool` decorator."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, overload, runtime_checkable

from pydantic import BaseModel, ValidationError, create_model

from ponder.errors import ConfigError, ToolError
from ponder.tools._isolate import call_isolated, function_ref
from ponder.types import ToolSpec


@runtime_checkable
class Tool(Protocol):
    """A named capability an agent can call. `acall` returns text or raises `ToolError`.

    `RunContext.call_tool` also reads an optional `timeout` attribute (seconds) and cancels
    `acall` when it passes; a tool makes that real by being cancellable at every await and by
    running work it cannot bound where it can be killed (a subprocess: see `FunctionTool`'s
    `isolate`, and the `python` tool's sandbox). Tools that
    keep state within a run (`lookup` remembers the page `search` found) also offer
    `fork(memo) -> Tool`: a copy with fresh state, tools that shared state sharing it again
    through `memo`, so each run (and each concurrent branch) has its own.
    """

    name: str
    description: str

    def spec(self) -> ToolSpec: ...

    async def acall(self, args: Any) -> str: ...


@dataclass
class ToolOptions:
    """What a registered tool factory may use when an agent builds its tools for a run.

    corpus: path of a corpus database for `search`/`lookup` (None: the default one).
    shared: state shared by the tools of one run (search and lookup share a page there).
    """

    corpus: str | None = None
    enabled: set[str] = field(default_factory=set)
    shared: dict[str, Any] = field(default_factory=dict)


def parse_args(model: type[BaseModel], args: Any, *, tool: str) -> BaseModel:
    """Validate `args` for a tool: a dict, a JSON object text, or a bare string for a one-field model."""
    fields = list(model.model_fields)
    if isinstance(args, str):
        text = args.strip()
        parsed: Any = None
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
        if isinstance(parsed, dict):
            args = parsed
        elif len(fields) == 1:
            args = {fields[0]: args}
        else:
            raise ToolError(f"tool {tool!r} takes {', '.join(fields)}; give them as a JSON object")
    elif args is None:
        args = {}
    if not isinstance(args, dict):
        raise ToolError(f"tool {tool!r} expects an object with {', '.join(fields) or 'no arguments'}")
    try:
        return model.model_validate(args)
    except ValidationError as e:
        probs = "; ".join(f"{'.'.join(str(p) for p in x['loc']) or 'arguments'}: {x['msg']}" for x in e.errors())
        raise ToolError(f"bad arguments for tool {tool!r}: {probs}") from None


class FunctionTool:
    """A tool made of a function (sync or async) and a pydantic model of its arguments.

    timeout: seconds `RunContext.call_tool` waits before giving up (None: no limit).
    isolate: run each call of a sync function in a child process that the timeout kills.

    Where a call runs decides whether its timeout is real:
    - async functions run on the event loop; the timeout cancels them (they must await).
    - sync functions with `isolate=True` run in a fresh process (forkserver); the timeout kills
      it, so a runaway computation stops. The function must be defined at module level (it is
      sent by reference) and its arguments and result must pickle; it shares no memory with the
      caller. Use this for any sync tool whose work you cannot bound.
    - other sync functions run in a worker thread. A thread cannot be killed: on timeout the agent
      moves on but the thread runs to its end. Such a tool must bound its own work before doing
      it, as the calculator does (input size, digits, exponents) — cooperative bounds.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        description: str,
        args_model: type[BaseModel],
        timeout: float | None = 30.0,
        isolate: bool = False,
    ) -> None:
        self.fn = fn
        self.name = name
        self.description = description
        self.args_model = args_model
        self.timeout = timeout
        self.isolate = isolate
        self._ref: tuple[str, str] | None = None
        if isolate:
            if inspect.iscoroutinefunction(fn):
                raise ConfigError(f"tool {name!r}: isolate=True is for sync functions; an async tool is cancelled")
            self._ref = function_ref(fn, tool=name)

    def spec(self) -> ToolSpec:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    async def acall(self, args: Any) -> str:
        parsed = parse_args(self.args_model, args, tool=self.name)
        kwargs = {k: getattr(parsed, k) for k in self.args_model.model_fields}
        if inspect.iscoroutinefunction(self.fn):
            out = await self.fn(**kwargs)
        elif self._ref is not None:
            out = await call_isolated(self._ref, kwargs, tool=self.name)
        else:
            out = await asyncio.to_thread(self.fn, **kwargs)
        return out  # call_tool reports a non-string result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"


def _args_model_of(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    hints = inspect.get_annotations(fn, eval_str=True)
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolError(f"tool {name!r}: *args/**kwargs cannot be described to a model; name each argument")
        ann = hints.get(p.name, str)
        fields[p.name] = (ann, ... if p.default is inspect.Parameter.empty else p.default)
    return create_model(f"{name}_args", **fields)


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = 30.0, isolate: bool = False
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 30.0,
    isolate: bool = False,
) -> Any:
    """Make a tool of a function: its arguments (type hints) become the pydantic argument model.

    Use as `@tool` or `@tool(name=..., timeout=..., isolate=True)`; the description defaults to the
    docstring. `isolate=True` runs a sync function in a process its timeout kills (see `FunctionTool`).
    """

    def wrap(f: Callable[..., Any]) -> FunctionTool:
        n = name or f.__name__
        return FunctionTool(
            f,
            name=n,
            description=description or inspect.cleandoc(f.__doc__ or n),
            args_model=_args_model_of(f, n),
            timeout=timeout,
            isolate=isolate,
        )

    return wrap(fn) if fn is not None else wrap


def fork_tools(tools: dict[str, Tool]) -> dict[str, Tool]:
    """Copies of `tools` with fresh per-run state (tools without state are shared as they are)."""
    memo: dict[int, Any] = {}
    out: dict[str, Tool] = {}
    for key, t in tools.items():
        fork = getattr(t, "fork", None)
        out[key] = fork(memo) if callable(fork) else t
    return out


def build_tools(names: list[str], options: ToolOptions | None = None) -> dict[str, Tool]:
    """The tools registered as `names` (entry points `ponder.tools`), made for one run.

    A registered object is either a tool (used as is) or a factory called with `ToolOptions`.
    """
    from ponder import registry

    opts = options or ToolOptions()
    opts.enabled |= set(names)
    tools: dict[str, Tool] = {}
    for n in names:
        obj = registry.load("tools", n)
        made = obj if isinstance(obj, Tool) and not isinstance(obj, type) else obj(opts)
        if not isinstance(made, Tool):
            raise ToolError(f"tool {n!r} is registered as {obj!r}, which is neither a tool nor a tool factory")
        tools[made.name] = made
    return tools
