"""RAM and DAPE checkpoints in the authors' key layout, from the hand-written fixture.

``fixtures/ram_dape_layout.json`` describes the key names and shapes of the authors' RAMLora
(see its ``source``); these helpers expand it for any :class:`RAMConfig` and write tiny
random checkpoints in that layout for the loader to read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from semfid_bench.vision_language.ram import RAMConfig

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "ram_dape_layout.json").read_text())
TINY_RAM = RAMConfig(
    image_size=32,
    window_size=4,
    swin_embed_dim=16,
    swin_depths=(2, 2),
    swin_heads=(2, 4),
    embed_dim=16,
    head_hidden=24,
    head_heads=2,
    head_layers=2,
    head_intermediate=32,
    num_tags=6,
)
TINY_TAGS = ["cat", "dog", "sofa", "tree", "sky", "car"]


def _shape(template: list, sizes: dict[str, int]) -> tuple[int, ...]:
    def size(symbol):
        if isinstance(symbol, int):
            return symbol
        factor, name = re.fullmatch(r"(\d*)(\w)", symbol).groups()
        return int(factor or 1) * sizes[name]

    return tuple(size(s) for s in template)


def _stages(config: RAMConfig):
    resolution = config.image_size // 4
    for i, (depth, heads) in enumerate(zip(config.swin_depths, config.swin_heads, strict=True)):
        yield i, depth, heads, config.swin_embed_dim * 2**i, resolution // 2**i


def authors_ram_layout(config: RAMConfig) -> dict[str, tuple[int, ...]]:
    """Key → shape of the authors' RAM state dict for our modules (captioning parts left
    out), buffers included, as ``ram_swin_large_14m.pth`` holds them."""
    common = {
        "P": config.swin_embed_dim,
        "V": config.vision_width,
        "E": config.embed_dim,
        "D": config.head_hidden,
        "T": config.num_tags,
        "I": config.head_intermediate,
    }
    layout = {k: _shape(v, common) for k, v in FIXTURE["ram_top_keys"].items()}
    last = len(config.swin_depths) - 1
    for i, depth, heads, channels, resolution in _stages(config):
        window = min(config.window_size, resolution)
        sizes = common | {"C": channels, "H": heads, "W": (2 * window - 1) ** 2, "N": window**2}
        for j in range(depth):
            prefix = f"visual_encoder.layers.{i}.blocks.{j}"
            for suffix, template in FIXTURE["ram_block_keys"].items():
                layout[f"{prefix}.{suffix}"] = _shape(template, sizes)
            if j % 2 == 1 and resolution > config.window_size:
                layout[f"{prefix}.attn_mask"] = ((resolution // window) ** 2, window**2, window**2)
        if i < last:
            for suffix, template in FIXTURE["ram_downsample_keys"].items():
                layout[f"visual_encoder.layers.{i}.downsample.{suffix}"] = _shape(template, sizes)
    for n in range(config.head_layers):
        for suffix, template in FIXTURE["ram_tagging_layer_keys"].items():
            layout[f"tagging_head.encoder.layer.{n}.{suffix}"] = _shape(template, common)
    return layout


def authors_dape_layout(config: RAMConfig) -> dict[str, tuple[int, ...]]:
    """Key → shape of the LoRA factors in ``DAPE.pth`` that act on our modules."""
    rank = FIXTURE["lora_rank"]
    layout = {}
    for i, depth, _, channels, _ in _stages(config):
        for j in range(depth):
            for suffix, template in FIXTURE["dape_block_keys"].items():
                key = f"visual_encoder.layers.{i}.blocks.{j}.{suffix}"
                layout[key] = _shape(template, {"C": channels, "r": rank})
    sizes = {"D": config.head_hidden, "E": config.embed_dim, "r": rank}
    for n in range(config.head_layers):
        for suffix, template in FIXTURE["dape_tagging_layer_keys"].items():
            layout[f"tagging_head.encoder.layer.{n}.{suffix}"] = _shape(template, sizes)
    return layout


def random_state(layout: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("relative_position_index"):
            state[key] = torch.zeros(shape, dtype=torch.long)
        else:
            state[key] = 0.2 * torch.randn(shape, generator=generator)
    return state


def write_tiny_dape_files(root: Path, seed: int = 0) -> dict[str, Path]:
    """Tiny RAM (``{'model': ...}``, with captioning keys the loader must skip), DAPE LoRA
    factors (with ``tag_encoder`` factors), tag list and thresholds (tags 0, 2 and 5 always
    pass, the others never), written like the released files; also the config JSON."""
    root.mkdir(parents=True, exist_ok=True)
    ram = random_state(authors_ram_layout(TINY_RAM), seed)
    ram["tag_encoder.encoder.layer.0.attention.self.query.weight"] = torch.zeros(24, 24)
    ram["text_decoder.cls.predictions.bias"] = torch.zeros(30524)
    dape = random_state(authors_dape_layout(TINY_RAM), seed + 1)
    dape["text_decoder.bert.encoder.layer.0.attention.self.query.lora_A"] = torch.ones(8, 24)
    dape["text_decoder.bert.encoder.layer.0.attention.self.query.lora_B"] = torch.ones(24, 8)
    paths = {name: root / name for name in ("ram.pth", "DAPE.pth", "tags.txt", "thresholds.txt")}
    torch.save({"model": ram}, paths["ram.pth"])
    torch.save(dape, paths["DAPE.pth"])
    paths["tags.txt"].write_text("\n".join(TINY_TAGS))
    paths["thresholds.txt"].write_text("\n".join(["0", "1", "0", "1", "1", "0"]) + "\n")
    paths["config.json"] = root / "config.json"
    paths["config.json"].write_text(json.dumps(TINY_RAM.to_dict()))
    return paths
