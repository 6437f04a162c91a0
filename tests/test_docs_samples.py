"""Every code sample in docs/ names things that exist: its Python parses and its imports resolve,
each `ponder ...` command and its options are real, each `ctx.verb(...)` is a RunContext method
and each dotted `ponder.x.y` name in backticks can be imported. (docs/strategies.md's plugin and
docs/experiments.md's sample are also run, by their own tests.)"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from ponder.cli import app
from ponder.runtime.context import RunContext


def _click_core():  # type: ignore[no-untyped-def]
    """click's core as Typer uses it (Typer ≥ 0.2x vendors click as `typer._click`)."""
    try:
        return importlib.import_module("typer._click.core")
    except ImportError:
        return importlib.import_module("click.core")


CLICK = _click_core()
DOCS = sorted((Path(__file__).resolve().parents[1] / "docs").glob("*.md"))
_FENCE = re.compile(r"^```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
PAGE_MODULES = {"plan_answer"}  # modules a page itself defines


def _blocks(lang: set[str]) -> list[tuple[str, str]]:
    return [
        (f"{p.name}:{p.read_text()[: m.start()].count(chr(10)) + 1}", m.group("body"))
        for p in DOCS
        for m in _FENCE.finditer(p.read_text())
        if m.group("lang") in lang
    ]


def _resolve(dotted: str) -> object:
    """`a.b.c` as a module, or an attribute of the longest module prefix."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize(("where", "code"), _blocks({"python"}))
def test_python_samples_parse_and_import_what_exists(where: str, code: str) -> None:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] not in PAGE_MODULES:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module} has no {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in PAGE_MODULES:
                    importlib.import_module(alias.name)


def _shell_commands(body: str) -> list[list[str]]:
    """A shell block's commands as words: `$ ` prompts and comments dropped, a line ending in `\\`
    or inside an open quote joined with the next."""
    commands, pending = [], ""
    for raw in body.splitlines():
        line = raw.removeprefix("$ ")
        if not pending and line.lstrip().startswith("#"):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1]
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        pending = ""
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
            words.pop(0)
        if words:
            commands.append(words)
    assert not pending, f"a shell sample ends inside a command: {pending!r}"
    return commands


def _commands() -> list[tuple[str, list[str]]]:
    return [
        (where, words[1:])
        for where, body in _blocks({"sh", "console", "bash"})
        for words in _shell_commands(body)
        if words[0] == "ponder"
    ]


@pytest.mark.parametrize(("where", "words"), _commands(), ids=lambda x: x if isinstance(x, str) else " ".join(x)[:60])
def test_ponder_commands_and_options_exist(where: str, words: list[str]) -> None:
    command = typer.main.get_command(app)
    while isinstance(command, TyperGroup) and words and not words[0].startswith("-"):
        sub = command.get_command(CLICK.Context(command), words[0])
        assert sub is not None, f"{where}: no command `ponder ... {words[0]}`"
        command, words = sub, words[1:]
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    for w in words:
        flag = w.split("=")[0]
        if flag.startswith("-") and flag != "-":
            assert flag in known, f"{where}: `{command.name}` has no option {flag} (it has {sorted(known)})"


def _inline(pattern: str) -> list[tuple[str, str]]:
    return sorted({(p.name, m) for p in DOCS for m in re.findall(pattern, p.read_text())})


@pytest.mark.parametrize(("page", "verb"), _inline(r"`(?:await )?ctx\.(\w+)"))
def test_ctx_verbs_exist(page: str, verb: str) -> None:
    assert hasattr(RunContext, verb) or verb in RunContext.__init__.__code__.co_names, f"{page}: ctx.{verb}"


@pytest.mark.parametrize(("page", "dotted"), _inline(r"`(ponder(?:\.[A-Za-z_]\w*)+)"))
def test_dotted_names_exist(page: str, dotted: str) -> None:
    if entry_points(group=dotted):  # an entry point group (`ponder.kinds`), not a module
        return
    _resolve(dotted)


def test_the_checks_see_the_samples() -> None:
    assert len(_blocks({"python"})) >= 5 and len(_commands()) >= 15
    assert ("strategies.md", "branch") in _inline(r"`(?:await )?ctx\.(\w+)")
