"""The package layout holds: the pure libraries import nothing of the web, the database or
the settings, every package imports only packages below it, and no module cycle hides
behind a function-local import (README, "How the code is laid out")."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

# Bottom to top. A package may import its own modules and those of a lower rank.
LAYERS: list[set[str]] = [
    {"core", "inference"},
    {"documents", "liveness", "security"},
    {"models", "storage", "analysis"},
    {"access", "config", "phone_match"},
    {"context"},
    {"deps"},
    {"webhooks"},
    {"orders"},
    {"mini"},
    {"filing", "ops"},
    {"capture"},
    {"handlers", "lifespan"},
    {"main", "__main__"},
]
PURE = {"documents", "liveness", "inference"}
WEB = ("fastapi", "starlette", "sqlalchemy", "pydantic_settings", "uvicorn", "httpx")


def _modules() -> dict[str, Path]:
    out = {}
    for f in APP.rglob("*.py"):
        parts = f.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute import of the file, function-local ones included (they are edges too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(package: str) -> int:
    for i, layer in enumerate(LAYERS):
        if package in layer:
            return i
    raise AssertionError(f"app/{package} is in no layer of tests/test_layout.py: place it")


def test_every_package_has_a_layer() -> None:
    for module in _modules():
        if module != "app":
            _rank(_package(module))


def test_pure_libraries_import_no_web_database_or_settings() -> None:
    bad = []
    for module, path in _modules().items():
        if _package(module) not in PURE:
            continue
        allowed = {_package(module), "inference"}  # and nothing else of app/
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top in WEB or (top == "app" and _package(name) not in allowed):
                bad.append(f"{path.relative_to(APP.parent)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_packages_import_only_downwards() -> None:
    bad = []
    for module, path in _modules().items():
        mine = _package(module)
        if not mine:
            continue
        for name, line in _imports(path):
            if not name.startswith("app.") or name not in _modules():
                continue
            theirs = _package(name)
            if theirs != mine and _rank(theirs) >= _rank(mine):
                bad.append(f"{path.relative_to(APP.parent)}:{line}: {mine} -> {theirs}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_no_module_cycles() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for name, _line in _imports(path):
            if name in modules and name != module and not module.startswith(name + "."):
                graph[module].add(name)
    # A package's __init__ importing its own submodules is how a package exports; the
    # submodules must not import the __init__ back, so the edge is dropped only that way.
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_the_graph_test_sees_a_cycle(tmp_path: Path) -> None:
    """The checks above can fail: an upward import is reported."""
    assert _rank("capture") > _rank("orders") > _rank("models")
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from app.capture.router import router\n")
    assert ("app.capture.router", 2) in _imports(src)


def test_no_tracked_symlink_leaves_the_checkout() -> None:
    """A worktree's `data` or `node_modules` link to another checkout must never be committed:
    a clone would get a link to a folder it does not have (and git replaces the real one)."""
    import os
    import subprocess

    root = APP.parent
    if not (root / ".git").exists():
        return  # an installed copy, not a checkout
    out = subprocess.run(
        ["git", "ls-files", "-s"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    links = [line.split("\t", 1)[1] for line in out.splitlines() if line.startswith("120000 ")]
    bad = []
    for path in links:
        target = (root / path).parent / os.readlink(root / path)
        if not target.resolve().is_relative_to(root.resolve()):
            bad.append(path)
    assert not bad, bad


def test_bench_and_scripts_do_not_edit_the_import_path() -> None:
    """bench/ is a package run as `python -m bench.NAME` from the checkout: no script puts
    the checkout (or bench/) on sys.path by hand, so nothing imports a stray copy."""
    root = APP.parent
    offenders = []
    for path in [
        *sorted((root / "bench").rglob("*.py")),
        *sorted((root / "tests/container").glob("*.py")),
    ]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders


def _unexplained_local_imports(path: Path) -> list[int]:
    """Lines of function-local imports with no reason: a comment on the import, or on the
    line above its block of imports (README: only a heavy optional dependency loaded lazily)."""
    lines = path.read_text().splitlines()
    bad = []
    for fn in ast.walk(ast.parse("\n".join(lines), str(path))):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            end = node.end_lineno or node.lineno
            explained = any("#" in lines[k] for k in range(node.lineno - 1, end))
            j = node.lineno - 2
            while not explained and j >= 0:
                text = lines[j].strip()
                if text.startswith("#"):
                    explained = True
                elif (
                    text == ""
                    or text.startswith(("import ", "from ", ")"))
                    or text.endswith((",", "("))
                ):
                    explained = "#" in lines[j]
                    j -= 1
                    continue
                break
            if not explained:
                bad.append(node.lineno)
    return sorted(set(bad))


def test_function_local_imports_say_why() -> None:
    found = []
    for module, path in _modules().items():
        found += [f"{module}:{line}" for line in _unexplained_local_imports(path)]
    assert not found, found
