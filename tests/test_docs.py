"""docs/plugins.md stays true: every hook with its signature, the example verbatim."""

import inspect
from pathlib import Path

import pytest

from semfid_bench import hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "semfid-bench-example-sr"


def _hooks():
    return [
        (name, function)
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, f"{hookspecs.PROJECT}_spec")
    ]


def test_there_are_hooks():
    assert len(_hooks()) >= 4


@pytest.mark.parametrize(("name", "function"), _hooks())
def test_every_hook_is_documented_with_its_signature(name, function):
    signature = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    assert f"`{name}({params}) -> {signature.return_annotation}`" in GUIDE


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "semfid_bench_example_sr/plugin.py",
        "semfid_bench_example_sr/model.py",
        "tests/test_plugin.py",
    ],
)
def test_guide_shows_the_example_package_verbatim(path):
    assert (EXAMPLE / path).read_text(encoding="utf-8").rstrip() in GUIDE
