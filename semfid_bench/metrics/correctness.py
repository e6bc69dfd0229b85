"""opensr-test's *correctness*: every pixel's high-frequency content classified as
improvement, omission or hallucination (Aybar et al., ESA OpenSR, ``opensr_test.main``).

After *harmonisation* (SR histogram-matched to HR per channel, then translated onto HR by
phase correlation), three per-pixel distances are taken with the normalised difference
``|x − y| / |x + y + 1e-8|`` averaged over channels: d_ref (LR upsampled to HR vs HR),
d_im (SR vs HR) and d_om (SR vs LR upsampled). Pixels where none of the three exceeds
``gradient_threshold`` (``autoNN``: the NN-th percentile of d_ref) are left out. Relative
to d_ref, each class gets a score (smaller = closer)::

    H  = d_im + d_om − 1
    im = d_im + d_om · (1 − exp(−H · im_score))
    om = d_om + d_im · (1 − exp(−H · om_score))
    ha = exp(−d_im · d_om · ha_score)

and a softmin with ``temperature`` turns them into probabilities. ``norm="percent"``
reports the share of kept pixels whose most probable class is each one;
``norm="softmin"`` (opensr-test's default) the mean probabilities. Both are ×100 here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from semfid_bench.metrics.lr_alignment import align
from semfid_bench.metrics.lr_consistency import crop_border, lr_scale
from semfid_bench.plugin_api.artefacts import Artefact, class_map_from
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference

CLASSES = ("improvement", "omission", "hallucination")
NORMS = ("percent", "softmin")
MAP_SIDE = 64  # the stored class map's longest side, at most
MAP_LEGEND = (
    "Each pixel's high-frequency content as improvement, omission or hallucination "
    "(uncoloured: below the threshold, not judged), over the SR image less its border."
)


@dataclass(frozen=True)
class Settings:
    """opensr-test's correctness parameters (``opensr_test.config.Config``) and defaults."""

    border: int = 4
    harmonise_spectral: bool = True
    harmonise_spatial: bool = True
    max_translation: float = 5.0
    gradient_threshold: float | str = "auto75"
    im_score: float = 0.05
    om_score: float = 0.05
    ha_score: float = 0.05
    temperature: float = 0.25
    norm: str = "percent"

    def __post_init__(self) -> None:
        if not isinstance(self.border, int) or isinstance(self.border, bool) or self.border < 0:
            raise ValueError(
                f"border must be a non-negative integer (LR pixels), got {self.border!r}"
            )
        threshold = self.gradient_threshold
        if isinstance(threshold, str) and not (
            threshold == "auto" or (threshold[4:].isdigit() and threshold.startswith("auto"))
        ):
            raise ValueError(f"gradient_threshold must be a number or autoNN, got {threshold!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")


@dataclass(frozen=True)
class Correctness:
    """One image's result: the three numbers (×100, in ``CLASSES`` order) and the class
    map (H, W): 0 improvement, 1 omission, 2 hallucination, NaN where left out."""

    scores: tuple[float, float, float]
    classes: torch.Tensor


def harmonise(sr: torch.Tensor, hr: torch.Tensor, settings: Settings) -> torch.Tensor:
    """SR without its systematic error: histogram-matched and aligned to HR (float64)."""
    from skimage.exposure import match_histograms

    image = sr.cpu().numpy()
    if settings.harmonise_spectral:
        image = match_histograms(image, hr.cpu().numpy(), channel_axis=0)
    if settings.harmonise_spatial:
        image = align(image, hr.cpu().numpy(), settings.max_translation)
    return torch.from_numpy(np.ascontiguousarray(image))


def _normalised_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nanmean((x - y).abs() / (x + y + 1e-8).abs(), dim=0)


def _threshold(d_ref: torch.Tensor, threshold: float | str) -> float:
    if isinstance(threshold, str):
        fraction = int((threshold if threshold != "auto" else "auto75")[4:]) / 100
        return d_ref.flatten().kthvalue(int(fraction * d_ref.numel())).values.item()
    return float(threshold)


def classify(sr: torch.Tensor, lr: torch.Tensor, hr: torch.Tensor, settings: Settings):
    """One image: SR (3, H, W), its LR (3, h, w) and HR (3, H, W) → :class:`Correctness`."""
    if hr.shape != sr.shape:
        raise ValueError(f"SR {tuple(sr.shape)} and GT {tuple(hr.shape)} differ in shape")
    hr = crop_border(hr[None].float(), lr[None].float(), settings.border)[0]
    sr, lr = crop_border(sr[None].float(), lr[None].float(), settings.border)
    scale = lr_scale(sr, lr)
    lr_up = F.interpolate(lr, scale_factor=scale, mode="bilinear", antialias=True)[0].cpu()
    hr = hr[0].cpu()
    sr = harmonise(sr[0], hr, settings)
    return classify_distances(
        _normalised_difference(lr_up, hr),
        _normalised_difference(sr, hr),
        _normalised_difference(sr, lr_up),
        settings,
    )


