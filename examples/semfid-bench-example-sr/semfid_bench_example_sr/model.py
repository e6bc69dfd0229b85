"""The model itself; torch is imported only when a run creates it."""

import torch
import torch.nn.functional as F

from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext


class SharpBicubic(SRModel):
    """Bicubic upscaling, then ``sr + amount · (sr − blur(sr))``.

    Options: ``amount`` (sharpening strength, default 0.5), ``sigma`` (blur width in SR
    pixels, default 1.0), set with ``--set sharp-bicubic.amount=0.8``.
    """

    def __init__(self, scale: int, device: torch.device, amount: float = 0.5, sigma: float = 1.0):
        self.scale = int(scale)
        self.amount = float(amount)
        radius = max(1, round(3 * sigma))
        x = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-(x**2) / (2 * sigma**2))
        self.kernel = (kernel / kernel.sum()).to(device)

    def _blur(self, image: torch.Tensor) -> torch.Tensor:
        channels, radius = image.shape[1], self.kernel.numel() // 2
        row = self.kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
        col = self.kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
        padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
        return F.conv2d(F.conv2d(padded, row, groups=channels), col, groups=channels)

    def upscale(self, lr: torch.Tensor, context: UpscaleContext) -> torch.Tensor:
        sr = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return (sr + self.amount * (sr - self._blur(sr))).clamp(0.0, 1.0)
