"""Regenerate tests/fixtures/parity/dape_*: the SeeSR authors' DAPE (RAM's Swin image
encoder and Query2Label tagging head with their LoRA layers) on seeded tiny weights.

The authors' ``RAMLora`` (cswry/SeeSR ``ram/models/ram_lora.py``) cannot be built as a
whole here: its constructor downloads BERT's tokenizer and reads the 4585-tag files. So this
builds its parts from the authors' own module files (``ram/models/swin_transformer_lora.py``
SwinTransformer, ``ram/models/bert_lora.py`` BertModel with loralib layers,
``ram/models/utils.py`` tie_encoder_decoder_weights) exactly as ``RAMLora.__init__`` does,
shrunk (Swin 2 stages, BERT 2 layers, 6 tags; the 512-wide image projection, label
embeddings and cross-attention keys that the authors hard-code are kept), and runs
``RAMLora.generate_tag``'s lines on them. LoRA factors are seeded non-zero (loralib
zero-initialises ``lora_B``) and merged by loralib itself when the model goes to ``eval()``,
as ``test_seesr.py`` does after loading DAPE.pth with ``strict=False``.

The input is preprocessed as ``test_seesr.py`` does (``ToTensor``, then ``Resize((s, s))``
on the tensor and ImageNet ``Normalize``) with ``antialias=False``: the tensor default of the
torchvision the authors pinned (0.15, with torch 2.0.1), where today's default is True.

Usage (fairscale, imported by the authors' ``vit.py`` but unused here, is stubbed)::

    HF_HOME=/tmp/hf /tmp/ref-venv-seesr/bin/python scripts/parity/dape_reference.py \
        --ref /work/refs/SeeSR
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import torch
from torch import nn
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).parent))
from seeded_init import save_fixture, seed_parameters

REPOSITORY = "cswry/SeeSR"
COMMIT = "8edecc71c4f3efa01cd26078f2e8dffd1ce80a6a"
#: fields of semfid_bench.vision_language.ram.RAMConfig; embed_dim 512 is hard-coded by the authors
RAM_CONFIG = {
    "image_size": 32,
    "swin_embed_dim": 16,
    "swin_depths": [2, 2],
    "swin_heads": [2, 4],
    "window_size": 4,
    "embed_dim": 512,
    "head_hidden": 24,
    "head_heads": 2,
    "head_layers": 2,
    "head_intermediate": 32,
    "num_tags": 6,
}


def _authors_modules(ref: Path):
    """The authors' ram/models files as package ``ref_ram_models`` (relative imports work),
    with fairscale (imported by vit.py for gradient checkpointing) stubbed."""
    stub = types.ModuleType("fairscale.nn.checkpoint.checkpoint_activations")
    stub.checkpoint_wrapper = lambda module, *args, **kwargs: module
    for name in ("fairscale", "fairscale.nn", "fairscale.nn.checkpoint"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules.setdefault(stub.__name__, stub)
    package = types.ModuleType("ref_ram_models")
    package.__path__ = [str(ref / "ram" / "models")]
    sys.modules["ref_ram_models"] = package
    load = importlib.import_module
    return (
        load("ref_ram_models.swin_transformer_lora"),
        load("ref_ram_models.bert_lora"),
        load("ref_ram_models.utils"),
    )


def _bert_config(bert_lora, vocab: int):
    return bert_lora.BertConfig(
        hidden_size=RAM_CONFIG["head_hidden"],
        num_attention_heads=RAM_CONFIG["head_heads"],
        num_hidden_layers=RAM_CONFIG["head_layers"],
        intermediate_size=RAM_CONFIG["head_intermediate"],
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        vocab_size=vocab,
        add_cross_attention=True,
        encoder_width=512,
    )


class TinyRAMLora(nn.Module):
    """The modules of the authors' RAMLora.__init__ (vit='swin_l'), built the same way."""

    def __init__(self, ref: Path) -> None:
        super().__init__()
        swin, bert, utils = _authors_modules(ref)
        self.visual_encoder = swin.SwinTransformer(
            img_size=RAM_CONFIG["image_size"],
            patch_size=4,
            in_chans=3,
            embed_dim=RAM_CONFIG["swin_embed_dim"],
            depths=RAM_CONFIG["swin_depths"],
            num_heads=RAM_CONFIG["swin_heads"],
            window_size=RAM_CONFIG["window_size"],
            mlp_ratio=4.0,
            qkv_bias=True,
            drop_rate=0.0,
            drop_path_rate=0.1,
            ape=False,
            patch_norm=True,
            use_checkpoint=False,
        )
        vision_width = RAM_CONFIG["swin_embed_dim"] * 2 ** (len(RAM_CONFIG["swin_depths"]) - 1)
        self.tag_encoder = bert.BertModel(config=_bert_config(bert, 30), add_pooling_layer=False)
        self.tagging_head = bert.BertModel(config=_bert_config(bert, 30), add_pooling_layer=False)
        self.label_embed = nn.Parameter(torch.zeros(RAM_CONFIG["num_tags"], 512))
        self.wordvec_proj = nn.Linear(512, RAM_CONFIG["head_hidden"])
        self.fc = nn.Linear(RAM_CONFIG["head_hidden"], 1)
        del self.tagging_head.embeddings  # RAMLora.del_selfattention
        for layer in self.tagging_head.encoder.layer:
            del layer.attention
        utils.tie_encoder_decoder_weights(self.tag_encoder, self.tagging_head, "", " ")
        self.image_proj = nn.Linear(vision_width, 512)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image embeddings, tag logits): RAMLora.generate_image_embeds and the lines of
        RAMLora.generate_tag up to ``logits``."""
        label_embed = torch.nn.functional.relu(self.wordvec_proj(self.label_embed))
        image_embeds = self.image_proj(self.visual_encoder(image))
        image_atts = torch.ones(image_embeds.size()[:-1], dtype=torch.long).to(image.device)
        bs = image_embeds.shape[0]
        label_embed = label_embed.unsqueeze(0).repeat(bs, 1, 1)
        tagging_embed = self.tagging_head(
            encoder_embeds=label_embed,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=image_atts,
            return_dict=False,
            mode="tagging",
        )
        logits = self.fc(tagging_embed[0]).squeeze(-1)
        return image_embeds, logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help=f"{REPOSITORY} at {COMMIT}")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/parity"))
    args = parser.parse_args()
    import loralib

    model = TinyRAMLora(args.ref)
    seed_parameters(model, seed=30)  # LoRA factors included: all non-zero
    unmerged = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()  # loralib merges B @ A * alpha / r into each weight here
    merged = model.visual_encoder.layers[0].blocks[0].attn.qkv.merged
    assert merged, "loralib did not merge the LoRA factors"
    size = RAM_CONFIG["image_size"]
    lr = torch.rand(2, 3, 20, 48, generator=torch.Generator().manual_seed(3))  # 48 > 32: shrinks
    lr = (lr * 255).round() / 255  # ToTensor of an 8-bit image
    ram_transforms = transforms.Compose(
        [
            transforms.Resize((size, size), antialias=False),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    )
    with torch.no_grad():
        image_embeds, logits = model(ram_transforms(lr))
    ram = {f"weights.ram.{k}": v for k, v in unmerged.items() if "lora_" not in k}
    dape = {f"weights.dape.{k}": v for k, v in unmerged.items() if "lora_" in k}
    tensors = ram | dape
    tensors |= {"input.lr": lr, "output.image_embeds": image_embeds, "output.tag_logits": logits}
    save_fixture(
        args.out,
        "dape_ram_lora",
        tensors,
        {
            "source": {
                "repository": REPOSITORY,
                "commit": COMMIT,
                "function": "ram/models/ram_lora.py RAMLora.__init__ (vit='swin_l') parts and "
                "RAMLora.generate_image_embeds / generate_tag up to the logits, on "
                "ram/models/swin_transformer_lora.py SwinTransformer and "
                "ram/models/bert_lora.py BertModel (mode='tagging'); LoRA merged by loralib "
                "eval(); preprocessing of test_seesr.py ram_transforms",
                "environment": f"loralib {getattr(loralib, '__version__', '0.1.2')}, "
                f"torch {torch.__version__}",
                "script": "scripts/parity/dape_reference.py",
            },
            "ram_config": RAM_CONFIG,
            "lora": "weights.ram.* = the RAM checkpoint keys (unmerged weights), "
            "weights.dape.* = the LoRA factors (what DAPE.pth holds)",
        },
    )


if __name__ == "__main__":
    main()
