"""One captioner per run configuration: ``c2c`` and ``c2i`` asking their registry for the same
captioner get the same object (one VLM in memory, not two); the caption cache key holds the
captioner's dtype and device type."""

import pytest
import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Captioner
from semfid_bench.plugin_api.registry import PluginContext
from semfid_bench.plugin_api.specs import CaptionerSpec
from semfid_bench.vision_language.captions import CaptionSource


class Counting(Captioner):
    """Counts its constructions and its caption calls; records dtype and device."""

    built = 0
    captioned = 0

    def __init__(self, device=None, style: str = "plain", dtype: str = "float32"):
        type(self).built += 1
        self.device = torch.device(device or "cpu")
        self.dtype = dtype
        self.config = {"model": "counting", "style": style}

    def caption(self, images):
        type(self).captioned += len(images)
        return [f"image {i}" for i in range(len(images))]


class CountingPlugin:
    @hookimpl
    def register_captioners(self, register):
        register.add(CaptionerSpec(name="counting"), Counting)


@pytest.fixture
def registry(make_registry, monkeypatch):
    monkeypatch.setattr(Counting, "built", 0)
    monkeypatch.setattr(Counting, "captioned", 0)
    return make_registry(CountingPlugin())


def _captioner(registry, metric, **options):
    extra = {"model": options.pop("clip")} if metric == "c2i" else {}
    created = registry.create(
        "metric", metric, device="cpu", captioner="counting", **extra, **options
    )
    return created.captions._ensure()[0]


def test_c2c_and_c2i_build_one_captioner(registry, tiny_clip):
    first = _captioner(registry, "c2i", clip=tiny_clip, pretrained="none")
    second = _captioner(registry, "c2c")
    assert first is second and Counting.built == 1


def test_an_option_set_to_its_default_shares_the_captioner(registry, tiny_clip):
    first = _captioner(registry, "c2i", clip=tiny_clip, pretrained="none")
    second = _captioner(registry, "c2c", captioner_options={"style": "plain"})
    assert first is second and Counting.built == 1


def test_other_options_or_device_get_their_own_captioner(registry, tiny_clip):
    plain = _captioner(registry, "c2c")
    fancy = _captioner(registry, "c2c", captioner_options={"style": "fancy"})
    half = _captioner(registry, "c2c", captioner_options={"dtype": "float16"})
    elsewhere = registry.shared("captioner", "counting", device="meta")
    assert len({id(plain), id(fancy), id(half), id(elsewhere)}) == 4
    assert fancy.config["style"] == "fancy" and half.dtype == "float16"
    assert Counting.built == 4


def test_each_registry_has_its_own_captioners(registry, make_registry):
    other = make_registry(CountingPlugin())
    assert registry.shared("captioner", "counting") is not other.shared("captioner", "counting")


def _caption_once(make_registry, options, device="cpu"):
    """Caption two GT images through a fresh registry (a fresh captioner, as in a new run)."""
    context = PluginContext(make_registry(CountingPlugin()), device)
    source = CaptionSource("counting", options, device, context)
    gt = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    source.caption_gt(gt, [Item(id="a", gt="a.png"), Item(id="b", gt="b.png")])
    return source.cache


def test_the_caption_cache_is_reused_for_the_same_dtype_and_device_type(
    registry, make_registry, isolated_cache
):
    _caption_once(make_registry, {})
    assert Counting.captioned == 2
    _caption_once(make_registry, {"dtype": "float32"})  # same configuration, from disk
    assert Counting.captioned == 2
    assert len(list((isolated_cache / "features" / "captions").rglob("*.pt"))) == 2


@pytest.mark.parametrize(
    ("options", "device"), [({"dtype": "bfloat16"}, "cpu"), ({}, torch.device("cuda"))]
)
def test_another_dtype_or_device_type_makes_new_caption_entries(
    registry, make_registry, isolated_cache, options, device
):
    first = _caption_once(make_registry, {})
    second = _caption_once(make_registry, options, device)
    assert Counting.captioned == 4
    assert len(list((isolated_cache / "features" / "captions").rglob("*.pt"))) == 4
    assert first.config != second.config


def test_the_captioners_dtype_and_device_type_are_in_c2c_and_c2i_result_keys(registry, tiny_clip):
    from semfid_bench.execution.plugin_execution import plugin_execution

    def execution(metric, **options):
        extra = {"model": tiny_clip, "pretrained": "none"} if metric == "c2i" else {}
        created = registry.create(
            "metric", metric, device="cpu", captioner="counting", **extra, **options
        )
        return plugin_execution(created, torch.device("cpu"), False)

    for metric in ("c2c", "c2i"):
        plain = execution(metric)
        assert plain["captioner_dtype"] == "float32" and plain["captioner_device_type"] == "cpu"
        half = execution(metric, captioner_options={"dtype": "float16"})
        assert half["captioner_dtype"] == "float16"
