"""A COCO inpainting set with controlled semantic changes (thesis §3.1), for ``train clu``
and ``train regressor``.

Steps, in this order (every choice is recorded in the manifest header's ``inpainting``):

1. *Images*: COCO images (read with pycocotools) whose shorter side is at least
   ``min_side`` pixels and that have at least one *candidate* instance: not a crowd, area
   (COCO's ``area``) between ``min_area`` and ``max_area`` of the image. Shuffled with the
   seed; the first ``count`` (all without a count) are used.
2. *Masks*: per image up to ``masks_per_image`` candidates, balanced across classes: in
   image order, the candidates whose class has been chosen least often so far come first
   (ties broken by a seeded draw).
3. *Variants* per mask, each prompted ``"A {class}."``: ``same`` (the mask's own class),
   ``intra`` (another class of the same supercategory; none if the supercategory has one
   class), ``inter`` (a class of another supercategory), inpainted from pure noise
   (strength 1); plus ``positives`` near-identical variants of the own class by partial
   denoising, strength drawn uniformly from ``strength`` (default 10–30 % noise).
   Targets and strengths are seeded draws per (image, annotation, variant), and so is the
   pipeline's generator: one proposal never depends on the others.
4. *Mask and composite*: the instance mask, dilated by ``dilate`` pixels (an elliptic
   kernel), is what the pipeline repaints; its output is pasted into the original inside
   that mask only, so every pixel outside it is the original's. Images are cropped to the
   top-left multiple of 16 pixels (what SD and Flux latents need) first.
5. *CLIP filter*: the edited image, cropped to the mask's bounding box, is embedded with
   the shared open_clip model and compared (cosine) with ``"A {class}."`` for every COCO
   class. A class swap (``intra``/``inter``) is kept if ``sim(target) − sim(original) ≥
   swap_margin``; a ``same`` or partial-denoise positive if ``sim(original) − max over
   the other classes ≥ keep_margin`` (still closest to the original).

Output: a paired manifest (``gt`` the cropped original, ``sr`` the edited image, ``mask``
white where pixels are the original's and black where they were repainted, as ``train
clu`` expects; ``model`` the pipeline, ``degradation`` ``inpaint-<variant>``; labels
``changed`` (1 for a class swap, 0 otherwise), ``strength``, ``source_class`` and
``target_class`` (COCO category ids) and the two CLIP margins; ``split`` by image).
Rejected proposals go to ``<out stem>.rejected.jsonl`` for manual inspection.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semfid_bench.datasets.manifest import write_manifest
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.seeding import derive_seed
from semfid_bench.safe_paths import path_inside

DEFAULT_PIPELINE = "stable-diffusion-v1-5/stable-diffusion-inpainting"
FLUX_FILL = "black-forest-labs/FLUX.1-Fill-dev"
SWAPS = ("same", "intra", "inter")
POSITIVE = "partial"
MULTIPLE = 16


@dataclass(frozen=True)
class InpaintCriteria:
    """Everything that decides the set; recorded in the output manifest's header."""

    count: int | None = None
    seed: int = 0
    masks_per_image: int = 3
    min_side: int = 512
    min_area: float = 0.02
    max_area: float = 0.5
    positives: int = 1
    strength: tuple[float, float] = (0.1, 0.3)
    dilate: int = 8
    steps: int = 30
    guidance: float | None = None
    swap_margin: float = 0.0
    keep_margin: float = 0.0
    test_fraction: float = 0.2

    def check(self) -> None:
        """Raise on values that cannot mean anything."""
        low, high = self.strength
        problems = []
        if self.count is not None and self.count < 1:
            problems.append(f"count must be at least 1, got {self.count}")
        if self.masks_per_image < 1:
            problems.append(f"masks per image must be at least 1, got {self.masks_per_image}")
        if not 0 <= self.min_area <= self.max_area <= 1:
            problems.append(
                f"need 0 <= min-area <= max-area <= 1, got {self.min_area}, {self.max_area}"
            )
        if not 0 < low <= high < 1:
            problems.append(f"strength must satisfy 0 < low <= high < 1, got {self.strength}")
        if self.positives < 0 or self.dilate < 0 or self.steps < 1 or self.min_side < 0:
            problems.append("positives, dilate and min-side must be >= 0, steps >= 1")
        elif self.positives and int(self.steps * low) < 1:
            problems.append(
                f"steps × lowest strength must be at least 1 (diffusers runs int(steps × "
                f"strength) steps), got {self.steps} × {low}"
            )
        if not 0 <= self.test_fraction <= 1:
            problems.append(f"test-fraction must be in [0, 1], got {self.test_fraction}")
        if not (math.isfinite(self.swap_margin) and math.isfinite(self.keep_margin)):
            problems.append("margins must be finite")
        if problems:
            raise SemfidError("Bad inpainting settings: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class Proposal:
    """One edit to make: an instance mask of an image and the class to paint into it."""

    image_id: int
    ann_id: int
    variant: str
    index: int
    source: int
    target: int
    strength: float
    seed: int

    @property
    def id(self) -> str:
        name = self.variant if self.variant != POSITIVE else f"{POSITIVE}{self.index}"
        return f"{self.image_id}/{self.ann_id}/{name}"


def read_coco(annotations: Path):
    try:
        from pycocotools.coco import COCO
    except ImportError as exc:
        raise SemfidError(
            "dataset inpaint reads COCO annotations with pycocotools, which is not installed.",
            hint="pip install 'semfid-bench[study]'",
        ) from exc
    import contextlib
    import io

    if not annotations.is_file():
        raise SemfidError(f"COCO annotations {annotations} do not exist.")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress
            return COCO(str(annotations))
    except (ValueError, KeyError, TypeError) as exc:
        raise SemfidError(f"{annotations} is not a COCO instances file: {exc!r}") from exc


def candidates(coco, criteria: InpaintCriteria) -> dict[int, list[dict]]:
    """Per usable image id, its candidate annotations (see step 1), in annotation id order."""
    usable = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        width, height = int(info["width"]), int(info["height"])
        if min(width, height) < criteria.min_side:
            continue
        area = width * height
        anns = [
            ann
            for ann in coco.loadAnns(sorted(coco.getAnnIds(imgIds=[image_id], iscrowd=False)))
            if criteria.min_area <= ann["area"] / area <= criteria.max_area
        ]
        if anns:
            usable[image_id] = anns
    return usable


def choose_masks(
    usable: dict[int, list[dict]], criteria: InpaintCriteria
) -> list[tuple[int, list[dict]]]:
    """Steps 1–2: the seeded image order and each image's class-balanced masks."""
    rng = np.random.default_rng(criteria.seed)
    order = [sorted(usable)[i] for i in rng.permutation(len(usable))]
    if criteria.count is not None:
        order = order[: criteria.count]
    chosen_per_class: Counter[int] = Counter()
    chosen = []
    for image_id in order:
        anns = usable[image_id]
        ties = rng.random(len(anns))
        ranked = sorted(
            range(len(anns)), key=lambda i: (chosen_per_class[anns[i]["category_id"]], ties[i])
        )
        picked = []
        for i in ranked:
            if len(picked) == criteria.masks_per_image:
                break
            picked.append(anns[i])
            chosen_per_class[anns[i]["category_id"]] += 1
        chosen.append((image_id, picked))
    return chosen


def _target(categories: dict[int, dict], source: int, variant: str, seed: int) -> int | None:
    superc = categories[source]["supercategory"]
    if variant == "same":
        pool = [source]
    elif variant == "intra":
        pool = [c for c, v in categories.items() if v["supercategory"] == superc and c != source]
    else:
        pool = [c for c, v in categories.items() if v["supercategory"] != superc]
    if not pool:
        return None
    return sorted(pool)[int(np.random.default_rng(seed).integers(len(pool)))]


def proposals(
    chosen: list[tuple[int, list[dict]]], categories: dict[int, dict], criteria: InpaintCriteria
) -> tuple[list[Proposal], int]:
    """Step 3: every edit to make, and how many variants had no class to swap to."""
    out, missing = [], 0
    low, high = criteria.strength
    for image_id, anns in chosen:
        for ann in anns:
            source = ann["category_id"]
            for variant in SWAPS:
                seed = derive_seed(criteria.seed, image_id, ann["id"], variant)
                target = _target(categories, source, variant, seed)
                if target is None:
                    missing += 1
                    continue
                out.append(Proposal(image_id, ann["id"], variant, 0, source, target, 1.0, seed))
            for index in range(criteria.positives):
                seed = derive_seed(criteria.seed, image_id, ann["id"], POSITIVE, index)
                strength = float(np.random.default_rng(seed).uniform(low, high))
                out.append(
                    Proposal(image_id, ann["id"], POSITIVE, index, source, source, strength, seed)
                )
    return out, missing


def prompt(categories: dict[int, dict], category: int) -> str:
    """The study's prompt: ``"A {class}."``."""
    return f"A {categories[category]['name']}."


def repaint_mask(coco, ann: dict, dilate: int, shape: tuple[int, int]) -> np.ndarray:
    """Step 4: the instance mask (bool, H×W, cropped to ``shape``) dilated by ``dilate`` px."""
    import cv2

    mask = coco.annToMask(ann)[: shape[0], : shape[1]].astype(np.uint8)
    if dilate:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask, kernel)
    return mask.astype(bool)