def classify_distances(
    d_ref: torch.Tensor, d_im: torch.Tensor, d_om: torch.Tensor, settings: Settings
) -> Correctness:
    """The three-way split from per-location distances LR↔GT, SR↔GT and SR↔LR (any
    space: pixels here, CLIP patch tokens in :mod:`~semfid_bench.metrics.semantic_correctness`)."""
    cut = _threshold(d_ref, settings.gradient_threshold)
    mask = (((d_ref > cut) * 1 + (d_im > cut) * 1 + (d_om > cut) * 1) > 0) * 1.0
    mask[mask == 0] = torch.nan
    d_im_ref, d_om_ref = d_im * mask / (d_ref * mask), d_om * mask / (d_ref * mask)
    spread = d_im_ref + d_om_ref - 1
    stack = torch.stack(
        [
            d_im_ref + d_om_ref * (1 - torch.exp(-spread * settings.im_score)),
            d_om_ref + d_im_ref * (1 - torch.exp(-spread * settings.om_score)),
            torch.exp(-d_im_ref * d_om_ref * settings.ha_score),
        ]
    )
    weights = torch.exp(-stack / settings.temperature)
    stack = weights / weights.sum(dim=0)
    classes = torch.argmax(stack, dim=0) * mask
    if settings.norm == "percent":
        kept = torch.nansum(mask)
        values = [torch.sum(classes == k) / kept for k in range(3)]
    else:
        values = [stack[k].nanmean() for k in range(3)]
    return Correctness(tuple(100.0 * float(v) for v in values), classes)


def small_map(classes: torch.Tensor, side: int = MAP_SIDE) -> dict:
    """The class map subsampled (every ``stride``-th pixel) to at most ``side`` per side,
    as lists of ints (-1 = left out), with the full map's pixel counts per class."""
    stride = max(1, -(-max(classes.shape) // side))
    coarse = classes[::stride, ::stride]
    cells = torch.where(coarse.isnan(), -1, coarse).to(torch.int64).tolist()
    counts = {name: int((classes == k).sum()) for k, name in enumerate(CLASSES)}
    return {"map": cells, "map_stride": stride, "counts": counts}


def scores_and_details(results: list[Correctness], index: int) -> tuple[torch.Tensor, list[dict]]:
    """The class ``index``'s share per image, and each image's three shares with its map."""
    scores = torch.tensor([r.scores[index] for r in results], dtype=torch.float64)
    details = [dict(zip(CLASSES, r.scores, strict=True)) | small_map(r.classes) for r in results]
    return scores, details


def pixel_class_map(details: dict) -> list[Artefact]:
    """The stored class map, for reports."""
    return [class_map_from(details, CLASSES, MAP_LEGEND, centred=True)]


class CorrectnessMetric(Metric):
    """One of the three correctness numbers; the details carry all three and the map."""

    def __init__(self, which: str, settings: Settings) -> None:
        self.index, self.settings = CLASSES.index(which), settings

    def score_with_details(self, sr: torch.Tensor, reference: torch.Tensor, *, lr: torch.Tensor):
        triples = zip(sr, lr, broadcast_reference(reference, len(sr)), strict=True)
        results = [classify(s, low, gt, self.settings) for s, low, gt in triples]
        return scores_and_details(results, self.index)

    def score(self, sr: torch.Tensor, reference: torch.Tensor, *, lr: torch.Tensor):
        return self.score_with_details(sr, reference, lr=lr)[0]


def _factory(which: str):
    def make(
        device=None,
        border: int = 4,
        harmonise_spectral: bool = True,
        harmonise_spatial: bool = True,
        max_translation: float = 5.0,
        gradient_threshold: float | str = "auto75",
        im_score: float = 0.05,
        om_score: float = 0.05,
        ha_score: float = 0.05,
        temperature: float = 0.25,
        norm: str = "percent",
    ) -> CorrectnessMetric:
        settings = Settings(
            border, harmonise_spectral, harmonise_spatial, max_translation,
            gradient_threshold, im_score, om_score, ha_score, temperature, norm,
        )  # fmt: skip
        return CorrectnessMetric(which, settings)

    make.__name__ = f"make_{which}"
    make.artefacts = pixel_class_map
    return make


make_improvement = _factory("improvement")
make_omission = _factory("omission")
make_hallucination = _factory("hallucination")
