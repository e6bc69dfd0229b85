"""One open_clip model per configuration, loaded lazily, shared by the CLIP-based metrics.

Default: ``ViT-B-32`` with ``laion2b_s34b_b79k`` weights. It is the model SpLiCE ships an
image mean for (``open_clip_ViT-B-32_image.pt``) and the one the study's SpLiCE experiments
used (``l1p_hint_CLIP-ViT-B-32-laion2B-s34B-b79K.json``), so CLIP, C2I and the SpLiCE
metrics embed with one model. The study's CLIP intra-modal baseline used a ViT-B/32 through
Hugging Face ``CLIPModel``; OpenAI's weights are ``--set clip.model=ViT-B-32-quickgelu
--set clip.pretrained=openai``.

QuickGELU trap: OpenAI's weights (and e.g. ViT-B-32 ``laion400m_*``) were trained with
QuickGELU. open_clip names those models ``*-quickgelu``; pairing such a tag with the plain
name silently gives wrong embeddings, so that combination is refused. A weights *file*
cannot be checked: name the right architecture yourself.

Images are preprocessed exactly as open_clip's own eval transform does it (for the default:
PIL bicubic resize of the shortest side, centre crop, the model's mean/std): each tensor is
quantised to 8 bits, as saving it would, and handed to that transform as a PIL image. A
tensor resize would differ by up to 0.09 (normalised units) through the rounding of the
resized side and PIL's 8-bit resampling.

One loaded model per (model, weights, device) in a process (:func:`shared_clip_model`):
``clip``, ``c2i`` and the SpLiCE metrics of a run load the weights once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from semfid_bench.datasets.images import to_uint8
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.weights import offline

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
RANDOM_INIT = ("", "none", "random")
RANDOM_INIT_SEED = 0


def weights_identity(pretrained: str | None) -> str:
    """What the ``pretrained`` setting denotes, for cache keys: a tag, a file, or random."""
    if pretrained is None or str(pretrained).lower() in RANDOM_INIT:
        return f"random-init-seed{RANDOM_INIT_SEED}"
    path = Path(str(pretrained)).expanduser()
    if path.is_file():
        stat = path.stat()
        return f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return str(pretrained)


def _check_quick_gelu(model: str, pretrained: str) -> None:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
    if cfg.get("quick_gelu") and "quickgelu" not in model.lower():
        # open_clip itself only warns (OpenAI's tag included) and builds a GELU model.
        raise SemfidError(
            f"open_clip weights {model}/{pretrained} were trained with QuickGELU but "
            f"{model!r} uses GELU: embeddings would be silently wrong.",
            hint=f"Use the model name {model}-quickgelu with these weights "
            f"(e.g. --set clip.model={model}-quickgelu --set clip.pretrained={pretrained}).",
        )


def _in_hf_cache(hf_hub: str) -> bool:
    """Whether open_clip's checkpoint for an ``org/repo/[file]`` entry is cached locally."""
    from huggingface_hub import try_to_load_from_cache

    repo_id, filename = os.path.split(hf_hub)  # "org/repo/" → ("org/repo", "")
    names = (
        [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    )
    return any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in names)


