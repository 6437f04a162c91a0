"""Every command the `ponder` app registers (subcommands of groups included) prints its help, and
refuses garbage arguments with one line on stderr and exit code 2 — never a traceback, never
Typer's boxed panel. The commands are enumerated from the app, so a new one is covered."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest
from typer.core import TyperGroup, TyperOption
from typer.main import get_command
from typer.testing import CliRunner

from ponder.cli import app

runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for name, cmd in sorted(group.commands.items()):
        out.append(((*path, name), cmd))
        if isinstance(cmd, TyperGroup):
            out += _commands(cmd, (*path, name))
    return out


ROOT = get_command(app)
assert isinstance(ROOT, TyperGroup)
COMMANDS = _commands(ROOT)
IDS = [" ".join(p) for p, _ in COMMANDS]


def test_the_app_registers_the_known_commands() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"run", "runs", "show", "replay", "bench", "tui", "fork", "diff", "corpus"} <= names


def _assert_one_line_usage_error(res: object, args: list[str]) -> None:
    assert res.exit_code == 2, (args, res.output)  # type: ignore[attr-defined]
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception  # type: ignore[attr-defined]
    lines = res.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, (args, res.stderr)  # type: ignore[attr-defined]
    assert "Traceback" not in res.output and "╭" not in res.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_help_works(path: tuple[str, ...], cmd: Any) -> None:
    res = runner.invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.stdout and " ".join(path) in res.stdout
    assert res.exception is None or isinstance(res.exception, SystemExit)


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_an_unknown_option_is_one_line_and_exit_2(path: tuple[str, ...], cmd: Any, tmp_path: Path) -> None:
    args = [*path, "--no-such-option-\x9b", "x"]
    res = runner.invoke(app, args, env={"PONDER_DB": str(tmp_path / "t.db")})
    _assert_one_line_usage_error(res, args)
    assert "\x9b" not in res.stderr  # a C1 control character never reaches the screen


def _is_number(annotation: Any) -> bool:
    if annotation in (int, float):
        return True
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and any(
        a in (int, float) for a in typing.get_args(annotation)
    )


def _typed_options(cmd: Any) -> list[Any]:
    """The options that take a number (a word there is garbage)."""
    return [
        p
        for p in cmd.params
        if isinstance(p, TyperOption) and not p.is_flag and _is_number(p.type_descriptor.annotation)
    ]


TYPED = [(p, cmd, opt) for p, cmd in COMMANDS for opt in _typed_options(cmd)]


def test_there_are_typed_options_to_garble() -> None:
    assert len(TYPED) >= 5


@pytest.mark.parametrize(("path", "cmd", "opt"), TYPED, ids=[f"{' '.join(p)} {o.opts[-1]}" for p, _, o in TYPED])
def test_a_garbage_option_value_is_one_line_and_exit_2(
    path: tuple[str, ...], cmd: Any, opt: Any, tmp_path: Path
) -> None:
    args = [*path, opt.opts[-1], "garbage\u0085value"]
    res = runner.invoke(app, args, env={"PONDER_DB": str(tmp_path / "t.db")})
    _assert_one_line_usage_error(res, args)
    assert "\u0085" not in res.stderr
