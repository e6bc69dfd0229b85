"""dataset inpaint on a two-image synthetic COCO file with a tiny random SD inpainting
pipeline (the real diffusers class) and a tiny random open_clip for the filter."""

from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.images import read_rgb
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.learned.pairs import load_pairs
from semfid_bench.metrics.clip_model import ClipModel, clear_shared_clip_models
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError
from semfid_bench.study.inpaint import (
    InpaintCriteria,
    InpaintPipeline,
    candidates,
    choose_masks,
    clip_scorer,
    keep,
    load_pipeline,
    margins,
    proposals,
    read_coco,
    region,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TINY_CLIP = "semfid-tiny-clip-inpaint"
CLIP_CONFIG = {  # as tests/metrics/conftest.py's tiny CLIP
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
CATEGORIES = [
    {"id": 1, "name": "cat", "supercategory": "animal"},
    {"id": 2, "name": "dog", "supercategory": "animal"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 4, "name": "bus", "supercategory": "vehicle"},
    {"id": 5, "name": "person", "supercategory": "person"},
]
SUPER = {c["id"]: c["supercategory"] for c in CATEGORIES}
W, H = 80, 64


def _box(ann_id, image_id, category, x, y, w, h, crowd=0):
    polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "segmentation": [polygon],
        "area": float(w * h),
        "bbox": [x, y, w, h],
        "iscrowd": crowd,
    }


def write_coco(root):
    """Two skimage photographs and instances: boxes, a triangle polygon, a crowd and a tiny
    instance (both never chosen)."""
    from skimage import data

    (root / "images").mkdir(parents=True)
    for name, picture in (("a.png", data.chelsea()), ("b.png", data.astronaut())):
        Image.fromarray(picture).resize((W, H)).save(root / "images" / name)
    triangle = {
        "id": 12,
        "image_id": 1,
        "category_id": 3,
        "segmentation": [[40, 10, 70, 10, 55, 50]],
        "area": 600.0,
        "bbox": [40, 10, 30, 40],
        "iscrowd": 0,
    }
    annotations = [
        _box(11, 1, 1, 5, 5, 30, 30),
        triangle,
        _box(13, 1, 5, 10, 40, 40, 20),
        _box(14, 1, 2, 70, 55, 4, 4),  # area 16 / 5120 < min_area
        _box(15, 1, 4, 0, 0, 40, 30, crowd=1),
        _box(21, 2, 2, 5, 5, 30, 25),
        _box(22, 2, 4, 40, 5, 35, 25),
        _box(23, 2, 1, 5, 35, 30, 25),
        _box(24, 2, 3, 40, 35, 30, 25),
    ]
    coco = {
        "images": [
            {"id": 1, "file_name": "images/a.png", "width": W, "height": H},
            {"id": 2, "file_name": "images/b.png", "width": W, "height": H},
        ],
        "annotations": annotations,
        "categories": CATEGORIES,
    }
    path = root / "instances.json"
    path.write_text(json.dumps(coco))
    return path


def write_tiny_inpainting(folder):
    """A StableDiffusionInpaintPipeline of tiny random components (9-channel UNet)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline
    from sr_models.tiny_diffusion import tiny_text_encoder, tiny_tokenizer, tiny_unet, tiny_vae

    tokenizer = tiny_tokenizer()
    pipe = StableDiffusionInpaintPipeline(
        vae=tiny_vae(down_blocks=2),
        text_encoder=tiny_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        unet=tiny_unet(in_channels=9),
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    import open_clip

    path = tmp_path_factory.mktemp("clip") / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(CLIP_CONFIG))
    open_clip.add_model_config(path)
    return TINY_CLIP


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    return write_tiny_inpainting(tmp_path_factory.mktemp("pipeline"))


CLI_ARGS = [
    "--min-side", "64", "--steps", "5", "--strength", "0.2,0.3", "--dilate", "2",
    "--masks-per-image", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_pipeline, tiny_clip):
    """The command run once end to end: (root, manifest path, CLI output)."""
    root = tmp_path_factory.mktemp("coco")
    annotations = write_coco(root)
    out = root / "set" / "inpaint.jsonl"
    out.parent.mkdir()
    os.environ["HF_HUB_OFFLINE"] = os.environ["SEMFID_BENCH_OFFLINE"] = "1"
    clear_shared_clip_models()
    result = CliRunner().invoke(
        app,
        [
            "dataset", "inpaint", "--coco", str(root), "--annotations", str(annotations),
            "--out", str(out), "--pipeline", str(tiny_pipeline), "--device", "cpu",
            "--seed", "3", "--set", f"clip.model={tiny_clip}", "--set", "clip.pretrained=none",
            *CLI_ARGS,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root, out, result.output


def _rows(path):
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def _all_rows(out):
    header, rows = _rows(out)
    rejected = out.with_name("inpaint.rejected.jsonl")
    return header, rows, (_rows(rejected)[1] if rejected.exists() else [])


def test_masks_skip_crowds_and_small_instances_and_keep_per_image_cap(built):
    _, out, _ = built
    header, rows, rejected = _all_rows(out)
    masks = {tuple(r["id"].split("/")[:2]) for r in rows + rejected}
    per_image = Counter(image for image, _ in masks)
    assert per_image == {"1": 2, "2": 2}
    assert not {("1", "14"), ("1", "15")} & masks  # tiny, crowd
    assert header["inpainting"]["counts"]["masks"] == 4
    assert header["inpainting"]["criteria"]["masks_per_image"] == 2


def test_candidates_follow_the_side_area_and_crowd_limits(tmp_path):
    coco = read_coco(write_coco(tmp_path))

    def ids(**criteria):
        found = candidates(coco, InpaintCriteria(**criteria))
        return {image: [a["id"] for a in anns] for image, anns in found.items()}

    # 14 is 16 px² of 5120 (below 0.02), 15 a crowd
    assert ids(min_side=64) == {1: [11, 12, 13], 2: [21, 22, 23, 24]}
    assert ids(min_side=65) == {}
    assert ids(min_side=64, min_area=0.0) == {1: [11, 12, 13, 14], 2: [21, 22, 23, 24]}
    # 11 is 900/5120 = 0.176, 12 600/5120, 13 800/5120, 21 750/5120, 22 875/5120
    assert ids(min_side=64, max_area=0.16) == {1: [12, 13], 2: [21, 23, 24]}


def test_masks_are_balanced_across_classes_and_seeded():
    # twenty images, each with three cats and one dog: a class-blind draw takes a cat 3 in 4
    usable = {
        image: [
            {"id": 10 * image + k, "category_id": category}
            for k, category in enumerate((1, 1, 1, 2))
        ]
        for image in range(20)
    }
    criteria = InpaintCriteria(masks_per_image=1, seed=5)
    chosen = choose_masks(usable, criteria)
    assert Counter(anns[0]["category_id"] for _, anns in chosen) == {1: 10, 2: 10}
    assert choose_masks(usable, criteria) == chosen
    orders = {tuple(i for i, _ in choose_masks(usable, InpaintCriteria(seed=s))) for s in range(5)}
    assert len(orders) > 1
    assert len(choose_masks(usable, InpaintCriteria(count=2))) == 2


def test_three_variants_have_the_documented_classes(built):
    _, out, _ = built
    _, rows, rejected = _all_rows(out)
    by_variant = Counter()
    for row in rows + rejected:
        labels, variant = row["labels"], row["degradation"].removeprefix("inpaint-")
        source, target = int(labels["source_class"]), int(labels["target_class"])
        by_variant[variant] += 1
        if variant in ("same", "partial"):
            assert target == source and labels["changed"] == 0
        elif variant == "intra":
            assert target != source and SUPER[target] == SUPER[source]
            assert labels["changed"] == 1
        else:
            assert variant == "inter" and SUPER[target] != SUPER[source]
            assert labels["changed"] == 1
        strength = labels["strength"]
        assert 0.2 <= strength <= 0.3 if variant == "partial" else strength == 1.0
    persons = sum(1 for r in rows + rejected if r["labels"]["source_class"] == 5) // 3
    # the person supercategory has one class: no intra variant for a person
    assert by_variant["intra"] == 4 - persons
    assert by_variant["same"] == by_variant["inter"] == by_variant["partial"] == 4


def test_manifest_loads_for_clu_and_masks_mark_the_repainted_region(built):
    _, out, _ = built
    manifest = load_manifest(out)
    pairs = load_pairs(out, masks=True)
    assert len(pairs) == len(manifest) > 0
    for pair in pairs:
        gt, sr = read_rgb(pair.gt), read_rgb(pair.sr)
        kept = read_rgb(pair.mask)[..., 0] == 255
        assert gt.shape == sr.shape and (gt.shape[1], gt.shape[0]) == (W - W % 16, H - H % 16)
        np.testing.assert_array_equal(gt[kept], sr[kept])  # only the black region changes
        assert (gt[~kept] != sr[~kept]).any()
    assert {p.split for p in pairs} <= {"train", "test"}
    for item in manifest:  # one image's edits share a split
        same = [i.split for i in manifest if i.gt == item.gt]
        assert len(set(same)) == 1


def test_masks_are_the_dilated_coco_polygons(built):
    import cv2

    root, out, _ = built
    anns = {a["id"]: a for a in json.loads((root / "instances.json").read_text())["annotations"]}
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # --dilate 2
    files = sorted((out.parent / "inpaint" / "mask").glob("*/*.png"))
    assert len(files) == 4
    for file in files:
        polygon = anns[int(file.stem)]["segmentation"]
        expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygon, H, W)))
        expected = cv2.dilate(expected, kernel).astype(bool)
        saved = read_rgb(file)[..., 0] == 0
        np.testing.assert_array_equal(saved, expected[: saved.shape[0], : saved.shape[1]])


def test_filter_keeps_and_drops_as_its_thresholds_say(built, tiny_clip):
    _, out, _ = built
    header, rows, rejected = _all_rows(out)
    recorded = header["inpainting"]["criteria"]
    criteria = InpaintCriteria(**{**recorded, "strength": tuple(recorded["strength"])})
    criteria.check()
    assert rows and rejected  # the tiny random CLIP at margin 0 keeps some, drops others
    assert header["inpainting"]["clip"]["weights"].startswith("random-init")
    for row in rows:
        variant = row["degradation"].removeprefix("inpaint-")
        assert keep(variant, row["labels"], criteria)
    for row in rejected:
        variant = row["degradation"].removeprefix("inpaint-")
        assert not keep(variant, row["labels"], criteria)
    # the recorded margins are the tiny CLIP's on the saved region
    row = (rows + rejected)[0]
    texts = [f"A {c['name']}." for c in CATEGORIES]
    score = clip_scorer(ClipModel(tiny_clip, "none"), texts)
    edited = read_rgb(out.parent / row["sr"])
    changed = read_rgb(out.parent / row["mask"])[..., 0] == 0
    labels = row["labels"]
    recomputed = margins(
        score(region(edited, changed)),
        int(labels["source_class"]) - 1,
        int(labels["target_class"]) - 1,
    )
    assert recomputed == pytest.approx({k: labels[k] for k in recomputed}, abs=1e-5)


def test_keep_rule_and_margins_by_hand():
    sims = np.array([0.30, 0.10, 0.25])  # source 0
    m = margins(sims, source=0, target=1)
    assert m == pytest.approx({"swap_margin": -0.20, "keep_margin": 0.05})
    criteria = InpaintCriteria(swap_margin=0.0, keep_margin=0.04)
    assert not keep("inter", m, criteria) and not keep("intra", m, criteria)
    assert keep("same", m, criteria) and keep("partial", m, criteria)
    assert not keep("partial", m, InpaintCriteria(keep_margin=0.06))
    assert keep("inter", m, InpaintCriteria(swap_margin=-0.2))
    assert not keep("inter", m, InpaintCriteria(swap_margin=-0.19))


def test_same_seed_same_edit_other_seed_other_edit(tiny_pipeline):
    from skimage import data

    image = np.asarray(Image.fromarray(data.coffee()).resize((48, 32)))
    mask = np.zeros((32, 48), bool)
    mask[8:24, 8:40] = True
    pipe = InpaintPipeline("tiny", tiny_pipeline, "cpu")
    first = pipe(image, mask, "A cat.", 1.0, 7, num_inference_steps=3)
    again = pipe(image, mask, "A cat.", 1.0, 7, num_inference_steps=3)
    other = pipe(image, mask, "A cat.", 1.0, 8, num_inference_steps=3)
    assert first.shape == image.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert pipe.class_name == "StableDiffusionInpaintPipeline"


def test_half_precision_path_runs_on_cpu(tiny_pipeline):
    """bfloat16 (Flux Fill's usual dtype; float16 on CUDA is the same code path)."""
    image = np.full((32, 48, 3), 128, np.uint8)
    mask = np.zeros((32, 48), bool)
    mask[8:24, 8:40] = True
    half = InpaintPipeline("tiny", tiny_pipeline, "cpu", "bfloat16")
    out = half(image, mask, "A cat.", 1.0, 7, num_inference_steps=2)
    assert half.dtype_name == "bfloat16" and out.shape == image.shape and out.dtype == np.uint8
    assert InpaintPipeline("tiny", tiny_pipeline, "cpu").dtype_name == "float32"
    with pytest.raises(SemfidError, match="dtype"):
        InpaintPipeline("tiny", tiny_pipeline, "cpu", "int8")


def test_proposal_seeds_depend_only_on_image_mask_and_variant():
    categories = {c["id"]: c for c in CATEGORIES}
    one = [(1, [{"id": 11, "category_id": 1}])]
    two = [(2, [{"id": 21, "category_id": 2}]), *one]
    first, _ = proposals(one, categories, InpaintCriteria(seed=4))
    both, _ = proposals(two, categories, InpaintCriteria(seed=4))
    assert [p for p in both if p.image_id == 1] == first
    assert len({p.seed for p in both}) == len(both)
    other, _ = proposals(one, categories, InpaintCriteria(seed=5))
    assert [p.seed for p in other] != [p.seed for p in first]


def test_header_records_every_choice(built, tiny_pipeline):
    _, out, output = built
    info = _rows(out)[0]["inpainting"]
    assert info["criteria"]["seed"] == 3 and info["criteria"]["steps"] == 5
    assert info["criteria"]["swap_margin"] == info["criteria"]["keep_margin"] == 0.0
    assert info["pipeline"] == {
        "source": str(tiny_pipeline),
        "class": "StableDiffusionInpaintPipeline",
        "dtype": "float32",
    }
    assert info["prompt"] == "A {class}."
    assert len(info["annotations"]["sha256"]) == 64
    counts = info["counts"]
    assert counts["kept"] + counts["rejected"] == counts["proposals"]
    assert f"Wrote {counts['kept']} pair(s)" in output


def test_nothing_kept_is_an_error_and_keeps_the_rejected(tmp_path, tiny_pipeline, tiny_clip):
    from semfid_bench.study.inpaint import build_inpaint_set

    annotations = write_coco(tmp_path)
    out = tmp_path / "inpaint.jsonl"
    criteria = InpaintCriteria(
        count=1, min_side=64, steps=2, masks_per_image=1, positives=0, swap_margin=3.0,
        keep_margin=3.0,
    )  # fmt: skip
    score = clip_scorer(ClipModel(tiny_clip, "none"), [c["name"] for c in CATEGORIES])
    with pytest.raises(SemfidError, match="kept none"):
        build_inpaint_set(
            tmp_path,
            annotations,
            out,
            InpaintPipeline("tiny", tiny_pipeline),
            lambda texts: score,
            criteria,
        )
    assert not out.exists()
    assert len(load_manifest(tmp_path / "inpaint.rejected.jsonl")) in (2, 3)


def test_offline_missing_pipeline_names_the_id_and_the_local_path_option():
    with pytest.raises(WeightsUnavailableError) as caught:
        load_pipeline("stable-diffusion-v1-5/stable-diffusion-inpainting", "cpu")
    text = str(caught.value) + str(caught.value.hint)
    assert "stable-diffusion-v1-5/stable-diffusion-inpainting" in text
    assert "--pipeline PATH" in text and "offline" in text


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(SemfidError, match="strength"):
        InpaintCriteria(strength=(0.3, 1.0)).check()
    with pytest.raises(SemfidError, match="steps × lowest strength"):
        InpaintCriteria(steps=5, strength=(0.1, 0.3)).check()
    InpaintCriteria(steps=5, strength=(0.1, 0.3), positives=0).check()
    result = CliRunner().invoke(
        app,
        ["dataset", "inpaint", "--coco", str(tmp_path), "--out", str(tmp_path / "o.jsonl"),
         "--annotations", str(tmp_path / "missing.json"), "--set", "clip.model=x",
         "--set", "clip.pretrained=none", "--device", "cpu"],
    )  # fmt: skip
    assert "missing.json do not exist" in str(result.exception)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["images"][0].update(file_name="../../etc/passwd"), "outside the COCO root"),
        (lambda c: c["annotations"][0].pop("area"), "lacks a usable field"),
        (lambda c: c["images"][0].update(file_name="images/gone.png"), "is missing"),
    ],
)
def test_hostile_coco_files_get_clear_errors(tmp_path, tiny_pipeline, change, message):
    from semfid_bench.study.inpaint import build_inpaint_set

    annotations = write_coco(tmp_path)
    coco = json.loads(annotations.read_text())
    change(coco)
    annotations.write_text(json.dumps(coco))
    with pytest.raises(SemfidError, match=message):
        build_inpaint_set(
            tmp_path,
            annotations,
            tmp_path / "o.jsonl",
            InpaintPipeline("tiny", tiny_pipeline),
            lambda texts: lambda pixels: np.zeros(len(texts)),
            InpaintCriteria(min_side=64, steps=2, positives=0),
        )
