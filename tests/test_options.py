"""Plugin options: effective options, scoped --set targets, variant labels."""

import pytest

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.options import (
    effective_options,
    factory_options,
    missing_required,
    non_default,
    scoped_options,
    variant_label,
)
from semfid_bench.plugin_api.specs import DegradationSpec, SRModelSpec

SELECTION = {"sr_model": ["bicubic"], "degradation": ["bicubic"], "metric": ["psnr-y"]}


def test_effective_options_are_the_defaults_merged_with_what_is_set(make_registry):
    registry = make_registry()
    assert effective_options(registry, "metric", "psnr-y", {}) == {"crop_border": 4}
    assert effective_options(registry, "metric", "psnr-y", {"crop_border": 0}) == {"crop_border": 0}
    assert effective_options(registry, "sr_model", "bicubic", {}) == {"mode": "bicubic"}
    # device and scale come from the run, never from options
    assert "device" not in effective_options(registry, "degradation", "bicubic", {})


def test_factory_options_list_names_defaults_types_and_required():
    def factory(scale, device=None, *, checkpoint: str, steps: int = 20, **extra):
        return None

    options, open_ended = factory_options(factory)
    assert [(o.name, o.required, o.annotation) for o in options] == [
        ("checkpoint", True, "str"),
        ("steps", False, "int"),
    ]
    assert options[1].default == 20 and open_ended


def test_scoped_targets_pick_the_kind(make_registry):
    registry = make_registry()
    options = {"model:bicubic": {"mode": "bilinear"}, "psnr-y": {"crop_border": 0}}
    assert scoped_options(registry, options, SELECTION) == {
        ("sr_model", "bicubic"): {"mode": "bilinear"},
        ("metric", "psnr-y"): {"crop_border": 0},
    }


class Twins:
    """An SR model and a degradation of the same name taking the same option."""

    @hookimpl
    def register_sr_models(self, register):
        register.add(SRModelSpec(name="twin"), _twin)

    @hookimpl
    def register_degradations(self, register):
        register.add(DegradationSpec(name="twin"), _twin)


def _twin(scale=4, device=None, strength: float = 1.0):
    return None


def test_a_bare_name_goes_to_the_selected_plugin_that_accepts_the_options(make_registry):
    registry = make_registry()
    both = SELECTION | {"sr_model": ["bicubic", "bsrgan"], "degradation": ["bicubic", "bsrgan"]}
    resolved = scoped_options(
        registry, {"bicubic": {"mode": "bilinear"}, "bsrgan": {"weights": "w.pth"}}, both
    )
    assert resolved == {
        ("sr_model", "bicubic"): {"mode": "bilinear"},
        ("sr_model", "bsrgan"): {"weights": "w.pth"},
    }


def test_an_ambiguous_bare_name_is_refused_with_the_scoped_forms(make_registry):
    registry = make_registry(Twins())
    twins = {"sr_model": ["twin"], "degradation": ["twin"], "metric": []}
    with pytest.raises(SemfidError, match="several selected plugins") as caught:
        scoped_options(registry, {"twin": {"strength": 2}}, twins)
    assert "--set model:twin.KEY=VALUE" in caught.value.hint
    assert "--set degradation:twin.KEY=VALUE" in caught.value.hint
    resolved = scoped_options(registry, {"degradation:twin": {"strength": 2}}, twins)
    assert resolved == {("degradation", "twin"): {"strength": 2}}
    only_model = twins | {"degradation": ["bicubic"]}
    assert scoped_options(registry, {"twin": {"strength": 2}}, only_model) == {
        ("sr_model", "twin"): {"strength": 2}
    }


@pytest.mark.parametrize("key", ["device", "scale"])
def test_device_and_scale_are_not_plugin_options(make_registry, key):
    with pytest.raises(SemfidError, match="set for the whole run") as caught:
        scoped_options(make_registry(), {"psnr-y": {key: 2}}, SELECTION)
    assert "--device / --scale" in caught.value.hint


def test_options_for_a_plugin_that_is_not_selected_are_refused(make_registry):
    with pytest.raises(SemfidError, match="no selected plugin is named 'psnr_y'"):
        scoped_options(make_registry(), {"psnr_y": {"crop_border": 0}}, SELECTION)
    with pytest.raises(SemfidError, match="no selected plugin is named 'ssim'"):
        scoped_options(make_registry(), {"metric:ssim": {"crop_border": 0}}, SELECTION)


def test_labels_show_only_what_differs_from_the_defaults():
    defaults = {"crop_border": 4, "mode": "a"}
    assert non_default({"crop_border": 0, "mode": "a"}, defaults) == {"crop_border": 0}
    assert variant_label("psnr-y", {}) == "psnr-y"
    assert variant_label("psnr-y", {"crop_border": 0}) == "psnr-y[crop_border=0]"
    assert variant_label("x", {"b": "t", "a": [1]}, version=3) == "x[a=[1], b=t]@v3"


def test_learned_metrics_require_a_checkpoint(make_registry):
    registry = make_registry()
    assert missing_required(registry, "metric", "clu", {}) == ["checkpoint"]
    assert missing_required(registry, "metric", "clu", {"checkpoint": "c"}) == []
    assert missing_required(registry, "metric", "psnr", {}) == []
