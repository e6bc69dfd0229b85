"""docs/plugins.md stays true: every hook with its signature, the example verbatim."""

import inspect
from pathlib import Path

import pytest

from semfid_bench.plugin_api import hookspecs

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


def _spec_rows():
    import dataclasses

    from semfid_bench.plugin_api import specs

    classes = (
        specs.MetricSpec,
        specs.SRModelSpec,
        specs.DegradationSpec,
        specs.DatasetSpec,
        specs.CaptionerSpec,
        specs.PresetSpec,
        specs.NamespaceSpec,
    )
    for cls in classes:
        for field in dataclasses.fields(cls):
            default = (
                "required"
                if field.default is dataclasses.MISSING
                else repr(field.default).replace("inf", "math.inf")
            )
            kind = field.type.replace("|", "\\|")  # a pipe in a table cell is escaped
            yield f"| `{cls.__name__}` | `{field.name}` | `{kind}` | {default} |"


@pytest.mark.parametrize("row", list(_spec_rows()))
def test_every_spec_field_is_documented_with_type_and_default(row):
    assert row in GUIDE


@pytest.mark.parametrize(
    "name",
    [
        "ExplainsScores",
        "TracesSteps",
        "DeclaresWeights",
        "ReportsExecution",
        "ReportsFallbacks",
        "ProducesArtefacts",
    ],
)
def test_optional_method_protocols_are_shown_verbatim(name):
    from semfid_bench.plugin_api import interfaces

    assert inspect.getsource(getattr(interfaces, name)).rstrip() in GUIDE


def test_factory_context_fields_are_documented():
    import dataclasses

    from semfid_bench.plugin_api.registry import PluginContext

    for field in dataclasses.fields(PluginContext):
        assert f"| `{field.name}` | `{field.type}` |" in GUIDE
