"""The standard SR test sets semfid-bench knows: sources, hashes, licences and layouts.

Hashes: DIV2K and COCO from TensorFlow Datasets' ``url_checksums`` (they hash the authors'
own archives); the others publish none (pinned on first download, see
:mod:`semfid_bench.datasets.standard`).
"""

from __future__ import annotations

import json
from pathlib import Path

from semfid_bench.datasets.standard import Archive, Pairing, StandardDataset

_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K"
_STABLESR_TESTSETS = (
    "https://huggingface.co/datasets/Iceclear/StableSR-TestSets/resolve/main/StableSR_testsets.zip"
)
_EUGENESIOW = "https://huggingface.co/datasets/eugenesiow/{name}/resolve/main/data/{file}"
_COCO = "http://images.cocodataset.org"
_RESEARCH = "research use only (see the source's terms)"


def _stablesr(name: str, title: str, folder: str, lr: str, gt: str, about: str) -> StandardDataset:
    archive = Archive(
        "StableSR_testsets.zip", _STABLESR_TESTSETS, members=f"StableSR_testsets/{folder}/"
    )
    root = f"StableSR_testsets/StableSR_testsets/{folder}"
    return StandardDataset(
        name=name,
        title=title,
        description=f"{about} As released by StableSR's authors (Wang et al., IJCV 2024) "
        "and used for SeeSR's Table 2; LR images given (x4).",
        homepage="https://huggingface.co/datasets/Iceclear/StableSR-TestSets",
        licence=_RESEARCH,
        archives=(archive,),
        pairing=Pairing(gt=f"{root}/{gt}/*", lr=f"{root}/{lr}/*"),
    )


def _benchmark(name: str, title: str, about: str) -> StandardDataset:
    """Set5/Set14/BSD100/Urban100: HR images and their bicubic x4 LR (MATLAB imresize), from
    the Hugging Face mirror of the files the SR literature shares."""
    return StandardDataset(
        name=name.lower(),
        title=title,
        description=f"{about} HR with bicubic x4 LR (given).",
        homepage=f"https://huggingface.co/datasets/eugenesiow/{name}",
        licence=_RESEARCH,
        archives=tuple(
            Archive(file, _EUGENESIOW.format(name=name, file=file))
            for file in (f"{name}_HR.tar.gz", f"{name}_LR_x4.tar.gz")
        ),
        pairing=Pairing(gt=f"{name}_HR/**/*", lr=f"{name}_LR_x4/**/*"),
    )


def coco_annotations(folder: Path) -> dict[str, dict]:
    """Each COCO val2017 image's first caption (lowest annotation id) and its panoptic
    annotation (PNG path and ``segments_info``), by item id."""
    root = folder / "annotations_trainval2017" / "annotations"
    captions = json.loads((root / "captions_val2017.json").read_text(encoding="utf-8"))
    stems = {image["id"]: Path(image["file_name"]).stem for image in captions["images"]}
    found: dict[str, dict] = {}
    for annotation in sorted(captions["annotations"], key=lambda a: a["id"]):
        stem = stems[annotation["image_id"]]
        found.setdefault(stem, {"caption": annotation["caption"].strip()})
    panoptic = folder / "panoptic_annotations_trainval2017" / "annotations"
    listing = panoptic / "panoptic_val2017.json"
    if listing.is_file():
        for annotation in json.loads(listing.read_text(encoding="utf-8"))["annotations"]:
            png = panoptic / "panoptic_val2017" / annotation["file_name"]
            found.setdefault(stems[annotation["image_id"]], {}).update(
                panoptic=png.relative_to(folder).as_posix(),
                segments=annotation["segments_info"],
            )
    return found


