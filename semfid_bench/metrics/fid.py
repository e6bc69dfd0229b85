"""FID and KID as set-level metrics: Inception-v3 pool3 features of SR and GT images.

The network is torchvision's Inception-v3 with the blocks pytorch-fid patches to reproduce
TensorFlow's FID Inception (average pools that ignore padding, a max pool in the last
block), 1008 classes, loading pytorch-fid's published port of the TF weights
``pt_inception-2015-12-05-6726825d.pth`` strictly (same keys as pytorch-fid's model). Inputs
are scaled to [-1, 1] as pytorch-fid does (``2x - 1``) after resizing to 299×299 by one of
two named conventions (the ``resize`` option):

- ``clean`` (default): clean-fid's ``make_resizer("PIL", False, "bicubic", (299, 299))``:
  each channel of the 8-bit image as a float32 PIL image, bicubic, clipped to [0, 255].
- ``legacy``: pytorch-fid's ``resize_input`` (and clean-fid's ``legacy_pytorch`` mode):
  ``F.interpolate(bilinear, align_corners=False)``.

Each cell stores the SR and GT images' 2048-d features; the reducers in
:mod:`semfid_bench.metrics.fid_formulas` compare the SR set with the GT set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.inception import Inception3, InceptionA, InceptionC, InceptionE

from semfid_bench.plugin_api.interfaces import SetMetric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.weights import WeightFile, fetch_weights, key_mismatch, load_state_dict

INCEPTION = WeightFile(
    "pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth",
)
RESIZES = ("clean", "legacy")
SIZE = 299
FEATURES = 2048


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3×3 average pool: padded zeros do not count in the average."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _tf_max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInceptionA(InceptionA):
    """InceptionA with TensorFlow's average pool."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_avg_pool(x))]


class FIDInceptionC(InceptionC):
    """InceptionC with TensorFlow's average pool."""

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):  # fmt: skip
            branch7x7dbl = layer(branch7x7dbl)
        return [self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(_tf_avg_pool(x))]


class FIDInceptionE(InceptionE):
    """InceptionE whose pool branch uses ``pool`` (TF's average pool in Mixed_7b, a max
    pool in Mixed_7c: the TF FID graph's quirk)."""

    def __init__(self, in_channels: int, pool: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__(in_channels)
        self.pool = pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        double = torch.cat([self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double)], 1)
        return [self.branch1x1(x), branch3x3, double, self.branch_pool(self.pool(x))]


class FIDInception3(Inception3):
    """The FID Inception network; its state dict has exactly the keys of pytorch-fid's
    ``fid_inception_v3()`` (and of the published weights)."""

    def __init__(self) -> None:
        super().__init__(num_classes=1008, aux_logits=False, init_weights=False)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7b = FIDInceptionE(1280, _tf_avg_pool)
        self.Mixed_7c = FIDInceptionE(2048, _tf_max_pool)

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 299, 299) in [-1, 1] → (B, 2048) final average-pool features."""
        for layer in (
            self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.maxpool1,
            self.Conv2d_3b_1x1, self.Conv2d_4a_3x3, self.maxpool2, self.Mixed_5b,
            self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
            self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
            self.avgpool,
        ):  # fmt: skip
            x = layer(x)
        return torch.flatten(x, 1)


def clean_resize(images: torch.Tensor) -> torch.Tensor:
    """clean-fid's resize: (B, 3, H, W) in [0, 1] (8-bit levels) → (B, 3, 299, 299) in
    [0, 1], each channel bicubic as a float32 PIL image of 0–255 values, clipped."""
    from PIL import Image

    levels = (images.detach().float().cpu() * 255.0).round().numpy()
    out = np.empty((*levels.shape[:2], SIZE, SIZE), dtype=np.float32)
    for b, image in enumerate(levels):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel, mode="F").resize((SIZE, SIZE), Image.BICUBIC)
            out[b, c] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out / np.float32(255.0))


def legacy_resize(images: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's resize: bilinear, ``align_corners=False``."""
    return F.interpolate(images.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False)


@lru_cache(maxsize=2)
def _network(path: str, device: str) -> FIDInception3:
    """One network per weights file and device, shared by ``fid`` and ``kid``."""
    net = FIDInception3()
    state = load_state_dict(path, release=INCEPTION)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise key_mismatch(path, "FID Inception-v3", missing, unexpected, INCEPTION.filename)
    return net.eval().to(device)


class InceptionSetMetric(SetMetric):
    """Inception pool3 features of SR and GT, one pair per item; the reducer named in the
    spec compares the two sets."""

    name = "fid"

    @classmethod
    def weight_files(cls, weights: str | None = None, **_: object) -> dict[str, Callable[[], Path]]:
        """The Inception weights a run loads (for ``prefetch`` and ``doctor``)."""
        option = f"--set {cls.name}.weights=PATH"
        return {INCEPTION.filename: lambda: fetch_weights(INCEPTION, weights, option=option)}

    def __init__(
        self,
        device: torch.device | str | None = None,
        weights: str | None = None,
        resize: str = "clean",
    ) -> None:
        if resize not in RESIZES:
            raise ValueError(f"{self.name}: resize must be one of {RESIZES}, got {resize!r}")
        self.device = torch.device(device or "cpu")
        self.resize = resize
        self.weights = self.weight_files(weights)[INCEPTION.filename]()
        self.net = _network(str(self.weights), str(self.device))  # a wrong file fails here

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """(B, 3, H, W) in [0, 1] → (B, 2048) float32 pool3 features."""
        resize = clean_resize if self.resize == "clean" else legacy_resize
        return self.net.pool3(2.0 * resize(images).to(self.device) - 1.0).float().cpu().numpy()

    def reference(self, gt: torch.Tensor | None, items: Sequence[Any]) -> np.ndarray:
        return self.features(gt)

    def item_stats(self, sr: torch.Tensor, reference: np.ndarray, **_: Any) -> list[dict[str, Any]]:
        """Each SR image's features and its GT's: ``reference`` holds one GT's features
        for every SR image, or one GT's per SR image."""
        gt = broadcast_reference(list(reference), len(sr))
        return [{"sr": s, "gt": g} for s, g in zip(self.features(sr), gt, strict=True)]


class FIDMetric(InceptionSetMetric):
    """FID of the SR set against the GT set (reducer ``fid_formulas:fid_reduce``)."""


class KIDMetric(InceptionSetMetric):
    """KID of the SR set against the GT set (reducer ``fid_formulas:kid_reduce``); the
    subset options are used when reducing, and are part of the key like any option."""

    name = "kid"

    def __init__(
        self,
        device: torch.device | str | None = None,
        weights: str | None = None,
        resize: str = "clean",
        num_subsets: int = 100,
        max_subset_size: int = 1000,
        subset_seed: int = 0,
    ) -> None:
        if int(num_subsets) < 1 or int(max_subset_size) < 2:
            raise ValueError("kid: num_subsets must be >= 1 and max_subset_size >= 2")
        super().__init__(device, weights, resize)
