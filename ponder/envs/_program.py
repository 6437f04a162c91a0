"""The definitions in a candidate program, as HumanEval harnesses keep them (evalplus's "sanitize").

A model's reply often follows the function with a demo of its own — prints, asserts (sometimes
wrong), a call of a `check_function()` it wrote — or stops in the middle of one when max_tokens
runs out. The hidden tests are about the function, so the program under test keeps what defines
things: imports, functions, classes, the module-level assignments those use (a table of
constants) and `try:` blocks of imports, in their order and as written. A statement cut off at the
end is dropped with everything after it. Nothing is run here: the code is only parsed.
"""

from __future__ import annotations

import ast

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


def _parsed_prefix(code: str) -> tuple[ast.Module, list[str]] | None:
    """The module the code parses to, else the longest run of its top-level statements that parses."""
    lines = code.splitlines()
    try:
        return ast.parse(code), lines
    except (SyntaxError, ValueError):  # ValueError: a NUL byte
        pass
    # a cut-off statement: try the code up to each top-level line, from the last one back
    starts = [i for i, ln in enumerate(lines) if ln[:1].strip() and ln[0] not in "#)]}"]
    for end in reversed(starts):
        try:
            return ast.parse("\n".join(lines[:end])), lines[:end]
        except (SyntaxError, ValueError):
            continue
    return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _import_block(node: ast.stmt) -> bool:
    """A `try:` of imports (`except ImportError:` a fallback), kept like an import."""
    if not isinstance(node, ast.Try):
        return False
    parts = [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]
    return all(isinstance(s, (*_IMPORTS, *_DEFS, ast.Assign, ast.Pass)) for s in parts)


def _kept(module: ast.Module) -> list[ast.stmt]:
    used = set().union(*(_names(n) for n in module.body if isinstance(n, _DEFS)))
    kept = []
    for node in module.body:
        if isinstance(node, (*_IMPORTS, *_DEFS)) or _import_block(node):
            kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if set().union(*(_names(t) for t in targets)) & used:
                kept.append(node)
    return kept


def definitions(code: str) -> str | None:
    """The code's imports, functions, classes and the assignments they use, as written; None when no
    prefix of it parses (the caller keeps the code as it is, and its tests report the error)."""
    parsed = _parsed_prefix(code)
    if parsed is None:
        return None
    module, lines = parsed
    pieces = []
    for node in _kept(module):
        decorators = node.decorator_list if isinstance(node, _DEFS) else []
        first = min([node.lineno, *(d.lineno for d in decorators)])
        pieces.append("\n".join(lines[first - 1 : node.end_lineno]))
    return "\n\n".join(pieces) + "\n" if pieces else None
