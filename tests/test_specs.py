"""Specs validate their fields on construction, naming the spec and the field."""

import math

import pytest

from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.specs import (
    CaptionerSpec,
    DatasetSpec,
    DegradationSpec,
    MetricSpec,
    NamespaceSpec,
    SpecError,
    SRModelSpec,
)

BAD_NAMES = ["", " psnr", "a b", "-x", ".hidden", "x/y", "<b>", "a\nb", "x" * 65, 3, None]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "make",
    [
        lambda n: MetricSpec(name=n, higher_is_better=True),
        lambda n: SRModelSpec(name=n),
        lambda n: DegradationSpec(name=n),
        lambda n: DatasetSpec(name=n),
        lambda n: CaptionerSpec(name=n),
        lambda n: NamespaceSpec(prefix=n),
    ],
)
def test_names_with_characters_that_are_not_allowed_are_refused(make, name):
    with pytest.raises(SpecError, match=r"(name|prefix) must be a non-empty string"):
        make(name)


def test_allowed_names():
    for name in ("psnr-y", "qwen2.5-vl", "clipiqa+_rn50_512", "X4", "a" * 64):
        assert SRModelSpec(name=name).name == name
    assert MetricSpec(name="pyiqa:musiq-koniq", higher_is_better=True).name == "pyiqa:musiq-koniq"
    with pytest.raises(SpecError):  # only (namespaced) metrics carry a colon
        SRModelSpec(name="a:b")
    with pytest.raises(SpecError):  # and only one
        MetricSpec(name="a:b:c", higher_is_better=True)
    with pytest.raises(SpecError, match="prefix"):
        NamespaceSpec(prefix="pyiqa:")


@pytest.mark.parametrize("scales", [4, "4", (), (0,), (-2,), (4.0,), (True,), None])
@pytest.mark.parametrize("cls", [SRModelSpec, DegradationSpec])
def test_scales_must_be_a_tuple_of_positive_integers(cls, scales):
    with pytest.raises(SpecError, match=rf"{cls.__name__} 'x': scales must be a non-empty tuple"):
        cls(name="x", scales=scales)


def test_scales_and_levels_lists_become_tuples():
    spec = DegradationSpec(name="x", scales=[2, 4], levels=[0, 0.5, 1])
    assert spec.scales == (2, 4) and spec.levels == (0.0, 0.5, 1.0)
    assert all(isinstance(level, float) for level in spec.levels)
    hash(spec)  # still usable as a frozen, hashable value


@pytest.mark.parametrize("levels", [0.5, (), (1.5,), (-0.1,), (math.nan,), ("0.5",), (True,)])
def test_levels_must_lie_in_zero_one(levels):
    with pytest.raises(SpecError, match=r"DegradationSpec 'x': levels must be .* in \[0, 1\]"):
        DegradationSpec(name="x", levels=levels)


@pytest.mark.parametrize("direction", [None, "up", 1, 0, "higher"])
def test_direction_must_be_a_bool(direction):
    with pytest.raises(SpecError, match="MetricSpec 'm': higher_is_better must be True or False"):
        MetricSpec(name="m", higher_is_better=direction)


def test_needs_lr_must_be_a_bool_and_defaults_to_false():
    assert MetricSpec(name="m", higher_is_better=True).needs_lr is False
    with pytest.raises(SpecError, match="needs_lr must be True or False"):
        MetricSpec(name="m", higher_is_better=True, needs_lr=1)


def test_full_reference_must_be_a_bool():
    with pytest.raises(SpecError, match="full_reference must be True or False"):
        MetricSpec(name="m", higher_is_better=True, full_reference="no")


@pytest.mark.parametrize(
    "value_range",
    [(1.0, 0.0), (0.5, 0.5), (0.0,), (0.0, 1.0, 2.0), 1.0, (0.0, math.nan), ("0", "1"), None],
)
def test_value_range_must_be_an_increasing_pair(value_range):
    with pytest.raises(SpecError, match="MetricSpec 'm': value_range must be"):
        MetricSpec(name="m", higher_is_better=True, value_range=value_range)


def test_value_range_may_be_unbounded():
    spec = MetricSpec(name="m", higher_is_better=False, value_range=[0, math.inf])
    assert spec.value_range == (0, math.inf)


@pytest.mark.parametrize("value", [None, 3, "two\nlines", "\x1b[31mred", "bell\a"])
@pytest.mark.parametrize("field", ["convention", "description"])
def test_text_fields_must_be_one_printable_line(field, value):
    with pytest.raises(SpecError, match=f"MetricSpec 'm': {field} must be one line of printable"):
        MetricSpec(name="m", higher_is_better=True, **{field: value})
    with pytest.raises(SpecError, match="description must be one line of printable text"):
        CaptionerSpec(name="c", description=value)


def test_spec_errors_are_value_errors_and_plugin_errors():
    assert issubclass(SpecError, ValueError) and issubclass(SpecError, PluginError)


def test_an_invalid_spec_is_a_plugin_problem_not_a_crash(make_registry):
    class IntScales:
        @hookimpl
        def register_sr_models(self, register):
            register.add(SRModelSpec(name="broken", scales=4), "x:y")

    registry = make_registry(IntScales())
    assert any(
        "register_sr_models failed: SRModelSpec 'broken': scales must be" in p
        for p in registry.problems
    )
    assert "bicubic" in registry.names("sr_model")


@pytest.mark.parametrize("value", [-1, "4 GiB", float("nan"), float("inf"), True])
def test_gpu_memory_must_be_none_or_a_non_negative_number(value):
    from semfid_bench.plugin_api.specs import MetricSpec, SpecError, SRModelSpec

    with pytest.raises(SpecError, match="gpu_memory_gib"):
        SRModelSpec(name="m", gpu_memory_gib=value)
    with pytest.raises(SpecError, match="gpu_memory_gib"):
        MetricSpec(name="m", higher_is_better=True, gpu_memory_gib=value)
    assert SRModelSpec(name="m", gpu_memory_gib=0).gpu_memory_gib == 0


def test_every_built_in_gpu_model_has_a_memory_estimate():
    """The table in docs/scaling.md is read from these; models on the GPU must have one."""
    from semfid_bench.plugin_api.plugin_manager import build_registry

    registry = build_registry()
    for kind, names in (
        (
            "sr_model",
            ["bsrgan", "swinir", "realesrgan", "sd-x4-upscaler", "seesr", "pasd", "stablesr"],
        ),
        ("metric", ["lpips", "clip", "c2i", "c2c", "regressor", "clu", "splice-sym"]),
    ):
        for name in names:
            assert registry.get(kind, name).spec.gpu_memory_gib > 0, name
