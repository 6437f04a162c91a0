"""The structural rules of ponder's core (issue 10's "Done when"), checked over the source so they
stay true: no `hasattr`/`getattr` probing of envs or backends, agents reach the recorder only
through their `RunContext`, SQL lives in `ponder/traces/`, no import cycles, and every registered
strategy ships a recording."""

from __future__ import annotations

import ast
import functools
import json
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ponder"
SOURCES = sorted(PKG.rglob("*.py"))

# Every `hasattr(`/`getattr(` call in ponder/, by file and the call's own source text, with why it
# is not a probe of an env's or a backend's abilities (those are declared on `Env`/`Backend`).
ALLOWED_ATTR_CALLS: dict[tuple[str, str], str] = {
    ("cli/_common.py", 'getattr(e, "ctx", None)'): "a click exception's optional context, to word a usage error",
    ("traces/_open.py", 'getattr(e, "sqlite_errorname", "")'): "sqlite3 errors carry it from Python 3.11 on",
    ("replay/compare.py", "getattr(self, f)"): "a replay record's own fields, listed in COMPARED",
    ("replay/compare.py", "getattr(a, f)"): "two replay records' fields, listed in COMPARED",
    ("replay/compare.py", "getattr(b, f)"): "two replay records' fields, listed in COMPARED",
    ("replay/compare.py", "getattr(r_old, f)"): "two runs' fields, listed in COMPARED",
    ("replay/compare.py", "getattr(r_new, f)"): "two runs' fields, listed in COMPARED",
    ("runtime/tool_calls.py", 'getattr(tool, "timeout", None)'): "a tool (not an env or backend) may set a timeout",
    ("tui/_data.py", 'getattr(_local, "stores", None)'): "a threading.local's per-thread slot",
    ("replay/pytest_plugin.py", 'getattr(agent, "name", type(agent).__name__)'): "a user's agent object, to name it",
    ("replay/pytest_plugin.py", 'getattr(request, "function", None)'): "pytest's request has none for some scopes",
    ("search/agent.py", 'getattr(config.evaluator, "calls_saved", 0)'): "a search evaluator's optional counter",
    ("tools/base.py", "getattr(parsed, k)"): "a tool's parsed arguments model, by its own field names",
    ("tools/base.py", 'getattr(t, "fork", None)'): "a tool (not an env or backend) may fork per run",
    ("tools/_isolate.py", 'getattr(fn, "__module__", None)'): "locating a tool function to run it in a subprocess",
    ("tools/_isolate.py", 'getattr(fn, "__qualname__", "")'): "locating a tool function to run it in a subprocess",
    ("tools/_isolate.py", "getattr(obj, part)"): "resolving a tool function by its qualified name",
    ("tools/_isolate.py", 'getattr(obj, "fn", obj)'): "unwrapping the FunctionTool that @tool made",
    ("tools/calculator.py", 'getattr(e, "msg", None)'): "a SyntaxError's message, to word a tool error",
    ("backends/__init__.py", "getattr(importlib.import_module(_LAZY[name]), name)"): "the package's lazy exports",
    ("__init__.py", "getattr(importlib.import_module(_LAZY[name]), name)"): "the package's lazy exports",
    ("traces/__init__.py", "getattr(importlib.import_module(_LAZY[name]), name)"): "the package's lazy exports",
}


def _rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def _allowed() -> set[tuple[str, str]]:
    return {(f, call.replace('"', "'")) for f, call in ALLOWED_ATTR_CALLS}  # ast.unparse writes '...'


def _attr_calls() -> list[tuple[str, str]]:
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("hasattr", "getattr")
                and len(node.args) >= 2
            ):
                found.append(
                    (_rel(path), ast.unparse(node.func) + "(" + ", ".join(ast.unparse(a) for a in node.args) + ")")
                )
    return found


def test_no_attribute_probes_outside_the_reviewed_list() -> None:
    calls = _attr_calls()
    unreviewed = [c for c in calls if c not in _allowed()]
    assert not unreviewed, (
        f"hasattr/getattr calls not in ALLOWED_ATTR_CALLS (declare the ability instead): {unreviewed}"
    )
    assert not [c for c in calls if c[1].startswith("hasattr(")], "no hasattr( probes in ponder/"


def test_the_allow_list_has_no_stale_entries() -> None:
    stale = _allowed() - set(_attr_calls())
    assert not stale, f"remove these from ALLOWED_ATTR_CALLS: {sorted(stale)}"