CATALOGUE: tuple[StandardDataset, ...] = (
    StandardDataset(
        name="div2k-val",
        title="DIV2K validation",
        description="The 100 DIV2K validation images (2K) with their bicubic x4 LR "
        "(NTIRE 2017 track 1; Agustsson & Timofte, CVPRW 2017).",
        homepage=f"{_DIV2K}/",
        licence="academic research only (DIV2K's terms)",
        archives=(
            Archive(
                "DIV2K_valid_HR.zip",
                f"{_DIV2K}/DIV2K_valid_HR.zip",
                "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
                448993893,
            ),
            Archive(
                "DIV2K_valid_LR_bicubic_X4.zip",
                f"{_DIV2K}/DIV2K_valid_LR_bicubic_X4.zip",
                "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
                31505881,
            ),
        ),
        pairing=Pairing(gt="DIV2K_valid_HR/**/*", lr="DIV2K_valid_LR_bicubic_X4/**/*"),
    ),
    _stablesr(
        "stablesr-div2k-val",
        "DIV2K-Val (StableSR)",
        "DIV2K_V2_val",
        "lq",
        "gt",
        "3,000 512x512 crops of DIV2K validation degraded by the Real-ESRGAN pipeline.",
    ),
    _stablesr(
        "stablesr-realsr",
        "RealSR (StableSR crops)",
        "RealSRVal_crop128",
        "test_LR",
        "test_HR",
        "RealSR V3 test pairs (Canon and Nikon, Cai et al., ICCV 2019), 128 px LR crops.",
    ),
    _stablesr(
        "stablesr-drealsr",
        "DRealSR (StableSR crops)",
        "DrealSRVal_crop128",
        "test_LR",
        "test_HR",
        "DRealSR test pairs (Wei et al., ECCV 2020), 128 px LR crops.",
    ),
    StandardDataset(
        name="realsr",
        title="RealSR V3",
        description="RealSR V3 test pairs at x4, Canon and Nikon (Cai et al., ICCV 2019); "
        "real LR images given.",
        homepage="https://github.com/csjcai/RealSR",
        licence=_RESEARCH,
        archives=(
            Archive(
                "RealSR(V3).tar.gz",
                "the Google Drive or Baidu link in https://github.com/csjcai/RealSR "
                "(the 'RealSR(V3)' folder, packed as a .tar.gz)",
                manual=True,
            ),
        ),
        pairing=Pairing(gt="RealSR(V3)/**/Test/4/*_HR.png", lr="RealSR(V3)/**/Test/4/*_LR4.png"),
    ),
    StandardDataset(
        name="drealsr",
        title="DRealSR",
        description="DRealSR x4 test pairs (Wei et al., ECCV 2020); real LR images given.",
        homepage="https://github.com/xiezw5/Component-Divide-and-Conquer-for-Real-World-Image-Super-Resolution",
        licence=_RESEARCH,
        archives=(
            Archive(
                "DRealSR_x4_test.zip",
                "the Google Drive or Baidu link in https://github.com/xiezw5/"
                "Component-Divide-and-Conquer-for-Real-World-Image-Super-Resolution "
                "(its x4 test folder with test_HR and test_LR, packed as a .zip)",
                manual=True,
            ),
        ),
        pairing=Pairing(gt="DRealSR_x4_test/**/test_HR/*", lr="DRealSR_x4_test/**/test_LR/*"),
    ),
    _benchmark("Set5", "Set5", "5 images (Bevilacqua et al., BMVC 2012)."),
    _benchmark("Set14", "Set14", "14 images (Zeyde et al., 2010)."),
    _benchmark("BSD100", "BSD100", "100 images of the Berkeley segmentation set (Martin et al.)."),
    _benchmark("Urban100", "Urban100", "100 urban scenes (Huang et al., CVPR 2015)."),
    StandardDataset(
        name="coco-val2017",
        title="COCO val2017",
        description="The 5,000 COCO val2017 images with a caption each and the panoptic "
        "annotations (Lin et al., ECCV 2014; Kirillov et al., CVPR 2019); no LR (a run "
        "degrades the GT).",
        homepage="https://cocodataset.org/#download",
        licence="annotations CC BY 4.0; images under their Flickr licences",
        archives=(
            Archive(
                "val2017.zip",
                f"{_COCO}/zips/val2017.zip",
                "4f7e2ccb2866ec5041993c9cf2a952bbed69647b115d0f74da7ce8f4bef82f05",
                815585330,
            ),
            Archive(
                "annotations_trainval2017.zip",
                f"{_COCO}/annotations/annotations_trainval2017.zip",
                "113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268",
                252907541,
            ),
            Archive(
                "panoptic_annotations_trainval2017.zip",
                f"{_COCO}/annotations/panoptic_annotations_trainval2017.zip",
                "c05f76d2129b6b561eb70efe16e7006df62f73fb92889132d373b9d90e31a370",
                860725834,
                members="annotations/panoptic_val2017",
            ),
        ),
        pairing=Pairing(gt="val2017/val2017/*.jpg"),
        scale=None,
        extra_fields=coco_annotations,
    ),
    StandardDataset(
        name="koniq10k",
        title="KonIQ-10k",
        description="10,073 in-the-wild photographs at 1024x768 (Hosu et al., IEEE TIP "
        "2020): the thesis's source images; no LR (a run degrades the GT).",
        homepage="https://database.mmsp-kn.de/koniq-10k-database.html",
        licence=_RESEARCH,
        archives=(
            Archive(
                "koniq10k_1024x768.zip",
                "https://datasets.vqa.mmsp-kn.de/archives/koniq10k_1024x768.zip",
            ),
        ),
        pairing=Pairing(gt="koniq10k_1024x768/**/*.jpg"),
        scale=None,
    ),
)


def find(name: str) -> StandardDataset:
    """A catalogue entry by name."""
    for dataset in CATALOGUE:
        if dataset.name == name:
            return dataset
    raise KeyError(name)
