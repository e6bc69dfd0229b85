"""DAPE (RAM + SeeSR's LoRA): key layout, loading the released layout, tags and embeddings."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.errors import WeightsUnavailableError
from semfid_bench.vision_language.dape import load_dape_tagger
from semfid_bench.vision_language.ram import RAM, RAMConfig
from semfid_bench.vision_language.ram_weights import dape_weight_deltas, ram_state_dict

from .ram_layout import (
    FIXTURE,
    TINY_RAM,
    authors_dape_layout,
    authors_ram_layout,
    write_tiny_dape_files,
)


def _meta_state(layout):
    return {k: torch.empty(shape, device="meta") for k, shape in layout.items()}


@pytest.mark.parametrize("config", [RAMConfig(), TINY_RAM], ids=["swin-l-384", "tiny"])
def test_module_tree_matches_the_authors_keys_and_shapes(config):
    """The authors' RAM keys (fixture), converted, are exactly our state dict's keys and
    shapes; every DAPE LoRA factor lands on one of our weights with its shape."""
    assert RAMConfig() == RAMConfig.from_dict(FIXTURE["ram_swin_l_384"])
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in RAM(config).state_dict().items()}
    converted = ram_state_dict(_meta_state(authors_ram_layout(config)))
    assert {k: tuple(v.shape) for k, v in converted.items()} == ours
    deltas = dape_weight_deltas(
        _meta_state(authors_dape_layout(config)), tied_layers=config.head_layers, source="f"
    )
    assert {k: tuple(v.shape) for k, v in deltas.items()} == {k: ours[k] for k in deltas}
    assert sum(".attn.qkv." in k for k in deltas) == sum(config.swin_depths)
    assert sum(k.startswith("tagging_head.") for k in deltas) == 2 * config.head_layers


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    return write_tiny_dape_files(tmp_path_factory.mktemp("dape"))


def _tagger(files):
    return load_dape_tagger(
        files["ram.pth"],
        files["DAPE.pth"],
        files["tags.txt"],
        files["thresholds.txt"],
        device="cpu",
        config=TINY_RAM,
    )


def _loralib_merged_delta(lora_a, lora_b, enable):
    """The delta loralib's MergedLinear adds in eval(): grouped conv1d, zero-padded rows."""
    groups = sum(enable)
    delta = F.conv1d(lora_a.unsqueeze(0), lora_b.unsqueeze(-1), groups=groups).squeeze(0)
    rows = lora_b.shape[0] // groups
    padded = torch.zeros(rows * len(enable), lora_a.shape[1])
    enabled = [i * rows + r for i, on in enumerate(enable) if on for r in range(rows)]
    padded[enabled] = delta
    return padded / (lora_a.shape[0] // groups)


def test_loading_applies_the_checkpoint_and_lora_like_loralib(tiny_files):
    ram = torch.load(tiny_files["ram.pth"])["model"]
    dape = torch.load(tiny_files["DAPE.pth"])
    state = _tagger(tiny_files).model.state_dict()
    # Swin: moved downsample and untouched weights come straight from the checkpoint
    assert torch.equal(
        state["visual_encoder.layers.1.downsample.reduction.weight"],
        ram["visual_encoder.layers.0.downsample.reduction.weight"],
    )
    assert torch.equal(state["label_embed"], ram["label_embed"])
    # Swin qkv: LoRA on q and v only, as loralib MergedLinear(enable_lora=[T, F, T]) merges it
    key = "visual_encoder.layers.1.blocks.1.attn.qkv"
    expected = ram[f"{key}.weight"] + _loralib_merged_delta(
        dape[f"{key}.lora_A"], dape[f"{key}.lora_B"], [True, False, True]
    )
    torch.testing.assert_close(state[f"{key}.weight"], expected)
    channels = ram[f"{key}.weight"].shape[1]
    k_rows = slice(channels, 2 * channels)
    assert torch.equal(state[f"{key}.weight"][k_rows], ram[f"{key}.weight"][k_rows])
    # tagging head: plain loralib Linear, B @ A * alpha / r with alpha 1, r 8
    key = "tagging_head.encoder.layer.1.crossattention.self.key"
    expected = ram[f"{key}.weight"] + dape[f"{key}.lora_B"] @ dape[f"{key}.lora_A"] / 8
    torch.testing.assert_close(state[f"{key}.weight"], expected)


def test_tied_tag_encoder_lora_is_added_to_the_shared_weight(tiny_files, tmp_path):
    dape = torch.load(tiny_files["DAPE.pth"])
    tied = "tag_encoder.encoder.layer.0.crossattention.self.query"
    dape[f"{tied}.lora_A"] = torch.ones(8, 24)
    dape[f"{tied}.lora_B"] = torch.ones(24, 8)
    torch.save(dape, tmp_path / "DAPE.pth")
    base = _tagger(tiny_files).model.state_dict()
    tied_files = tiny_files | {"DAPE.pth": tmp_path / "DAPE.pth"}
    state = _tagger(tied_files).model.state_dict()
    key = "tagging_head.encoder.layer.0.crossattention.self.query.weight"
    torch.testing.assert_close(state[key], base[key] + 1.0)  # 8 ones summed, / r = 8


def _reference_embeddings(model: RAM, images: torch.Tensor) -> torch.Tensor:
    tokens = model.visual_encoder.forward_features(images).flatten(1, 2)
    return model.image_proj(torch.cat([tokens.mean(1, keepdim=True), tokens], 1))


def _reference_logits(state: dict, embeds: torch.Tensor, config: RAMConfig) -> torch.Tensor:
    """Query2Label in plain tensor operations from the state dict (BERT post-norm layers)."""

    def linear(x, name):
        return x @ state[f"{name}.weight"].T + state[f"{name}.bias"]

    def norm(x, name):
        return F.layer_norm(x, x.shape[-1:], state[f"{name}.weight"], state[f"{name}.bias"], 1e-12)

    x = F.relu(linear(state["label_embed"], "wordvec_proj")).expand(embeds.shape[0], -1, -1)
    heads = config.head_heads
    for n in range(config.head_layers):
        p = f"tagging_head.encoder.layer.{n}"
        q = linear(x, f"{p}.crossattention.self.query").unflatten(-1, (heads, -1))
        k = linear(embeds, f"{p}.crossattention.self.key").unflatten(-1, (heads, -1))
        v = linear(embeds, f"{p}.crossattention.self.value").unflatten(-1, (heads, -1))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        attended = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v).flatten(2)
        x = norm(
            linear(attended, f"{p}.crossattention.output.dense") + x,
            f"{p}.crossattention.output.LayerNorm",
        )
        hidden = F.gelu(linear(x, f"{p}.intermediate.dense"))
        x = norm(linear(hidden, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return linear(x, "fc").squeeze(-1)


def test_tags_and_embeddings_follow_the_authors_inference(tiny_files):
    tagger = _tagger(tiny_files)
    lr = torch.rand(2, 3, 20, 28, generator=torch.Generator().manual_seed(0))
    tags, embeds = tagger(lr)
    assert tags == ["cat, sofa, car"] * 2  # thresholds 0 (always) and 1 (never)
    assert embeds.shape == (2, 1 + 4 * 4, TINY_RAM.embed_dim)  # 32 px / 4 / 2
    resized = F.interpolate(lr, size=(32, 32), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = _reference_embeddings(tagger.model, (resized - mean) / std)
        torch.testing.assert_close(embeds, expected)
        logits = tagger.model.tag_logits(embeds)
        reference = _reference_logits(tagger.model.state_dict(), embeds, TINY_RAM)
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-5)
    assert not torch.equal(embeds[0], embeds[1])


def test_wrong_tag_list_names_the_file(tiny_files, tmp_path):
    short = tmp_path / "tags.txt"
    short.write_text("cat\ndog\n")
    with pytest.raises(WeightsUnavailableError, match=r"tags\.txt has 2 lines"):
        _tagger(tiny_files | {"tags.txt": short})


def test_a_file_without_encoder_lora_is_not_dape(tiny_files, tmp_path):
    torch.save({"fc.lora_A": torch.ones(8, 24), "fc.lora_B": torch.ones(1, 8)}, tmp_path / "x.pth")
    with pytest.raises(WeightsUnavailableError, match=r"not SeeSR's DAPE\.pth"):
        _tagger(tiny_files | {"DAPE.pth": tmp_path / "x.pth"})


def test_a_foreign_ram_checkpoint_names_missing_keys(tiny_files, tmp_path):
    torch.save({"model": {"fc.weight": torch.ones(1, 24)}}, tmp_path / "ram.pth")
    with pytest.raises(WeightsUnavailableError, match="missing keys"):
        _tagger(tiny_files | {"ram.pth": tmp_path / "ram.pth"})


def test_ram_config_file_round_trips_and_refuses_unknown_fields(tmp_path):
    from semfid_bench.plugin_api.errors import SemfidError
    from semfid_bench.vision_language.dape import read_ram_config

    assert read_ram_config(None) == RAMConfig()
    path = tmp_path / "ram.json"
    path.write_text(json.dumps(TINY_RAM.to_dict()))
    assert read_ram_config(path) == TINY_RAM
    path.write_text(json.dumps({"swin_depth": [2, 2]}))
    with pytest.raises(SemfidError, match="swin_depth"):
        read_ram_config(path)
