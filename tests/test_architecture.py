"""The import rule of docs/architecture.md, checked on the code: a package imports only
packages below it in the flow (and ``plugin_api``); the core (``execution``, ``report``)
never imports a specific model, metric or captioner; nothing imports ``plugins`` but the
plugin manager. Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies, and
are not checked; imports inside functions (lazy ones) are."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "semfid_bench"

# Bottom to top: each may import those before it. Root modules that import nothing of the
# package (text safety) and the package's ``__init__`` (its version) are open to all.
FLOW = (
    "plugin_api",
    "datasets",
    "degradations",
    "vision_language",
    "sr_models",
    "metrics",
    "learned",
    "execution",
    "report",
    "study",
    "api",
    "commands",
    "plugins",
    "cli",
)
FOUNDATION = ("__init__", "escaping", "safe_paths")
# The core sees models, metrics and captioners only through plugin_api (the registry).
CORE = ("execution", "report")
MODELS = ("degradations", "vision_language", "sr_models", "metrics", "learned")
# (importing module, imported module): the plugin manager registers the built-in plugins,
# whose list of module names is all that ``plugins/__init__.py`` holds.
EXCEPTIONS = {("plugin_api.plugin_manager", "plugins")}


def _part(dotted: str) -> str:
    """The top-level package or root module that ``semfid_bench.<dotted>`` belongs to."""
    return dotted.split(".")[0] if dotted else "__init__"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return guarded


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every ``semfid_bench`` module that ``path`` imports at run time (dotted, without the
    ``semfid_bench.`` prefix), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations_only = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "semfid_bench":
                names = [
                    f"semfid_bench.{alias.name}" if _is_module(alias.name) else "semfid_bench"
                    for alias in node.names
                ]
        else:
            continue
        for name in names:
            if name == "semfid_bench" or name.startswith("semfid_bench."):
                found.append((name.removeprefix("semfid_bench").lstrip("."), node.lineno))
    return found


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def _allowed(source: str, target: str) -> bool:
    if target == source or target in FOUNDATION:
        return True
    if source in CORE and target in MODELS:
        return False
    if source in FOUNDATION:
        return False
    return FLOW.index(target) < FLOW.index(source)


def test_every_module_has_a_place_in_the_flow():
    """A new module goes into the package of its stage, not flat at the package root."""
    homeless = sorted({_part(_module_name(p)) for p in _modules()} - set(FLOW) - set(FOUNDATION))
    assert not homeless, f"put these into a package of the flow (docs/architecture.md): {homeless}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_flow(path):
    module = _module_name(path)
    source = _part(module)
    if source not in FLOW and source not in FOUNDATION:
        pytest.skip("reported by test_every_module_has_a_place_in_the_flow")
    wrong = [
        f"line {line}: semfid_bench.{target}"
        for target, line in _imports(path)
        if _part(target) in (*FLOW, *FOUNDATION)
        and not _allowed(source, _part(target))
        and (module, _part(target)) not in EXCEPTIONS
    ]
    assert not wrong, f"{module} ({source}) may not import: {wrong} (see docs/architecture.md)"
