"""What a run would need on this machine: versions and GPUs, every weight file, estimated
GPU memory per model, optional packages and the licences of the weights in use.

Nothing is downloaded: weight lookups run offline (:func:`~semfid_bench.weights.audit`),
so a file counts as found only when it is a local copy or already cached, and files with a
published size or pinned SHA-256 are checked against it. Plugins that declare no
``weight_files`` are instantiated once on the CPU, offline.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semfid_bench.errors import SemfidError, WeightsUnavailableError
from semfid_bench.interfaces import DeclaresWeights
from semfid_bench.prefetch import plugin_factory
from semfid_bench.registry import Registry
from semfid_bench.weights import ManualDownload, WrongFileError, audit, try_each

GIB = 1024**3


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table; ``ok`` False makes the exit code non-zero."""

    section: str
    item: str
    status: str
    detail: str = ""
    ok: bool = True


@dataclass(frozen=True)
class Footprint:
    """A model's size at its default settings, for a GPU memory estimate.

    :param params_m: parameters of every network it puts on the GPU (millions).
    :param bytes_per_param: 2 for networks that default to float16 on CUDA, else 4.
    :param activations_gib: estimated peak activations for a 128×128 LR input (512×512
        output) at the default tile size and guidance (batch 2 with classifier-free
        guidance), including float32 VAE decoding.
    :param basis: where the parameter count comes from.
    """

    params_m: float
    bytes_per_param: int
    activations_gib: float
    basis: str

    @property
    def peak_gib(self) -> float:
        return self.params_m * 1e6 * self.bytes_per_param / GIB + self.activations_gib


#: Built-in models' footprints (estimates; see :class:`Footprint`). Diffusion models'
#: counts are of our modules built at the released sizes on the meta device (SeeSR's and
#: PASD's UNet/ControlNet with their extra attention, StableSR's layout with SPADE, RAM
#: Swin-L); the SD x4 upscaler's and CoCa's are their model cards' round figures.
FOOTPRINTS: dict[str, Footprint] = {
    "bsrgan": Footprint(16.7, 2, 0.4, "RRDBNet 23 blocks, 64 features"),
    "realesrgan": Footprint(16.7, 2, 0.4, "RRDBNet 23 blocks, 64 features"),
    "swinir": Footprint(28.0, 2, 1.0, "SwinIR-L (real-world GAN variant)"),
    "sd-x4-upscaler": Footprint(
        473 + 55 + 340, 2, 3.5, "UNet 473M, VAE 55M, OpenCLIP-H text encoder 340M"
    ),
    "seesr": Footprint(
        1127 + 489 + 84 + 340 + 212,
        2,
        4.0,
        "UNet with image cross-attention 1127M, ControlNet 489M, VAE 84M, OpenCLIP-H text "
        "340M, RAM Swin-L tagger 212M (float32)",
    ),
    "pasd": Footprint(
        1108 + 361 + 84 + 123 + 638,
        2,
        5.0,
        "UNet with pixel-aware attention 1108M, ControlNet 361M, VAE 84M, CLIP-L text 123M, "
        "CoCa ViT-L/14 captioner ~638M",
    ),
    "stablesr": Footprint(
        919 + 52 + 84 + 128 + 340,
        2,
        3.0,
        "UNet with SPADE 919M, time-aware encoder 52M, VAE 84M, CFW VAE 128M, OpenCLIP-H text 340M",
    ),
}

#: Licences of the weights each built-in plugin loads (as their publishers state them).
LICENCES: dict[str, list[tuple[str, str]]] = {
    "bsrgan": [("BSRGAN.pth (cszn/KAIR)", "MIT")],
    "swinir": [("SwinIR release files", "Apache-2.0")],
    "realesrgan": [("RealESRGAN_x4plus.pth", "BSD-3-Clause")],
    "sd-x4-upscaler": [("stabilityai/stable-diffusion-x4-upscaler", "CreativeML Open RAIL++-M")],
    "seesr": [
        ("SeeSR UNet/ControlNet, DAPE.pth", "Apache-2.0"),
        ("stabilityai/stable-diffusion-2-base", "CreativeML Open RAIL++-M"),
        ("RAM ram_swin_large_14m.pth", "Apache-2.0"),
    ],
    "pasd": [
        ("yangtao9009/PASD", "not stated by the authors (yangxy/PASD has no licence file)"),
        ("stable-diffusion-v1-5", "CreativeML OpenRAIL-M"),
        ("CoCa ViT-L/14 (open_clip)", "MIT"),
    ],
    "stablesr": [
        ("StableSR checkpoints", "S-Lab License 1.0: non-commercial use only"),
        ("stable-diffusion-2-1-base (inside them)", "CreativeML Open RAIL++-M"),
    ],
    "lpips": [("LPIPS linear layers", "BSD-2-Clause")],
    "clip": [("OpenAI CLIP / open_clip weights", "MIT")],
    "pyiqa": [("pyiqa and its weights", "PolyForm Noncommercial 1.0.0: non-commercial only")],
}

#: Packages a plugin imports beyond the core ones, by plugin name (``pyiqa:*`` by prefix).
PACKAGES: dict[str, tuple[str, ...]] = {
    "bsrgan": ("spandrel",),
    "swinir": ("spandrel",),
    "realesrgan": ("spandrel",),
    "sd-x4-upscaler": ("diffusers", "transformers"),
    "seesr": ("diffusers", "transformers", "timm"),
    "pasd": ("diffusers", "transformers", "open_clip"),
    "stablesr": ("diffusers", "transformers"),
    "lpips": ("lpips",),
    "clip": ("open_clip",),
    "c2i": ("open_clip",),
    "c2c": ("sentence_transformers",),
    "pyiqa": ("pyiqa",),
}


