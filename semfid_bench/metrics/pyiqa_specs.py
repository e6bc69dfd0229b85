"""Specs for ``pyiqa:<name>`` metrics, read from pyiqa's own model configurations.

pyiqa declares a direction only where it sets ``lower_better``; a metric without the key
silently counts as higher-is-better there (its issue #97). Here a missing key is accepted
only for the metrics listed in :data:`REVIEWED_HIGHER_IS_BETTER` (pyiqa 0.1.16 metrics
whose papers define higher as better); any other metric without a declared direction is
refused rather than guessed. The configuration module is read from pyiqa's installed
files without importing pyiqa (which imports torch), so resolving a name stays cheap.
"""

from __future__ import annotations

import importlib.util
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from semfid_bench.plugin_api.errors import PluginError
from semfid_bench.plugin_api.specs import MetricSpec

REVIEWED_HIGHER_IS_BETTER = frozenset(
    {
        "ahiq", "ckdn", "ssim", "ssimc", "psnr", "psnry", "fsim", "ms_ssim", "vif", "vsi",
        "cw_ssim", "nrqm", "cnniqa", "musiq", "musiq-ava", "musiq-paq2piq", "musiq-spaq",
        "nima", "nima-koniq", "nima-spaq", "nima-vgg16-ava", "paq2piq", "dbcnn", "maniqa",
        "maniqa-pipal", "maniqa-kadid", "clipiqa", "clipiqa+", "clipiqa+_vitL14_512",
        "clipiqa+_rn50_512", "tres", "tres-flive", "hyperiqa", "metaiqa", "clipscore",
        "entropy", "topiq_nr", "topiq_nr-flive", "topiq_nr-spaq", "topiq_nr-face",
        "topiq_nr_swin-face", "topiq_nr-face-v1", "topiq_fr", "topiq_fr-pipal", "topiq_iaa",
        "topiq_iaa_res50", "laion_aes", "liqe", "liqe_mix", "wadiqam_fr", "wadiqam_nr",
        "qalign", "qalign_8bit", "qalign_4bit", "arniqa", "arniqa-live", "arniqa-csiq",
        "arniqa-tid", "arniqa-kadid", "arniqa-clive", "arniqa-flive", "arniqa-spaq",
        "qualiclip", "qualiclip+", "qualiclip+-clive", "qualiclip+-flive", "qualiclip+-spaq",
    }
)  # fmt: skip


@cache
def pyiqa_configs() -> dict[str, dict[str, Any]]:
    """pyiqa's ``DEFAULT_CONFIGS``, loaded from its file without importing the package."""
    spec = importlib.util.find_spec("pyiqa")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            "pyiqa is not installed: pyiqa:<name> metrics need it.",
            hint="pip install 'semfid-bench[iqa]' (pyiqa is licensed PolyForm Noncommercial "
            "1.0.0: non-commercial use only).",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "default_model_configs.py"
    module_spec = importlib.util.spec_from_file_location("_pyiqa_default_configs", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return dict(module.DEFAULT_CONFIGS)


def _value_range(text: str | None) -> tuple[float, float]:
    """pyiqa's ``score_range`` string ('0, 1', '~0, ~1') as numbers; approximate or
    missing ends are unbounded."""
    parts = (text or "").split(",")
    if len(parts) != 2:
        return (-math.inf, math.inf)
    ends = []
    for part, unbounded in zip(parts, (-math.inf, math.inf), strict=True):
        part = part.strip()
        ends.append(float(part) if re.fullmatch(r"[-+]?\d+(\.\d+)?", part) else unbounded)
    return (ends[0], ends[1])


def resolve_pyiqa(name: str) -> tuple[MetricSpec, Any]:
    """Spec and factory of ``pyiqa:<name>``; raises PluginError for unknown names and for
    pyiqa's ``fid``, which compares folders, not images (the set-level ``fid`` does that)."""
    if name == "fid":
        raise PluginError(
            "pyiqa:fid compares two folders of images, so it has no score per image and "
            "cannot be a per-item metric.",
            hint="Use the set-level metric `fid` (or `kid`): --metrics fid computes FID of "
            "each model's SR set against the GT set.",
        )
    configs = pyiqa_configs()
    if name not in configs:
        raise PluginError(
            f"pyiqa has no metric {name!r}.",
            hint="`python -c 'import pyiqa; print(pyiqa.list_models())'` lists them.",
        )
    config = configs[name]
    if "lower_better" in config:
        higher_is_better = not config["lower_better"]
    elif name in REVIEWED_HIGHER_IS_BETTER:
        higher_is_better = True
    else:
        raise PluginError(
            f"pyiqa does not declare a direction for {name!r} (no 'lower_better' in its "
            f"config) and semfid-bench has not reviewed it; refusing to guess.",
            hint="Add it to semfid_bench.metrics.pyiqa_specs.REVIEWED_HIGHER_IS_BETTER "
            "after checking its paper.",
        )
    full_reference = config.get("metric_mode") == "FR"
    spec = MetricSpec(
        name=f"pyiqa:{name}",
        higher_is_better=higher_is_better,
        full_reference=full_reference,
        value_range=_value_range(config.get("score_range")),
        convention=f"pyiqa {name} defaults ({config.get('metric_opts', {}).get('type', '')})",
        description=f"pyiqa's {name}.",
    )

    def factory(device=None, **options):
        from semfid_bench.metrics.pyiqa_metric import PyiqaMetric

        return PyiqaMetric(name, full_reference, device=device, **options)

    return spec, factory