def test_strategies_reach_the_recorder_only_through_the_run_context() -> None:
    offenders = [
        f"{_rel(p)}:{i}"
        for package in ("agents", "search")
        for p in sorted((PKG / package).rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if ".recorder." in line or "._recorder." in line
    ]
    assert not offenders, offenders


_SQL = re.compile(
    r"\b(select\s+(distinct\s+)?[\w.*()]+(\s*,\s*[\w.*()]+)*\s+from\s+\w+|insert\s+(or\s+\w+\s+)?into|update\s+\w+\s+set|delete\s+from|create\s+(table|index|virtual)"
    r"|drop\s+table|pragma\s+\w+|begin\s+immediate)\b",
    re.IGNORECASE | re.DOTALL,
)
# tools/search.py keeps its own FTS5 corpus database (not the trace store), which
# tools/corpus_build.py fills: their SQL stays there
_SQL_OWNERS = ("traces/", "tools/search.py", "tools/corpus_build.py")


def test_no_sql_outside_the_trace_store() -> None:
    offenders = []
    for path in SOURCES:
        if _rel(path).startswith(_SQL_OWNERS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
                offenders.append(f"{_rel(path)}:{node.lineno}: {node.value[:60]!r}")
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executescript", "executemany", "conn"):
                offenders.append(f"{_rel(path)}:{node.lineno}: .{node.attr}")
        if re.search(
            r"^\s*(import sqlite3|from sqlite3|import sqlite_utils|from sqlite_utils)", path.read_text(), re.M
        ):
            offenders.append(f"{_rel(path)}: imports sqlite")
    assert not offenders, offenders


def test_the_sql_check_sees_sql() -> None:
    assert _SQL.search("select id from runs where x = ?")
    assert _SQL.search("INSERT OR REPLACE INTO events (a) VALUES (?)")
    assert not _SQL.search("select the best state from the frontier")
    assert not _SQL.search("Update the plan")
    assert _SQL.search("select count(*) from pages")


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


@functools.cache  # several tests read it; nothing mutates it
def import_graph(*, module_level_only: bool) -> nx.DiGraph:
    """ponder's modules and the ponder modules each imports (`from pkg import sub` points at the
    submodule; `if TYPE_CHECKING:` imports are left out of the module-level graph)."""
    modules = {_module_name(p)[0]: p for p in SOURCES}
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(modules)

    def statements(body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in body:
            if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test):
                continue
            if isinstance(s, ast.If):
                out += statements(s.body) + statements(s.orelse)
            elif isinstance(s, ast.Try):
                out += statements(s.body) + statements(s.orelse) + statements(s.finalbody)
                for h in s.handlers:
                    out += statements(h.body)
            else:
                out.append(s)
        return out

    for name, path in modules.items():
        is_pkg = _module_name(path)[1]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = {
            id(n)
            for s in ast.walk(tree)
            if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test)
            for n in ast.walk(s)
        }  # annotations only: never imported at run time, so not a cycle
        nodes = statements(tree.body) if module_level_only else [n for n in ast.walk(tree) if id(n) not in type_only]
        for node in nodes:
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = name.split(".") if is_pkg else name.split(".")[:-1]
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_import_graph_is_real() -> None:
    graph = import_graph(module_level_only=True)
    assert graph.has_edge("ponder.envs.game24", "ponder.envs.game24.env")
    assert graph.number_of_edges() > 100


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "with-function-level"])
def test_no_import_cycles(module_level_only: bool) -> None:
    cycles = list(nx.simple_cycles(import_graph(module_level_only=module_level_only)))
    assert not cycles, [" -> ".join(c) for c in sorted(cycles, key=len)[:10]]


def _registered(group: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(project["project"]["entry-points"][group])


def test_every_registered_strategy_ships_a_recording() -> None:
    """Each `ponder.agents` entry point has a run in some tests/recordings/*.db (which
    tests/replay/test_shipped_recordings.py replays and requires `identical`)."""
    recorded: set[str] = set()
    for db in sorted((ROOT / "tests" / "recordings").glob("*.db")):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            recorded |= {row[0] for row in conn.execute("select distinct agent from runs where parent_id is null")}
        finally:
            conn.close()
    missing = sorted(set(_registered("ponder.agents")) - recorded)
    assert not missing, f"strategies with no shipped recording: {missing}"


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "with-function-level"])
def test_runtime_and_search_never_import_strategies(module_level_only: bool) -> None:
    """`ponder.runtime` is what strategies run on and `ponder.search` is built on it: neither imports
    `ponder.agents` (the strategies), at module level or inside a function."""
    graph = import_graph(module_level_only=module_level_only)
    offenders = [
        f"{a} -> {b}"
        for a, b in graph.edges
        if a.startswith(("ponder.runtime", "ponder.search")) and b.startswith("ponder.agents")
    ]
    assert not offenders, offenders


