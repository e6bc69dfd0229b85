"""Our LPIPS agrees with pyiqa's and with the lpips package when all share the same weights."""

import lpips
import pytest
import torch
from torchvision.models import alexnet

from semfid_bench.metrics.lpips import LPIPSMetric, LPIPSNet, packaged_linear_weights
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.weights import load_state_dict


def _pyiqa_lpips():
    """pyiqa's LPIPS network without pretrained AlexNet weights; None without pyiqa (the
    optional 'iqa' extra)."""
    try:
        from pyiqa.archs import lpips_arch
    except ImportError:
        return None
    # pyiqa 0.1.16 builds AlexNet with ImageNet weights whatever pnet_rand says: build it
    # without them (nothing can be downloaded here); the weights are copied in below.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lpips_arch.models, "alexnet", lambda **_: alexnet(weights=None))
        return lpips_arch.LPIPS(pretrained=False, net="alex", pnet_rand=True).eval()


@pytest.fixture(scope="module")
def shared_nets():
    """Ours, pyiqa's and the lpips package's, with one random AlexNet and the real heads."""
    torch.manual_seed(0)
    ours = LPIPSNet().eval()
    ours.load_lpips_linear(load_state_dict(packaged_linear_weights()))
    package = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False).eval()
    pyiqa_net = _pyiqa_lpips()
    for other in (package, pyiqa_net) if pyiqa_net is not None else (package,):
        slices = [other.net.slice1, other.net.slice2, other.net.slice3, other.net.slice4]
        slices.append(other.net.slice5)
        for block in slices:
            for index, layer in block._modules.items():
                layer.load_state_dict(ours.features[int(index)].state_dict())
        for k, lin in enumerate(ours.lins):
            other.lins[k].model[-1].weight.data.copy_(lin.weight)
    return ours, package, pyiqa_net


@pytest.mark.slow
def test_agrees_with_pyiqa_and_lpips_package(shared_nets, sample_images):
    ours, package, pyiqa_net = shared_nets
    if pyiqa_net is None:
        pytest.skip("pyiqa is the optional 'iqa' extra")
    gt = sample_images
    generator = torch.Generator().manual_seed(1)
    sr = (gt + 0.08 * torch.randn(gt.shape, generator=generator)).clamp(0, 1)
    with torch.inference_mode():
        mine = ours(sr, gt)
        theirs_package = package(sr, gt, normalize=True).flatten()
        theirs_pyiqa = pyiqa_net(sr, gt).flatten()
    assert (mine > 0).all()
    torch.testing.assert_close(mine, theirs_package, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mine, theirs_pyiqa, rtol=1e-5, atol=1e-6)
    with torch.inference_mode():
        assert torch.allclose(ours(gt, gt), torch.zeros(4))


def test_missing_backbone_weights_name_the_file_and_option():
    metric = LPIPSMetric()
    with pytest.raises(WeightsUnavailableError) as info:
        metric.reference(torch.rand(1, 3, 32, 32), [None])
    assert "alexnet-owt-7be5be79.pth" in info.value.message
    assert "lpips.alexnet_weights" in info.value.hint


@pytest.mark.slow
def test_metric_loads_weights_from_local_files(shared_nets, sample_images, tmp_path):
    ours = shared_nets[0]
    backbone = tmp_path / "alexnet.pth"
    torch.save({f"features.{k}": v for k, v in ours.features.state_dict().items()}, backbone)
    metric = LPIPSMetric(alexnet_weights=str(backbone), batch_size=3)
    sr = sample_images.flip(-1)
    with torch.inference_mode():
        reference = metric.reference(sample_images, [None] * 4)
        torch.testing.assert_close(metric.score(sr, reference), ours(sr, sample_images))