def image_file(coco_root: Path, info: dict) -> Path:
    """An image's file, checked up front (inside the root, present): a bad entry stops the
    build before any edit is computed."""
    source = coco_root / str(info["file_name"])
    if not source.resolve().is_relative_to(coco_root.resolve()):
        raise SemfidError(
            f"COCO image {info['file_name']!r} (image id {info['id']}) lies outside the COCO "
            f"root {coco_root}."
        )
    if not source.is_file():
        raise SemfidError(f"COCO image {source} (image id {info['id']}) is missing.")
    return source


def crop_to_multiple(image: np.ndarray) -> np.ndarray:
    """The top-left part whose sides are multiples of 16 pixels."""
    height, width = (side - side % MULTIPLE for side in image.shape[:2])
    if not height or not width:
        raise SemfidError(f"Image of {image.shape[1]}×{image.shape[0]} px is too small.")
    return image[:height, :width]


@dataclass
class InpaintPipeline:
    """A diffusers inpainting pipeline (SD inpainting, Flux Fill, …) on one device, in
    ``dtype`` (``auto``: float16 on CUDA, float32 elsewhere)."""

    source: str
    folder: Path
    device: str = "cpu"
    dtype: str = "auto"
    _pipe: Any = field(default=None, repr=False)

    def _load(self):
        if self._pipe is None:
            import torch
            from diffusers import DiffusionPipeline

            from semfid_bench.sr_models.diffusion.common import torch_dtype

            dtype = torch_dtype(self.dtype, torch.device(self.device))
            self._pipe = DiffusionPipeline.from_pretrained(self.folder, torch_dtype=dtype)
            self._pipe.to(self.device)
            self._pipe.set_progress_bar_config(disable=True)
        return self._pipe

    def __post_init__(self) -> None:
        import torch

        from semfid_bench.sr_models.diffusion.common import torch_dtype

        try:
            torch_dtype(self.dtype, torch.device(self.device))
        except ValueError as exc:
            raise SemfidError(f"Bad --dtype: {exc}.") from exc

    @property
    def class_name(self) -> str:
        return type(self._load()).__name__

    @property
    def dtype_name(self) -> str:
        """The dtype the pipeline runs in, e.g. ``float32``."""
        return str(self._load().dtype).removeprefix("torch.")

    def __call__(
        self, image: np.ndarray, mask: np.ndarray, text: str, strength: float, seed: int, **kw
    ) -> np.ndarray:
        """Inpaint ``mask`` (bool) of ``image`` (uint8 H×W×3); uint8 output, same size. The
        noise comes from a CPU generator, so a seed draws the same noise on every device."""
        import torch
        from PIL import Image

        pipe = self._load()
        generator = torch.Generator("cpu").manual_seed(seed)
        height, width = image.shape[:2]
        out = pipe(
            prompt=text,
            image=Image.fromarray(image),
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
            height=height,
            width=width,
            strength=strength,
            generator=generator,
            output_type="np",
            **{k: v for k, v in kw.items() if v is not None},
        ).images[0]
        return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def load_pipeline(pipeline: str, device: str, dtype: str = "auto") -> InpaintPipeline:
    """A local pipeline folder, or a hub id found in the Hugging Face cache / downloaded;
    offline and missing, a clear error naming the id and ``--pipeline PATH``."""
    from semfid_bench.plugin_api.weights import hf_snapshot

    local = Path(pipeline).expanduser()
    if local.exists():
        folder = hf_snapshot(pipeline, local, option="--pipeline PATH")
    else:
        folder = hf_snapshot(pipeline, option="--pipeline PATH (a local copy of the repo)")
    return InpaintPipeline(pipeline, folder, device, dtype)