def system_checks() -> list[Check]:
    """torch, CUDA and cuDNN versions and every GPU with its memory."""
    import platform

    import torch

    checks = [
        Check("system", "python", platform.python_version()),
        Check("system", "torch", torch.__version__),
    ]
    if not torch.cuda.is_available():
        return [*checks, Check("system", "CUDA", "not available", "models run on the CPU")]
    checks += [
        Check("system", "CUDA", str(torch.version.cuda)),
        Check("system", "cuDNN", str(torch.backends.cudnn.version())),
    ]
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        checks.append(
            Check("system", f"GPU {index}", props.name, f"{props.total_memory / GIB:.1f} GiB")
        )
    return checks


def weight_checks(
    registry: Registry, kind: str, name: str, options: dict[str, Any], scale: int
) -> list[Check]:
    """One row per weight file of a plugin: found, missing, by hand or wrong (offline)."""
    try:
        factory, kwargs = plugin_factory(registry, kind, name, options, scale)
        with audit():
            if not isinstance(factory, DeclaresWeights):
                return [_instantiated(registry, kind, name, kwargs)]
            results = try_each(factory.weight_files(**kwargs))
    except SemfidError as exc:
        return [Check("weights", name, "error", exc.message, ok=False)]
    if not results:
        return [Check("weights", name, "none needed")]
    return [_file_check(name, label, result) for label, result in results.items()]


def _instantiated(registry: Registry, kind: str, name: str, kwargs: dict[str, Any]) -> Check:
    import torch

    try:
        if kind == "dataset":
            registry.create(kind, name)
        else:
            registry.create(kind, name, device=torch.device("cpu"), **kwargs)
    except WeightsUnavailableError as exc:
        return Check("weights", name, "missing", f"{exc.message} {exc.hint or ''}", ok=False)
    except Exception as exc:  # a plugin's own failure is reported, not raised
        return Check("weights", name, "error", f"{type(exc).__name__}: {exc}", ok=False)
    return Check("weights", name, "found", "loaded offline on the CPU")


def _file_check(name: str, label: str, result: Path | WeightsUnavailableError) -> Check:
    item = f"{name}: {label}"
    if isinstance(result, Path):
        return Check("weights", item, "found", str(result))
    detail = f"{result.message} {result.hint or ''}".strip()
    if isinstance(result, ManualDownload):
        return Check("weights", item, "by hand", f"{result.source}; {result.option}", ok=False)
    status = "wrong file" if isinstance(result, WrongFileError) else "missing"
    return Check("weights", item, status, detail, ok=False)


def memory_checks(models: list[str]) -> list[Check]:
    """Estimated peak GPU memory per model at its default settings."""
    checks = []
    for name in models:
        footprint = FOOTPRINTS.get(name.partition(":")[0])
        if footprint is None:
            checks.append(Check("GPU memory", name, "unknown", "no estimate for this plugin"))
            continue
        detail = (
            f"~{footprint.params_m:,.0f}M parameters ({footprint.basis}) + "
            f"~{footprint.activations_gib:g} GiB activations for a 128² LR input"
        )
        checks.append(Check("GPU memory", name, f"estimate ~{footprint.peak_gib:.1f} GiB", detail))
    return checks


def package_checks(plugins: list[str]) -> list[Check]:
    """Each optional package the selected plugins import: installed (version) or not."""
    needed: dict[str, list[str]] = {}
    for plugin in plugins:
        for package in PACKAGES.get(plugin, PACKAGES.get(plugin.partition(":")[0], ())):
            needed.setdefault(package, []).append(plugin)
    checks = []
    for package, users in sorted(needed.items()):
        if importlib.util.find_spec(package) is None:
            detail = f"needed by {', '.join(users)}: pip install {package.replace('_', '-')}"
            checks.append(Check("packages", package, "not installed", detail, ok=False))
        else:
            checks.append(Check("packages", package, _version(package), f"for {', '.join(users)}"))
    return checks


def _version(package: str) -> str:
    names = {"open_clip": "open_clip_torch", "sentence_transformers": "sentence-transformers"}
    try:
        return importlib.metadata.version(names.get(package, package))
    except importlib.metadata.PackageNotFoundError:
        return "installed"


def licence_checks(plugins: list[str]) -> list[Check]:
    """The licences of the weights the selected plugins load."""
    checks = []
    for plugin in plugins:
        for weights, licence in LICENCES.get(plugin, LICENCES.get(plugin.partition(":")[0], [])):
            checks.append(Check("licences", f"{plugin}: {weights}", licence))
    return checks


def diagnose(
    registry: Registry,
    selection: dict[str, list[str]],
    options: dict[str, dict[str, Any]],
    scale: int = 4,
) -> list[Check]:
    """Every check for the selected plugins (``selection`` maps a kind to names)."""
    from semfid_bench.options import scoped_options

    plugins = [name for names in selection.values() for name in names]
    scoped = scoped_options(registry, options, selection)
    weights = [
        check
        for kind, names in selection.items()
        for name in names
        for check in weight_checks(registry, kind, name, scoped.get((kind, name), {}), scale)
    ]
    return [
        *system_checks(),
        *weights,
        *memory_checks(selection.get("sr_model", [])),
        *package_checks(plugins),
        *licence_checks(plugins),
    ]