# what a light entry point must not load (issue 19): strategies, the search layer, the runtime they
# run on, and the heavy third-party modules only some commands need
_HEAVY = (
    "ponder.agents",
    "ponder.search",
    "ponder.runtime",
    "ponder.tui",
    "doctest",
    "multiprocessing",
    "textual",
    "openai",
    "sqlite_utils",
    "numpy",
    "asyncio",
)
_LOADED = "import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"


def _loaded_by(module: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return names


@pytest.mark.parametrize("module", ["ponder", "ponder.cli", "ponder.replay.pytest_plugin"])
def test_light_entry_points_load_no_heavy_module(module: str) -> None:
    """`import ponder`, the `ponder` command and the pytest plugin (loaded into every pytest run of
    anyone who installed ponder) import what a command needs when it runs, not before."""
    loaded = _loaded_by(module)
    heavy = sorted({h for h in _HEAVY for n in loaded if n == h or n.startswith(h + ".")})
    assert not heavy, f"`import {module}` loads {heavy}"


def test_the_light_import_check_sees_a_heavy_import() -> None:
    loaded = _loaded_by("ponder.agents.cot")
    assert "ponder.runtime.context" in loaded and "ponder.agents.cot" in loaded


@pytest.mark.parametrize("package", ["ponder", "ponder.backends", "ponder.traces"])
def test_every_lazy_public_name_resolves(package: str) -> None:
    import importlib

    mod = importlib.import_module(package)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError):
        _ = mod.no_such_name


_VIEWER = """
import json, sqlite3, sys
from pathlib import Path
from ponder.traces.kinds import kind_spec
for db in sorted(Path(sys.argv[1]).glob("*.db")):
    for (kind,) in sqlite3.connect(db).execute("select distinct kind from events"):
        assert kind_spec(kind).name == kind
print(json.dumps(sorted(sys.modules)))
"""


# packages whose kinds module a viewer loads: their `__init__` imports nothing (the strategy is `.agent`)
_KIND_PACKAGES = ("ponder.agents.got", "ponder.agents.rap", "ponder.agents.plan_execute", "ponder.agents.llm_compiler")


