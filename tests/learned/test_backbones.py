"""Backbones: stage outputs, real ResNet-50 channel counts, weights loading and errors."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.learned.backbones import backbone_config, build_backbone
from semfid_bench.plugin_api.errors import WeightsUnavailableError


@pytest.mark.parametrize("family", ["imagenet", "clip-rn50"])
def test_stage_outputs_are_stem_plus_four_stages_at_halving_resolution(family):
    torch.manual_seed(0)
    backbone = build_backbone(backbone_config(family, None, layers=(1, 1, 1, 1), width=8))
    features = backbone.eval()(torch.rand(2, 3, 64, 64))
    assert [f.shape[-1] for f in features] == [16, 16, 8, 4, 2]
    assert all(f.shape[0] == 2 for f in features)


@pytest.mark.parametrize("family", ["imagenet", "clip-rn50"])
def test_full_size_backbones_have_resnet50_channels(family):
    backbone = build_backbone(backbone_config(family, None))
    assert backbone.channels() == [64, 256, 512, 1024, 2048]


def test_normalisation_follows_the_pretraining():
    assert backbone_config("imagenet").mean == (0.485, 0.456, 0.406)
    assert backbone_config("clip-rn50").mean[0] == pytest.approx(0.48145466)
    assert backbone_config("clip-rn50").pretrained == "openai"
    assert backbone_config("imagenet").pretrained == "IMAGENET1K_V1"


def test_local_weights_file_replaces_the_download(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models.resnet import Bottleneck, ResNet

    torch.manual_seed(3)
    net = ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=8)
    save_file(net.state_dict(), str(tmp_path / "r.safetensors"))
    config = backbone_config("imagenet", None, layers=(1, 1, 1, 1), width=8)
    backbone = build_backbone(config, weights=tmp_path / "r.safetensors")
    assert torch.equal(backbone.stages[3][0].conv1.weight, net.layer4[0].conv1.weight)


def test_offline_imagenet_weights_error_names_file_and_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone(backbone_config("imagenet"))
    text = str(info.value)
    assert "resnet50-0676ba61.pth" in text and str(tmp_path) in text and "--weights" in text


def test_offline_clip_weights_error_names_model_and_option(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone(backbone_config("clip-rn50"))
    assert "RN50-quickgelu/openai" in str(info.value) and "--weights" in str(info.value)


def test_missing_local_weights_file_is_reported(tmp_path):
    with pytest.raises(WeightsUnavailableError, match=r"missing\.pt"):
        build_backbone(backbone_config("clip-rn50"), weights=tmp_path / "missing.pt")


@pytest.mark.slow
def test_imagenet_weights_come_from_the_torchvision_cache(tmp_path, monkeypatch):
    """A file in $TORCH_HOME/hub/checkpoints under torchvision's name is what gets loaded."""
    from torchvision.models import ResNet50_Weights, resnet50

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    torch.manual_seed(5)
    net = resnet50()
    filename = ResNet50_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(net.state_dict(), tmp_path / "hub" / "checkpoints" / filename)
    backbone = build_backbone(backbone_config("imagenet"))
    assert torch.equal(backbone.stages[2][0].conv2.weight, net.layer3[0].conv2.weight)


@pytest.mark.slow
def test_clip_weights_file_loads_into_the_rn50_image_encoder(tmp_path):
    import open_clip

    torch.manual_seed(6)
    model = open_clip.create_model("RN50-quickgelu")
    torch.save(model.state_dict(), tmp_path / "rn50.pt")
    backbone = build_backbone(backbone_config("clip-rn50"), weights=tmp_path / "rn50.pt")
    assert torch.equal(backbone.stages[3][0].conv1.weight, model.visual.layer4[0].conv1.weight)


def test_weights_file_of_another_architecture_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    save_file({"conv1.weight": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    config = backbone_config("imagenet", None, layers=(1, 1, 1, 1), width=8)
    with pytest.raises(WeightsUnavailableError, match=r"other\.safetensors do not fit"):
        build_backbone(config, weights=tmp_path / "other.safetensors")
