"""SeeSR: key layout against the authors' module tree, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import load_image
from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import UpscaleContext
from semfid_bench.plugins.sample_data import SAMPLE_MANIFEST

from .tiny_diffusion import write_tiny_seesr

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "seesr_image_attention.json").read_text()
)
IMAGE_DIM = 16


def _expected_shape(template: list[str], channels: int, embed: int) -> tuple[int, ...]:
    sizes = {"C": channels, "4C": 4 * channels, "8C": 8 * channels, "E": embed}
    return tuple(sizes[s] for s in template)


@pytest.mark.slow
@pytest.mark.parametrize("component", ["unet", "controlnet"])
def test_state_dict_keys_match_the_authors_layout(component):
    """Our module tree for SD 2-base has diffusers' own keys plus exactly the authors'
    ``image_attentions`` keys with the authors' shapes (built on the meta device)."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    from semfid_bench.sr_models.diffusion.seesr import build_seesr_controlnet, build_seesr_unet

    config = dict(FIXTURE["sd2_base_unet_config"])
    if component == "controlnet":
        for key in ("up_block_types", "out_channels", "sample_size"):
            config.pop(key)
        plain_class, build = ControlNetModel, build_seesr_controlnet
    else:
        plain_class, build = UNet2DConditionModel, build_seesr_unet
    with torch.device("meta"):
        ours = build(config)
        plain = plain_class.from_config(
            {k: v for k, v in config.items() if k != "use_image_cross_attention"}
        )
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    plain_shapes = {k: tuple(v.shape) for k, v in plain.state_dict().items()}
    embed = FIXTURE["image_embedding_width"]
    expected_extra = {
        f"{path}.{suffix}": _expected_shape(template, channels, embed)
        for path, channels in FIXTURE["image_attention_paths"][component].items()
        for suffix, template in FIXTURE["image_attention_keys"].items()
    }
    assert {k: ours_shapes[k] for k in plain_shapes} == plain_shapes
    assert {k: v for k, v in ours_shapes.items() if k not in plain_shapes} == expected_extra


class PooledTagger:
    """Test double for DAPE: fixed tags, image embeddings from pooled LR colours."""

    def __init__(self) -> None:
        torch.manual_seed(1)
        self.proj = torch.nn.Linear(3, IMAGE_DIM)

    def __call__(self, lr):
        patches = F.adaptive_avg_pool2d(lr, 3).flatten(2).transpose(1, 2)
        return ["cat, animal"] * lr.shape[0], self.proj(patches)


@pytest.fixture(scope="module")
def tiny_seesr(tmp_path_factory):
    return write_tiny_seesr(tmp_path_factory.mktemp("seesr"), IMAGE_DIM)


@pytest.fixture(scope="module")
def lr():
    image = load_image(SAMPLE_MANIFEST.parent / "chelsea.png")
    return image[None, :, 108:124, 148:164].contiguous()


def _context(seed: int) -> UpscaleContext:
    return UpscaleContext(items=[], degradation="bicubic", level=1.0, seed=seed)


def _model(root, **options):
    from semfid_bench.sr_models.diffusion.seesr import SeeSR

    options = {"steps": 2, "process_size": 64, "tagger": PooledTagger(), **options}
    return SeeSR(weights=str(root / "seesr"), base=str(root / "base"), **options)


@pytest.mark.slow
def test_upscales_four_times_finite_and_seeded(tiny_seesr, lr):
    model = _model(tiny_seesr)
    first = model.upscale(lr, _context(11))
    again = model.upscale(lr, _context(11))
    other = model.upscale(lr, _context(12))
    assert first.shape == (1, 3, 64, 64)
    assert torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.slow
def test_image_embeddings_reach_the_unet(tiny_seesr, lr):
    model = _model(tiny_seesr, guidance=1.0, colour_fix="none")
    base = model.upscale(lr, _context(3))
    tagger = PooledTagger()
    with torch.no_grad():
        tagger.proj.weight.mul_(-3)
    model.tagger = tagger
    assert not torch.equal(base, model.upscale(lr, _context(3)))


def test_prompt_is_built_like_the_authors():
    from semfid_bench.sr_models.diffusion.seesr import SeeSR

    model = SeeSR.__new__(SeeSR)
    model.prompt, model.added_prompt, model.negative_prompt = "", "clean, high-resolution, 8k", "n"
    assert model.prompts("cat, sofa") == ("cat, sofa, ,clean, high-resolution, 8k", "n")


def test_mismatched_checkpoint_names_keys(tiny_seesr, tmp_path):
    from diffusers import UNet2DConditionModel

    from semfid_bench.sr_models.diffusion.diffusers_loading import load_model_folder
    from semfid_bench.sr_models.diffusion.seesr import build_seesr_unet

    config = json.loads((tiny_seesr / "seesr" / "unet" / "config.json").read_text())
    config.pop("use_image_cross_attention")

    UNet2DConditionModel.from_config(
        {k: v for k, v in config.items() if k != "image_cross_attention_dim"}
    ).save_pretrained(tmp_path / "unet")
    with pytest.raises(WeightsUnavailableError, match="missing keys"):
        load_model_folder(tmp_path / "unet", build_seesr_unet, "SeeSR UNet")


