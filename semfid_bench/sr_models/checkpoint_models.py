"""The published GAN / transformer SR checkpoints semfid-bench ships plugins for.

URLs are the authors' GitHub releases. SHA-256 is recorded where a value could be
confirmed; the authors publish none, so ``None`` means "not checked" (the file still has
to load as the expected architecture and scale).
"""

from __future__ import annotations

from typing import ClassVar

from semfid_bench.plugin_api.weights import WeightFile
from semfid_bench.sr_models.checkpoint import CheckpointSRModel, PublishedCheckpoint

_SWINIR_RELEASE = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/"


class BSRGAN(CheckpointSRModel):
    """BSRGAN (Zhang et al., 2021): RRDBNet x4 trained on the BSRGAN degradation model."""

    name = "bsrgan"
    checkpoints: ClassVar[dict[str, PublishedCheckpoint]] = {
        "default": PublishedCheckpoint(
            WeightFile(
                "BSRGAN.pth", "https://github.com/cszn/KAIR/releases/download/v1.0/BSRGAN.pth"
            ),
            architecture="ESRGAN",
            scale=4,
        )
    }


class SwinIR(CheckpointSRModel):
    """SwinIR (Liang et al., 2021): ``realsr-gan`` is the large real-world x4 GAN model,
    ``classical`` the medium bicubic-trained x4 model (PSNR-oriented)."""

    name = "swinir"
    default_variant = "realsr-gan"
    checkpoints: ClassVar[dict[str, PublishedCheckpoint]] = {
        "realsr-gan": PublishedCheckpoint(
            WeightFile(
                "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth",
                _SWINIR_RELEASE + "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth",
            ),
            architecture="SwinIR",
            scale=4,
        ),
        "classical": PublishedCheckpoint(
            WeightFile(
                "001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth",
                _SWINIR_RELEASE + "001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth",
            ),
            architecture="SwinIR",
            scale=4,
        ),
    }


class RealESRGAN(CheckpointSRModel):
    """Real-ESRGAN x4plus (Wang et al., 2021): RRDBNet x4, high-order degradation training."""

    name = "realesrgan"
    checkpoints: ClassVar[dict[str, PublishedCheckpoint]] = {
        "default": PublishedCheckpoint(
            WeightFile(
                "RealESRGAN_x4plus.pth",
                "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/"
                "RealESRGAN_x4plus.pth",
                # Not published by the authors; the same values are recorded by many
                # independent projects that verify this release file.
                sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
                size=67_040_989,
            ),
            architecture="ESRGAN",
            scale=4,
        )
    }
