"""What a run would need on this machine: versions and GPUs, every weight file, estimated
GPU memory per model, optional packages and the licences of the weights in use.

Nothing is downloaded: weight lookups run offline (:func:`~semfid_bench.plugin_api.weights.audit`),
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

from semfid_bench.execution.prefetch import plugin_factory
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.plugin_api.interfaces import DeclaresWeights
from semfid_bench.plugin_api.registry import Registry
from semfid_bench.plugin_api.weights import ManualDownload, WrongFileError, audit, try_each

GIB = 1024**3


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table; ``ok`` False makes the exit code non-zero."""

    section: str
    item: str
    status: str
    detail: str = ""
    ok: bool = True


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


def memory_checks(registry: Registry, selection: dict[str, list[str]]) -> list[Check]:
    """Each selected model's and metric's estimated peak GPU memory at its default settings
    (its spec's ``gpu_memory_gib``; docs/scaling.md says how each was estimated)."""
    checks = []
    for kind in ("sr_model", "metric"):
        for name in selection.get(kind, []):
            estimate = registry.get(kind, name).spec.gpu_memory_gib
            if estimate is None:
                checks.append(Check("GPU memory", name, "no estimate", "negligible or undeclared"))
            else:
                detail = "spec estimate at default settings (docs/scaling.md)"
                checks.append(Check("GPU memory", name, f"estimate ~{estimate:g} GiB", detail))
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
    from semfid_bench.plugin_api.options import scoped_options

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
        *memory_checks(registry, selection),
        *package_checks(plugins),
        *licence_checks(plugins),
    ]
