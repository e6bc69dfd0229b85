"""The regressor's and CLU's structure: used stages, heads, outputs."""

from __future__ import annotations

import pytest
import torch

from semfid_bench.learned.clu import CLUConfig, build_clu
from semfid_bench.learned.regressor import RegressorConfig, build_regressor
from semfid_bench.plugin_api.errors import SemfidError


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_d_uses_the_last_d_plus_one_stages(tiny_backbone, depth):
    model = build_regressor(RegressorConfig(tiny_backbone, depth=depth, input_size=32))
    channels = model.backbone.channels()
    assert [h.in_channels for h in model.heads] == channels[-(depth + 1) :]


def test_untrained_regressor_is_the_mean_of_stage_means_of_squared_differences(tiny_backbone):
    torch.manual_seed(0)
    model = build_regressor(RegressorConfig(tiny_backbone, depth=2, input_size=32)).eval()
    gt, sr = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        diffs = model.differences(gt, sr)
        expected = torch.stack([diffs[i].mean(dim=(1, 2, 3)) for i in (2, 3, 4)]).mean(0)
        assert torch.allclose(model(gt, sr), expected, atol=1e-6)
        assert torch.equal(model(gt, gt), torch.zeros(2))


def test_unit_feature_norm_bounds_differences_and_none_keeps_raw_features(tiny_backbone):
    gt, sr = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    unit = build_regressor(RegressorConfig(tiny_backbone, input_size=32)).eval()
    raw = build_regressor(RegressorConfig(tiny_backbone, input_size=32, feature_norm="none"))
    raw.load_state_dict(unit.state_dict())
    with torch.no_grad():
        assert all(d.sum(dim=1).max() <= 4.0 + 1e-5 for d in unit.differences(gt, sr))
        features = raw.backbone(torch.cat([gt, sr]))
        assert torch.allclose(raw.differences(gt, sr)[4], (features[4][:1] - features[4][1:]) ** 2)


def test_sigmoid_activation_maps_into_unit_interval(tiny_backbone):
    model = build_regressor(RegressorConfig(tiny_backbone, activation="sigmoid", input_size=32))
    with torch.no_grad():
        scores = model.eval()(torch.rand(3, 3, 40, 50), torch.rand(3, 3, 40, 50))
    assert scores.shape == (3,) and ((scores > 0) & (scores < 1)).all()


def test_clu_map_has_input_resolution_and_unit_range(tiny_backbone):
    model = build_clu(CLUConfig(tiny_backbone, decoder_width=8, input_size=48)).eval()
    with torch.no_grad():
        maps = model(torch.rand(2, 3, 60, 70), torch.rand(2, 3, 60, 70))
    assert maps.shape == (2, 1, 48, 48) and maps.min() >= 0 and maps.max() <= 1


def test_frozen_backbone_gets_no_gradients_and_finetuning_does(tiny_backbone):
    for finetune in (False, True):
        model = build_regressor(RegressorConfig(tiny_backbone, input_size=32, finetune=finetune))
        model.train()(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)).sum().backward()
        grads = [p.grad is not None for p in model.backbone.parameters()]
        assert any(grads) == finetune
        assert all(p.grad is not None for p in model.heads.parameters())
        assert not model.backbone.training  # BatchNorm statistics stay fixed


def test_bad_settings_are_refused(tiny_backbone):
    with pytest.raises(SemfidError, match="depth must be 1, 2 or 3"):
        RegressorConfig(tiny_backbone, depth=4)
    with pytest.raises(SemfidError, match="at least 32"):
        build_regressor(RegressorConfig(tiny_backbone, input_size=16))
    with pytest.raises(SemfidError, match="feature_norm"):
        build_clu(CLUConfig(tiny_backbone, feature_norm="l1"))