def region(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image cropped to the mask's bounding box."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def margins(similarities: np.ndarray, source: int, target: int) -> dict[str, float]:
    """From a region's cosine similarity to each class text (indexed by position):
    ``swap_margin`` = sim(target) − sim(source), ``keep_margin`` = sim(source) − the best
    other class."""
    others = np.delete(similarities, source)
    return {
        "swap_margin": float(similarities[target] - similarities[source]),
        "keep_margin": float(similarities[source] - (others.max() if others.size else -1.0)),
    }


def keep(variant: str, margin: dict[str, float], criteria: InpaintCriteria) -> bool:
    """Step 5: a swap must move the region towards its target class, a same-class or
    partial-denoise variant must leave it closest to its own class."""
    if variant in ("intra", "inter"):
        return margin["swap_margin"] >= criteria.swap_margin
    return margin["keep_margin"] >= criteria.keep_margin


ClipScorer = Callable[[np.ndarray], np.ndarray]


def clip_scorer(clip, texts: list[str]) -> ClipScorer:
    """Cosine similarity of an image region to each text, with a shared open_clip model."""
    from semfid_bench.datasets.images import to_tensor

    text_embeddings = clip.encode_texts(texts)

    def score(pixels: np.ndarray) -> np.ndarray:
        embedding = clip.encode_images(to_tensor(pixels)[None])
        return (embedding @ text_embeddings.T)[0].numpy()

    return score


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(array: np.ndarray, path: Path) -> str:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path.as_posix()


def build_inpaint_set(
    coco_root: Path,
    annotations: Path,
    out: Path,
    pipeline: InpaintPipeline,
    scorer_factory: Callable[[list[str]], ClipScorer],
    criteria: InpaintCriteria,
    record: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run steps 1–5 and write the manifests; returns the header's ``inpainting`` record."""
    from semfid_bench.datasets.images import read_rgb

    criteria.check()
    coco = read_coco(annotations)
    categories = {c["id"]: c for c in coco.loadCats(sorted(coco.getCatIds()))}
    try:
        usable = candidates(coco, criteria)
    except (KeyError, TypeError, ValueError) as exc:
        raise SemfidError(
            f"{annotations}: an image or annotation lacks a usable field ({exc!r}); COCO "
            "images need width and height, annotations area, category_id and segmentation."
        ) from exc
    chosen = choose_masks(usable, criteria)
    todo, no_target = proposals(chosen, categories, criteria)
    if not todo:
        raise SemfidError(
            f"No COCO image in {annotations} has a usable instance (min side "
            f"{criteria.min_side} px, area {criteria.min_area}–{criteria.max_area} of the image)."
        )
    sources = {image_id: image_file(coco_root, coco.imgs[image_id]) for image_id, _ in chosen}
    class_ids = sorted(categories)
    position = {c: i for i, c in enumerate(class_ids)}
    score = scorer_factory([prompt(categories, c) for c in class_ids])
    root = out.parent
    stem = out.stem
    anns = {ann["id"]: ann for _, picked in chosen for ann in picked}
    image_ids = [image_id for image_id, _ in chosen]
    order = np.random.default_rng(criteria.seed).permutation(len(image_ids))
    n_test = round(criteria.test_fraction * len(image_ids))
    split = {image_ids[i]: "test" if n < n_test else "train" for n, i in enumerate(order)}
    originals: dict[int, tuple[np.ndarray, str]] = {}
    kept_rows, rejected_rows = [], []
    for done, prop in enumerate(todo):
        if prop.image_id not in originals:
            original = crop_to_multiple(read_rgb(sources[prop.image_id]))
            gt = _save(original, path_inside(root, stem, "gt", str(prop.image_id), suffix=".png"))
            originals = {prop.image_id: (original, gt)}  # proposals come image by image
        original, gt = originals[prop.image_id]
        mask = repaint_mask(coco, anns[prop.ann_id], criteria.dilate, original.shape[:2])
        mask_path = path_inside(
            root, stem, "mask", str(prop.image_id), str(prop.ann_id), suffix=".png"
        )
        if not mask_path.exists():
            _save(np.where(mask, 0, 255).astype(np.uint8), mask_path)
        painted = pipeline(
            original,
            mask,
            prompt(categories, prop.target),
            prop.strength,
            prop.seed,
            num_inference_steps=criteria.steps,
            guidance_scale=criteria.guidance,
        )
        edited = np.where(mask[..., None], painted, original)
        sr = path_inside(root, stem, "edited", *prop.id.split("/"), suffix=".png")
        _save(edited, sr)
        margin = margins(score(region(edited, mask)), position[prop.source], position[prop.target])
        row = {
            "id": prop.id,
            "gt": Path(os.path.relpath(gt, root)).as_posix(),
            "sr": Path(os.path.relpath(sr, root)).as_posix(),
            "mask": Path(os.path.relpath(mask_path, root)).as_posix(),
            "model": pipeline.source,
            "degradation": f"inpaint-{prop.variant}",
            "split": split[prop.image_id],
            "labels": {
                "changed": int(prop.variant in ("intra", "inter")),
                "strength": prop.strength,
                "source_class": prop.source,
                "target_class": prop.target,
                **margin,
            },
        }
        (kept_rows if keep(prop.variant, margin, criteria) else rejected_rows).append(row)
        if progress:
            progress(done + 1, len(todo))
    counts = {
        "images": len(chosen),
        "masks": len(anns),
        "variants without a target class": no_target,
        "proposals": len(todo),
        "kept": len(kept_rows),
        "rejected": len(rejected_rows),
    }
    kept_by_variant = Counter(row["degradation"] for row in kept_rows)
    info = {
        "annotations": {"file": annotations.name, "sha256": _sha256(annotations)},
        "criteria": asdict(criteria),
        "pipeline": {
            "source": pipeline.source,
            "class": pipeline.class_name,
            "dtype": pipeline.dtype_name,
        },
        "prompt": "A {class}.",
        "counts": counts,
        "kept_by_variant": dict(sorted(kept_by_variant.items())),
        "class_counts": dict(
            sorted(Counter(categories[a["category_id"]]["name"] for a in anns.values()).items())
        ),
        **(record or {}),
    }
    rejected_path = out.with_name(f"{stem}.rejected.jsonl")
    if rejected_rows:
        write_manifest(rejected_path, f"{stem}.rejected", rejected_rows, {"inpainting": info})
    if not kept_rows:
        raise SemfidError(
            f"The CLIP filter kept none of {len(todo)} proposals; they are in {rejected_path}.",
            hint="Lower --swap-margin / --keep-margin, or look at the rejected images.",
        )
    write_manifest(out, stem, kept_rows, extra={"inpainting": info})
    return info