def test_a_viewer_labels_every_recorded_kind_without_importing_a_strategy() -> None:
    """Every kind in the shipped recordings is declared by ponder.traces or a light `ponder.kinds`
    module: looking them all up loads no strategy, no runtime, no search layer."""
    done = subprocess.run(
        [sys.executable, "-c", _VIEWER, str(ROOT / "tests" / "recordings")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    kind_modules = set(_registered("ponder.kinds").values())
    strategies = [
        m
        for m in loaded
        if m.startswith(("ponder.agents.", "ponder.runtime", "ponder.search"))
        and m not in kind_modules
        and m not in _KIND_PACKAGES
    ]
    assert not strategies, f"looking kinds up imported {strategies}"


def test_strategies_declare_their_kinds_in_registered_kind_modules() -> None:
    """A module of ponder's that declares an event kind is the trace layer's or a `ponder.kinds` module."""
    kind_modules = set(_registered("ponder.kinds").values())
    offenders = []
    for path in SOURCES:
        name = _module_name(path)[0]
        declares = any(
            (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("declare_kind"))
            or (isinstance(node, ast.ClassDef) and any(k.arg in ("kind", None) for k in node.keywords))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
        if declares and not name.startswith("ponder.traces") and name not in kind_modules:
            offenders.append(name)
    assert not offenders, f"declare these modules' kinds in a light module registered under ponder.kinds: {offenders}"


def test_strategies_reach_their_env_only_through_the_run_context() -> None:
    """One resolver (`ponder.runtime.env.resolve_env`) chooses a run's env; strategies read `ctx.env`
    and never build an env or read the env a task names themselves."""
    rule = re.compile(
        r"""registry\.build\(\s*["']envs["']|metadata\.get\(\s*["']env["']|metadata\[\s*["']env["']\s*\]"""
    )
    offenders = [
        f"{_rel(p)}:{i}"
        for package in ("agents", "search")
        for p in sorted((PKG / package).rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if rule.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, offenders
    assert rule.search('registry.build("envs", name, {}, "env")') and rule.search("task.metadata.get('env')")


# the modules directly under ponder/ (issue 19: a root that shows the architecture); each is shared by
# most packages, so it belongs to none of them. A new one is a decision: add it here with its reason.
ROOT_MODULES = {
    "__init__": "the public names, imported lazily",
    "errors": "the one error hierarchy every layer raises",
    "types": "the value types backends, strategies and traces exchange",
    "registry": "the one way anything is built from a name (agents, backends, envs, tools, search, kinds)",
    "parsing": "answer extraction: strategies, envs, the runner and the search layer read answers the same way",
}


def test_the_package_root_holds_only_the_shared_modules() -> None:
    found = {p.stem for p in PKG.glob("*.py")}
    assert found == set(ROOT_MODULES), (
        f"modules directly under ponder/ that are not in ROOT_MODULES: {sorted(found - set(ROOT_MODULES))}"
        f"; listed but gone: {sorted(set(ROOT_MODULES) - found)} (a module belongs to its package's folder)"
    )


def _re_exports(path: Path) -> list[str]:
    """Names in a module's `__all__` that it imports from another public ponder module (a module that
    gathers its private parts' names, as `traces/store.py` its `_base`, `_merge`, ..., is their one path)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        a.asname or a.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("ponder")
        and not (node.module or "").rpartition(".")[2].startswith("_")
        for a in node.names
    }
    listed = [
        e.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        for e in getattr(node.value, "elts", [])
        if isinstance(e, ast.Constant)
    ]
    return [n for n in listed if n in imported]


def test_only_packages_re_export() -> None:
    """A package's `__init__` may gather its public names; a module names only what it defines, so each
    name has one import path (no re-exports left behind for the old path of a name that moved)."""
    offenders = {_rel(p): names for p in SOURCES if p.name != "__init__.py" and (names := _re_exports(p))}
    assert not offenders, offenders


def test_the_re_export_check_sees_one(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ponder.traces._base import new_id\nfrom ponder.types import Task\n\n"
        'def f(): ...\n\n__all__ = ["Task", "f", "new_id"]\n'
    )
    assert _re_exports(module) == ["Task"]


def test_recordings_name_what_they_ran_by_registered_name() -> None:
    """Runs name their strategy by its registered name (the `ponder.agents` entry point), never by a
    module path, so moving a module never orphans a recording; nothing recorded names a ponder module."""
    strategies = set(_registered("ponder.agents"))
    module_path = re.compile(r"\bponder\.(?:agents|search|envs|runtime|tools|backends)\.\w+")
    for db in sorted((ROOT / "tests" / "recordings").glob("*.db")):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            agents = {row[0] for row in conn.execute("select distinct agent from runs")}
            texts = [
                value
                for table in ("runs", "events")
                for row in conn.execute(f"select * from {table}")
                for value in row
                if isinstance(value, str)
            ]
        finally:
            conn.close()
        assert agents <= strategies, f"{db.name}: runs of {sorted(agents - strategies)}, not registered names"
        named = sorted({m.group(0) for t in texts for m in module_path.finditer(t)})
        assert not named, f"{db.name} names ponder modules: {named}"


MAX_FUNCTION_LINES = 80
# functions allowed past MAX_FUNCTION_LINES, by file and name, each with the reason it has no seam to split at
LONG_FUNCTIONS: dict[tuple[str, str], str] = {}


def _long_functions(source: str, rel: str) -> list[tuple[str, str, int]]:
    """(file, function, lines) for each function of `source` longer than MAX_FUNCTION_LINES (from its
    `def` line to its last line: signature, docstring and nested functions included)."""
    return [
        (rel, node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_no_function_is_longer_than_80_lines() -> None:
    """Long functions are split where they have seams (issue 19 item 8); a function that has none is
    listed in LONG_FUNCTIONS with why."""
    found = [f for p in SOURCES for f in _long_functions(p.read_text(encoding="utf-8"), _rel(p))]
    unlisted = [f"{file}:{name} ({n} lines)" for file, name, n in found if (file, name) not in LONG_FUNCTIONS]
    assert not unlisted, f"functions over {MAX_FUNCTION_LINES} lines: {unlisted}"
    stale = set(LONG_FUNCTIONS) - {(file, name) for file, name, _ in found}
    assert not stale, f"no longer long: remove {sorted(stale)} from LONG_FUNCTIONS"


def test_the_length_check_sees_a_long_function() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert _long_functions(f"async def f():\n{body}", "m.py") == [("m.py", "f", MAX_FUNCTION_LINES + 1)]
    assert _long_functions("def g():\n    return 1\n", "m.py") == []
