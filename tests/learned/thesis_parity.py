"""Seeded weights and inputs shared by the thesis-regressor parity script and its test.

Weights are drawn for open_clip's ``ModifiedResNet`` (the CLIP RN50 class) in its own
state-dict order from one seeded generator, independent of any library's initialisation,
so the script (which converts them to timm's ``resnet50_clip`` with timm's own
``checkpoint_filter_fn``) and the test (which loads them into semfid-bench) use the same
numbers.
"""

from __future__ import annotations

import numpy as np
import torch

WEIGHT_SEED = 14
PHOTOS = (("astronaut", (301, 417)), ("coffee", (399, 600)), ("chelsea", (300, 451)))
BLUR_RADIUS = 2.0


def rn50_clip() -> torch.nn.Module:
    """open_clip's RN50 image tower (attention pool included), seeded weights, eval mode."""
    from open_clip.modified_resnet import ModifiedResNet

    net = ModifiedResNet([3, 4, 6, 3], output_dim=1024, heads=32, image_size=224, width=64)
    generator = torch.Generator().manual_seed(WEIGHT_SEED)
    state = {}
    for name, value in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = value
            continue
        noise = torch.randn(value.shape, generator=generator)
        if name.endswith("running_var"):
            state[name] = 0.5 + noise.abs()
        elif name.endswith("running_mean") or name.endswith(".bias"):
            state[name] = 0.1 * noise
        elif value.dim() == 1:  # BatchNorm weights; the last of each block small
            state[name] = (0.2 if ".bn3." in name else 1.0) * (0.75 + 0.25 * noise.tanh())
        elif value.dim() == 4:  # He-scaled convolutions
            state[name] = noise * (2.0 / value[0].numel()) ** 0.5
        else:  # attention pool
            state[name] = 0.02 * noise
    net.load_state_dict(state)
    return net.eval()


def head_weights(channels: int, stage: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive 1×1-conv weights (so the ReLU output is alive) and a bias, per stage."""
    generator = torch.Generator().manual_seed(WEIGHT_SEED * 10 + stage)
    weight = torch.rand((1, channels, 1, 1), generator=generator) / channels
    return weight, 0.01 * torch.randn(1, generator=generator)


def photo_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(GT, SR) uint8 arrays: skimage photographs cut to odd sizes, SR = PIL Gaussian blur."""
    import skimage.data
    from PIL import Image, ImageFilter

    pairs = []
    for name, (height, width) in PHOTOS:
        gt = np.ascontiguousarray(getattr(skimage.data, name)()[:height, :width])
        sr = np.asarray(Image.fromarray(gt).filter(ImageFilter.GaussianBlur(BLUR_RADIUS)))
        pairs.append((gt, sr))
    return pairs


def seeded_state(names_and_shapes: list[tuple[str, torch.Size]], seed: int) -> dict:
    """Deterministic values for a decoder's state, in the order given: He-scaled convs,
    BatchNorm weights near 1, small biases and running means, running variances ≥ 0.5."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in names_and_shapes:
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
            continue
        noise = torch.randn(shape, generator=generator)
        if name.endswith("running_var"):
            state[name] = 0.5 + noise.abs()
        elif name.endswith("running_mean") or name.endswith(".bias"):
            state[name] = 0.1 * noise
        elif len(shape) == 1:
            state[name] = 0.75 + 0.25 * noise.tanh()
        else:
            state[name] = noise * (2.0 / torch.Size(shape[1:]).numel()) ** 0.5
    return state


def thesis_decoder_key(name: str) -> str:
    """The reference CLU's ``decoder.{i}.…`` name → semfid-bench's thesis decoder name."""
    index, rest = name.split(".", 1)
    return "bottom." + rest if index == "4" else f"ups.{3 - int(index)}.{rest}"
