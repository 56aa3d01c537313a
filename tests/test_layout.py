"""The package layout reads as the data flow, and stays that way.

The stages a page goes through are sub-packages; a stage may use the ones before it, never one
after it, and no two modules import each other (directly or round a loop). Every import counts,
the ones inside functions and under TYPE_CHECKING too: a lazy import is still a dependency. The
imports are read with `ast`, so no module is executed. ARCHITECTURE.md explains the order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "policywatch"

# The stages, first to last. A module belongs to the stage named by its first component under
# `policywatch` (`policywatch.fetch.http` is in `fetch`); the foundations at the top are `core`.
STAGES = (
    "core",
    "document",
    "fetch",
    "watchlist",
    "diff",
    "history",
    "alerts",
    "run",
    "views",
    "web",
    "demo",
    "cli",
)
# Top-level modules that are not foundations.
TOP_LEVEL_STAGE = {"__main__": "cli"}

MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
_PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if module in _PACKAGES or len(parts) > 2:
        return parts[1]
    return TOP_LEVEL_STAGE.get(parts[1], "core")


def imported_modules(module: str) -> set[str]:
    """Every policywatch module `module` imports, wherever the import statement stands."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if module in _PACKAGES else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and name != "policywatch":
                found.add(name)
    return found


IMPORTS = {module: imported_modules(module) for module in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_stage_never_imports_a_later_stage(module: str) -> None:
    unknown = {stage_of(m) for m in (module, *IMPORTS[module])} - set(STAGES)
    assert not unknown, f"add these packages to STAGES in the right order: {sorted(unknown)}"
    rank = STAGES.index(stage_of(module))
    later = sorted(
        imported for imported in IMPORTS[module] if STAGES.index(stage_of(imported)) > rank
    )
    assert not later, f"{module} ({stage_of(module)}) imports later stages: {later}"


def test_no_modules_import_each_other_round_a_loop() -> None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            loop = [*path[path.index(module) :], module]
            pytest.fail(f"import cycle: {' -> '.join(loop)}")
        if module in done:
            return
        for imported in sorted(IMPORTS[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(MODULES):
        visit(module, [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_fits_on_a_few_screens(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines; split it by concern"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_class_does_one_job(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    big = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert not big, f"{module}: classes over {MAX_CLASS_LINES} lines: {big}"
