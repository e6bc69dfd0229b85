"""ResNet-50 stage features for the learned metrics, from ImageNet or CLIP pretraining.

Two families, each loaded through its library's own mechanism:

- ``imagenet``: torchvision ``resnet50`` with a ``ResNet50_Weights`` enum member
  (``IMAGENET1K_V1``, the classic ResNet-50, by default), cached under ``$TORCH_HOME``.
- ``clip-rn50``: the image encoder of open_clip ``RN50-quickgelu`` (OpenAI's CLIP RN50 and
  the yfcc15m / cc12m tags were trained with QuickGELU), pretrained tag ``openai`` by default.

``pretrained=None`` gives a random initialisation; smaller ``layers``/``width`` build a small
network of the same class (used by tests and for quick experiments). A ``weights`` path
overrides the download: a state dict for ``imagenet``, an open_clip checkpoint for
``clip-rn50``.

A backbone returns five feature maps: the stem output (1/4 resolution) and the outputs of
the four residual stages (1/4, 1/8, 1/16, 1/32). Inputs are RGB in [0, 1]; each backbone
applies its own normalisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError

FAMILIES = ("imagenet", "clip-rn50")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_MODEL = "RN50-quickgelu"


@dataclass(frozen=True)
class BackboneConfig:
    """What a backbone is: family, pretraining and size (recorded in checkpoints).

    :param family: ``imagenet`` or ``clip-rn50``.
    :param pretrained: torchvision weights name (``IMAGENET1K_V1``/``IMAGENET1K_V2``), an
        open_clip tag (``openai``, ``yfcc15m``, ``cc12m``), or None for random weights.
    :param layers: residual blocks per stage; ResNet-50 is (3, 4, 6, 3).
    :param width: torchvision ``width_per_group`` (the bottleneck width) or open_clip's
        ``width``; 64 for ResNet-50.
    """

    family: str = "imagenet"
    pretrained: str | None = "IMAGENET1K_V1"
    layers: tuple[int, ...] = (3, 4, 6, 3)
    width: int = 64
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BackboneConfig:
        values = dict(data)
        for key in ("layers", "mean", "std"):
            values[key] = tuple(values[key])
        return cls(**values)


def backbone_config(
    family: str,
    pretrained: str | None = "default",
    *,
    layers: tuple[int, ...] = (3, 4, 6, 3),
    width: int = 64,
) -> BackboneConfig:
    """A config for ``family`` with its normalisation; ``pretrained="default"`` picks the
    family's standard weights (``IMAGENET1K_V1`` / ``openai``)."""
    if family == "imagenet":
        tag = "IMAGENET1K_V1" if pretrained == "default" else pretrained
        return BackboneConfig(family, tag, tuple(layers), width, IMAGENET_MEAN, IMAGENET_STD)
    if family == "clip-rn50":
        tag = "openai" if pretrained == "default" else pretrained
        return BackboneConfig(family, tag, tuple(layers), width, CLIP_MEAN, CLIP_STD)
    raise SemfidError(
        f"Unknown backbone {family!r}.", hint=f"Choose one of: {', '.join(FAMILIES)}."
    )


class StageBackbone(nn.Module):
    """A ResNet split into a stem and four stages; ``forward`` returns all five outputs."""

    def __init__(self, config: BackboneConfig, stem: nn.Module, stages: list[nn.Module]) -> None:
        super().__init__()
        self.config = config
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def forward(
        self, images: torch.Tensor, block: int | None = None, stem_pre_pool: bool = False
    ) -> list[torch.Tensor]:
        """Five feature maps: the stem's, then one per stage.

        :param block: None for each stage's output; an index to tap that block of every
            stage instead (the thesis code's ``stages.{s}.2.act`` is ``block=2``: mid-stage
            for stages of 4 and 6 blocks; a stage with fewer blocks gives its last one).
        :param stem_pre_pool: tap the stem before its final pooling (the thesis CLU's
            ``stem.conv3``, at 1/2 resolution) instead of its output.
        """
        x = (images - self.mean) / self.std
        if stem_pre_pool:
            x = self.stem[:-1](x)
            features = [x]
            x = self.stem[-1](x)
        else:
            x = self.stem(x)
            features = [x]
        for stage in self.stages:
            tap = len(stage) - 1 if block is None else min(block, len(stage) - 1)
            for index, layer in enumerate(stage):
                x = layer(x)
                if index == tap:
                    features.append(x)
        return features

    @torch.no_grad()
    def channels(self) -> list[int]:
        """Channels of the five outputs (stem first), found with a small probe."""
        was_training = self.training
        self.eval()
        probe = torch.zeros(1, 3, 64, 64, device=self.mean.device)
        sizes = [f.shape[1] for f in self(probe)]
        self.train(was_training)
        return sizes


def build_backbone(config: BackboneConfig, weights: str | Path | None = None) -> StageBackbone:
    """The backbone ``config`` describes, with pretrained weights loaded if it names any.

    :param weights: a local weights file that replaces the download.
    """
    if config.family == "imagenet":
        return _imagenet(config, weights)
    if config.family == "clip-rn50":
        return _clip(config, weights)
    raise SemfidError(f"Unknown backbone family {config.family!r}; known: {', '.join(FAMILIES)}.")