class ClipModel:
    """An open_clip model: normalised image and text embeddings, batched, no gradients."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
        device: torch.device | str | None = None,
        batch_size: int = 32,
        option: str = "clip",
    ) -> None:
        self.model_name = model
        self.pretrained = pretrained
        self.device = torch.device(device or "cpu")
        self.batch_size = int(batch_size)
        self.option = option
        self._model = None
        self._tokenizer = None
        self._transform = None

    @property
    def config(self) -> dict[str, Any]:
        """What determines an embedding (keys feature caches)."""
        return {"model": self.model_name, "weights": weights_identity(self.pretrained)}

    def _load(self):
        if self._model is not None:
            return self._model
        import open_clip

        if self.model_name not in open_clip.list_models():
            raise SemfidError(
                f"open_clip has no model {self.model_name!r}.",
                hint="`python -c 'import open_clip; print(open_clip.list_models())'` lists them.",
            )
        tag = self.pretrained
        if tag is None or str(tag).lower() in RANDOM_INIT:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_INIT_SEED)
                model = open_clip.create_model(self.model_name, pretrained=None)
        else:
            if not Path(str(tag)).expanduser().is_file():
                _check_quick_gelu(self.model_name, str(tag))
            model = self._create_pretrained(open_clip, str(tag))
        self._model = model.to(self.device).eval()
        self._tokenizer = open_clip.get_tokenizer(self.model_name)
        return self._model

    def _create_pretrained(self, open_clip, tag: str):
        cfg = open_clip.get_pretrained_cfg(self.model_name, tag) or {}
        try:
            if offline() and cfg.get("hf_hub") and not _in_hf_cache(cfg["hf_hub"]):
                raise OSError("offline mode is on and they are not in the Hugging Face cache")
            if cfg:  # a published tag: fetch (or find cached) before building the model
                open_clip.download_pretrained(cfg)
            return open_clip.create_model(self.model_name, pretrained=tag)
        except (RuntimeError, OSError, ValueError) as exc:
            where = cfg.get("hf_hub") or cfg.get("url") or "a local file"
            raise WeightsUnavailableError(
                f"open_clip weights {self.model_name}/{tag} are not available ({exc}); they "
                f"come from {where}.",
                hint=f"Run once with network access (open_clip caches them in the Hugging Face "
                f"cache), or download the checkpoint and pass its path with "
                f"--set {self.option}.pretrained=PATH (and the matching --set "
                f"{self.option}.model=NAME).",
            ) from exc

    def _preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """open_clip's own eval transform, on PIL images of the 8-bit quantised tensors."""
        from PIL import Image

        if self._transform is None:
            from open_clip import get_model_preprocess_cfg
            from open_clip.transform import PreprocessCfg, image_transform_v2

            cfg = PreprocessCfg(**get_model_preprocess_cfg(self._load()))
            self._transform = image_transform_v2(cfg, is_train=False)
        pixels = [self._transform(Image.fromarray(to_uint8(image))) for image in images]
        return torch.stack(pixels).to(self.device)

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] → (B, D) L2-normalised embeddings, float32 on CPU."""
        model = self._load()
        out = []
        for batch in images.split(self.batch_size):
            pixels = self._preprocess(batch)
            out.append(F.normalize(model.encode_image(pixels).float(), dim=-1).cpu())
        return torch.cat(out)

    @torch.inference_mode()
    def encode_patch_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] → (B, N, C) L2-normalised patch tokens of the vision
        transformer's last layer (after its final LayerNorm, before pooling), N = grid², over
        the eval transform's centre crop; float32 on CPU. ViT models only."""
        visual = self._load().visual
        if not hasattr(visual, "output_tokens"):
            raise SemfidError(
                f"open_clip model {self.model_name!r} has no patch tokens: a ViT model is needed."
            )
        previous, visual.output_tokens = visual.output_tokens, True
        try:
            out = [
                F.normalize(visual(self._preprocess(batch))[1].float(), dim=-1).cpu()
                for batch in images.split(self.batch_size)
            ]
        finally:
            visual.output_tokens = previous
        return torch.cat(out)

    @property
    def context_length(self) -> int:
        """Tokens the text encoder reads (start and end tokens included): 77 for CLIP."""
        self._load()
        return int(self._tokenizer.context_length)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text before truncation (start and end tokens included)."""
        self._load()
        tokenizer = self._tokenizer
        if hasattr(tokenizer, "sot_token_id"):  # open_clip's CLIP BPE tokenizer
            return [len(tokenizer.encode(text)) + 2 for text in texts]
        return [len(tokenizer.tokenizer(tokenizer.clean_fn(text)).input_ids) for text in texts]

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts → (N, D) L2-normalised embeddings, float32 on CPU; texts longer than
        :attr:`context_length` tokens are cut there (see :meth:`token_counts`)."""
        model = self._load()
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[start : start + self.batch_size]))
            out.append(F.normalize(model.encode_text(tokens.to(self.device)).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.empty(0)


_SHARED: dict[tuple[str, str, str], ClipModel] = {}
SHARED_MAX = 2  # loaded CLIPs kept per process (a run normally uses one)


def shared_clip_model(model: str, pretrained: str | None, device: str, option: str) -> ClipModel:
    """One ClipModel per (model, weights, device) in a process: CLIP, C2I and the SpLiCE
    metrics of a run load the weights once. ``option`` (the first requester's) only names
    the setting in error hints. The oldest model is dropped beyond :data:`SHARED_MAX`."""
    key = (model, weights_identity(pretrained), str(torch.device(device)))
    if key not in _SHARED:
        while len(_SHARED) >= SHARED_MAX:
            _SHARED.pop(next(iter(_SHARED)))
        _SHARED[key] = ClipModel(model, pretrained, device, option=option)
    return _SHARED[key]


def clear_shared_clip_models() -> None:
    """Drop the loaded models (as a new process would start)."""
    _SHARED.clear()