def test_missing_weights_name_the_download_and_option(tmp_path):
    from semfid_bench.sr_models.diffusion.seesr import SeeSR

    with pytest.raises(WeightsUnavailableError) as error:
        SeeSR(tagger=PooledTagger(), weights=None, base=str(tmp_path))
    assert "drive.google.com" in str(error.value)
    assert "--set seesr.weights=DIR" in str(error.value)


def test_offline_names_every_missing_file_at_once(tmp_path, monkeypatch):
    from semfid_bench.sr_models.diffusion.seesr import SeeSR

    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError) as error:
        SeeSR()
    text = str(error.value)
    assert text.startswith("6 weights are not available")
    for needed in (
        "--set seesr.weights=DIR",
        "stabilityai/stable-diffusion-2-base",
        "--set seesr.base=DIR",
        "ram_swin_large_14m.pth",
        "--set seesr.ram=PATH",
        "DAPE.pth",
        "--set seesr.dape=PATH",
        "ram_tag_list.txt",
        "--set seesr.tag_list=PATH",
        "ram_tag_list_threshold.txt",
        "--set seesr.tag_thresholds=PATH",
    ):
        assert needed in text


def test_unknown_tagger_is_refused():
    from semfid_bench.sr_models.diffusion.seesr import SeeSR

    with pytest.raises(ValueError, match="tagger must be dape"):
        SeeSR(tagger="blip")


def _noise_inputs(model, cond_seed: int = 0):
    generator = torch.Generator().manual_seed(cond_seed)
    sample = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(7))
    cond = torch.rand(1, 3, 32, 32, generator=generator)
    text = model._encode_text(["a cat"])
    embeds = PooledTagger()(cond)[1]
    return sample, cond, text, embeds


def test_controlnet_residuals_are_not_zero(tiny_seesr):
    """The tiny ControlNet's zero-initialised outputs are woken up, or no test below could
    see the LR conditioning."""
    from semfid_bench.sr_models.diffusion.image_cross_attention import image_conditioning

    model = _model(tiny_seesr)
    sample, cond, text, embeds = _noise_inputs(model)
    with torch.no_grad(), image_conditioning(embeds, model.controlnet):
        down, mid = model.controlnet(
            sample, 10, encoder_hidden_states=text, controlnet_cond=cond, return_dict=False
        )
    assert all(residual.abs().amax() > 0 for residual in (*down, mid))


def test_lr_conditioning_and_its_scale_take_part(tiny_seesr):
    """The noise prediction depends on the LR condition and on ``conditioning_scale``; at
    scale 0 it equals the UNet without ControlNet residuals."""
    from semfid_bench.sr_models.diffusion.image_cross_attention import image_conditioning

    model = _model(tiny_seesr)
    sample, cond, text, embeds = _noise_inputs(model)
    other_cond = _noise_inputs(model, cond_seed=1)[1]
    with torch.no_grad(), image_conditioning(embeds, model.unet, model.controlnet):
        base = model._predict_noise(sample, cond, t=10, text=text)
        other = model._predict_noise(sample, other_cond, t=10, text=text)
        model.conditioning_scale = 0.5
        half = model._predict_noise(sample, cond, t=10, text=text)
        model.conditioning_scale = 0.0
        off = model._predict_noise(sample, cond, t=10, text=text)
        plain = model.unet(sample, 10, encoder_hidden_states=text, return_dict=False)[0]
    assert (base - other).abs().amax() > 1e-5
    assert (base - half).abs().amax() > 1e-5
    assert (half - off).abs().amax() > 1e-5
    torch.testing.assert_close(off, plain, rtol=0, atol=1e-6)


def _authors_seesr_input(picture, upscale: int = 4, process_size: int = 512):
    """test_seesr.py's lines (cswry/SeeSR @8edecc7, main()) on a PIL image."""
    ori_width, ori_height = picture.size
    if ori_width < process_size // upscale or ori_height < process_size // upscale:
        scale = (process_size // upscale) / min(ori_width, ori_height)
        picture = picture.resize((int(scale * ori_width), int(scale * ori_height)))
    picture = picture.resize((picture.size[0] * upscale, picture.size[1] * upscale))
    return picture.resize((picture.size[0] // 8 * 8, picture.size[1] // 8 * 8))


@pytest.mark.parametrize("size", [(16, 16), (37, 50), (130, 97), (150, 202)])
def test_input_is_the_authors_pil_chain(size):
    """Same pixels as test_seesr.py's PIL chain (enlarge, 4x, snap to 8), on a photograph;
    the former single torch bicubic resize differed by up to 13/255 (RMSE 0.9 levels)."""
    from PIL import Image

    from semfid_bench.datasets.images import to_tensor, to_uint8
    from semfid_bench.sr_models.diffusion.seesr import process_input

    photo = load_image(SAMPLE_MANIFEST.parent / "astronaut.png")[:, 100 : 100 + size[0], :]
    lr = photo[None, :, :, 50 : 50 + size[1]]
    expected = to_tensor(np.array(_authors_seesr_input(Image.fromarray(to_uint8(lr[0])))))
    assert torch.equal(process_input(lr, 4, 512)[0], expected)