def _imagenet(config: BackboneConfig, weights: str | Path | None) -> StageBackbone:
    from torchvision.models.resnet import Bottleneck, ResNet

    net = ResNet(Bottleneck, list(config.layers), width_per_group=config.width)
    if weights is not None or config.pretrained is not None:
        try:
            net.load_state_dict(_imagenet_state(config, weights))
        except RuntimeError as exc:
            raise WeightsUnavailableError(
                f"Weights {weights or config.pretrained} do not fit a torchvision ResNet with "
                f"layers {list(config.layers)}: {str(exc).splitlines()[0]}",
                hint="--weights expects a torchvision ResNet-50 state dict.",
            ) from exc
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    return StageBackbone(config, stem, [net.layer1, net.layer2, net.layer3, net.layer4])


def _imagenet_state(config: BackboneConfig, weights: str | Path | None) -> dict:
    from torchvision.models import ResNet50_Weights

    from semfid_bench.plugin_api.weights import load_state_dict, torchvision_state_dict

    if weights is not None:
        return load_state_dict(weights)
    if config.layers != (3, 4, 6, 3) or config.width != 64:
        raise SemfidError("Pretrained ImageNet weights exist only for the full ResNet-50.")
    try:
        enum_member = ResNet50_Weights[config.pretrained]
    except KeyError:
        names = ", ".join(w.name for w in ResNet50_Weights)
        raise SemfidError(
            f"Unknown torchvision ResNet-50 weights {config.pretrained!r}; known: {names}."
        ) from None
    return torchvision_state_dict(enum_member, option="--weights PATH")


def _clip(config: BackboneConfig, weights: str | Path | None) -> StageBackbone:
    from open_clip.modified_resnet import ModifiedResNet

    if weights is not None or config.pretrained is not None:
        if config.layers != (3, 4, 6, 3) or config.width != 64:
            raise SemfidError("Pretrained CLIP weights exist only for the full RN50.")
        net = _clip_pretrained(config.pretrained, weights)
    else:
        net = ModifiedResNet(
            list(config.layers), output_dim=32, heads=1, image_size=64, width=config.width
        )
    return clip_stages(config, net)


def clip_stages(config: BackboneConfig, net: nn.Module) -> StageBackbone:
    """An open_clip ``ModifiedResNet`` as a :class:`StageBackbone` (its attention pool
    dropped)."""
    stem = nn.Sequential(
        net.conv1, net.bn1, net.act1, net.conv2, net.bn2, net.act2, net.conv3, net.bn3, net.act3,
        net.avgpool,
    )  # fmt: skip
    return StageBackbone(config, stem, [net.layer1, net.layer2, net.layer3, net.layer4])


def _clip_pretrained(tag: str | None, weights: str | Path | None) -> nn.Module:
    """The visual tower of open_clip ``RN50-quickgelu`` with pretrained ``tag`` or a file."""
    import open_clip

    source = str(Path(weights).expanduser()) if weights is not None else tag
    if weights is not None and not Path(source).is_file():
        raise WeightsUnavailableError(f"CLIP RN50 weights file {source} does not exist.")
    if weights is None and tag not in open_clip.list_pretrained_tags_by_model(CLIP_MODEL):
        known = ", ".join(open_clip.list_pretrained_tags_by_model(CLIP_MODEL))
        raise SemfidError(f"Unknown open_clip tag {tag!r} for {CLIP_MODEL}; known: {known}.")
    if weights is None:
        source = _clip_download(tag)
    model = open_clip.create_model(CLIP_MODEL, pretrained=source, device="cpu")
    return model.visual


def _clip_cached(hf_hub: str) -> str:
    """The Hugging Face cache's copy of an open_clip ``org/model/[file]`` entry, without
    touching the network (huggingface_hub reads HF_HUB_OFFLINE only once, at import)."""
    from huggingface_hub import try_to_load_from_cache

    repo_id, filename = hf_hub.rstrip("/"), ""
    if not hf_hub.endswith("/"):
        repo_id, _, filename = hf_hub.rpartition("/")
    names = (
        [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    )
    for name in names:
        found = try_to_load_from_cache(repo_id, name)
        if isinstance(found, str):
            return found
    raise FileNotFoundError(f"{repo_id} is not in the Hugging Face cache")


def _clip_download(tag: str) -> str:
    """Local path of open_clip's pretrained file for ``tag`` (Hugging Face cache or
    download), before any model is built, so a missing file fails fast."""
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    from semfid_bench.plugin_api.weights import offline

    cfg = get_pretrained_cfg(CLIP_MODEL, tag)
    try:
        if offline():
            return _clip_cached(cfg.get("hf_hub", ""))
        return download_pretrained(cfg)
    except Exception as exc:
        why = "offline mode is on" if offline() else f"{type(exc).__name__}: {exc}"
        raise WeightsUnavailableError(
            f"CLIP weights {CLIP_MODEL}/{tag} are not available ({why}).",
            hint=f"Download {cfg.get('hf_hub') or cfg.get('url')} on a machine with network "
            "access (open_clip keeps it in the Hugging Face cache, $HF_HOME) or pass a local "
            "open_clip checkpoint with --weights PATH.",
        ) from exc
