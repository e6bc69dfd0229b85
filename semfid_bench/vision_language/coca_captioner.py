"""The captioner PASD's authors prompt with: open_clip CoCa ViT-L/14 fine-tuned on MSCOCO.

``test_pasd.py`` captions the LR image, cuts the text at ``<end_of_text>``, drops
``<start_of_text>`` and replaces "blurry" → "clear" and "noisy" → "clean".
"""

from __future__ import annotations

from pathlib import Path

import torch

from semfid_bench.plugin_api.weights import hf_snapshot

COCA_REPO = "laion/mscoco_finetuned_CoCa-ViT-L-14-laion2B-s13B-b90k"
COCA_FILES = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]


def coca_weights(local_path: str | None = None) -> Path:
    """Folder with the CoCa weights: ``local_path``, the HF cache, or a download."""
    return hf_snapshot(
        COCA_REPO, local_path, option="--set pasd.coca=DIR", allow_patterns=COCA_FILES
    )


class CocaCaptioner:
    """LR images (B, 3, h, w) in [0, 1] → one caption each."""

    def __init__(self, folder: Path, *, device: torch.device | str) -> None:
        import open_clip

        path = next((folder / n for n in COCA_FILES if (folder / n).is_file()), folder)
        self.model, _, self.transform = open_clip.create_model_and_transforms(
            "coca_ViT-L-14", pretrained=str(path), device=device
        )
        self.model.eval()
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, lr: torch.Tensor) -> list[str]:
        import open_clip
        from torchvision.transforms.functional import to_pil_image

        captions = []
        for image in lr:
            batch = self.transform(to_pil_image(image.float().cpu()))[None].to(self.device)
            text = open_clip.decode(self.model.generate(batch)[0])
            text = text.split("<end_of_text>")[0].replace("<start_of_text>", "")
            captions.append(text.replace("blurry", "clear").replace("noisy", "clean"))
        return captions
