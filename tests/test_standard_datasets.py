"""Standard test sets: download with hash checks, safe unpacking, GT/LR pairing, manifest,
offline errors, and the catalogue's entries."""

import hashlib
import io
import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch.hub
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.catalogue import CATALOGUE, coco_annotations
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.datasets.standard import (
    Archive,
    DatasetUnavailableError,
    Pairing,
    StandardDataset,
    archive_path,
    pair_images,
    prepare,
    unpack,
)
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.plugin_manager import build_registry

runner = CliRunner(env={"COLUMNS": "250"})


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _photos() -> dict[str, np.ndarray]:
    """Two real photographs, 64×48 HR crops."""
    return {"0801": data.astronaut()[:64, :48], "0802": data.chelsea()[:64, :48]}


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return path


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            bundle.addfile(info, io.BytesIO(content))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A DIV2K-like set (HR zip + x4 LR tar.gz named like DIV2K's) behind a fake network
    that serves local files by URL and records what was asked."""
    source = tmp_path / "source"
    source.mkdir()
    photos = _photos()
    hr = _zip(source / "Fake_HR.zip", {f"Fake_HR/{k}.png": _png(v) for k, v in photos.items()})
    _tar(
        source / "Fake_LR_x4.tar.gz",
        {f"X4/{k}x4.png": _png(v[::4, ::4].copy()) for k, v in photos.items()},
    )
    asked: list[str] = []

    def download(url, dst, progress=True):
        asked.append(url)
        shutil.copyfile(source / url.rsplit("/", 1)[-1], dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    monkeypatch.setenv("SEMFID_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEMFID_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    dataset = StandardDataset(
        name="fake-div2k",
        title="Fake",
        description="d",
        homepage="https://example.org",
        licence="l",
        archives=(
            Archive("Fake_HR.zip", "https://example.org/Fake_HR.zip", _sha(hr), hr.stat().st_size),
            Archive("Fake_LR_x4.tar.gz", "https://example.org/Fake_LR_x4.tar.gz"),
        ),
        pairing=Pairing(gt="Fake_HR/**/*", lr="Fake_LR_x4/**/*"),
    )
    return dataset, asked, source


def test_prepare_downloads_checks_unpacks_and_writes_a_loadable_manifest(served):
    dataset, asked, _ = served
    manifest = load_manifest(prepare(dataset))
    assert asked == [a.url for a in dataset.archives]
    assert [item.id for item in manifest] == ["0801", "0802"]
    first = manifest.items[0]
    assert Image.open(first.gt).size == (48, 64) and Image.open(first.lr).size == (12, 16)
    assert first.gt.name == "0801.png" and first.lr.name == "0801x4.png"
    # An unpublished hash is pinned on first download.
    pinned = archive_path(dataset.archives[1]).with_name("Fake_LR_x4.tar.gz.sha256")
    assert pinned.read_text().strip() == _sha(archive_path(dataset.archives[1]))
    prepare(dataset)
    assert len(asked) == 2  # done once


def test_a_published_hash_that_does_not_match_is_refused_and_nothing_is_kept(served):
    dataset, _, _ = served
    bad = dataset.archives[0].__class__(
        "Fake_HR.zip", dataset.archives[0].url, "0" * 64, dataset.archives[0].size
    )
    wrong = StandardDataset(**{**dataset.__dict__, "archives": (bad, dataset.archives[1])})
    with pytest.raises(SemfidError, match="SHA-256"):
        prepare(wrong)
    assert not archive_path(bad).exists()
    assert not (archive_path(bad).parent.parent / "fake-div2k").exists()


def test_a_copy_differing_from_the_pinned_hash_is_refused(served):
    dataset, _, _ = served
    prepare(dataset)
    cached = archive_path(dataset.archives[1])
    shutil.rmtree(cached.parent.parent / "fake-div2k")
    _tar(cached, {"X4/0801x4.png": b"not the same"})
    with pytest.raises(SemfidError, match=r"was recorded in .*\.sha256"):
        prepare(dataset)


def test_wrong_size_is_refused(served):
    dataset, _, _ = served
    first = dataset.archives[0]
    bad = Archive(first.filename, first.url, None, first.size + 1)
    with pytest.raises(SemfidError, match=r"bytes, not"):
        prepare(StandardDataset(**{**dataset.__dict__, "archives": (bad,)}))


def test_offline_error_names_every_missing_archive_its_source_and_where_to_put_it(
    served, monkeypatch
):
    dataset, asked, _ = served
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError) as caught:
        prepare(dataset)
    text = str(caught.value)
    for archive in dataset.archives:
        assert archive.filename in text and archive.url in text
        assert str(archive_path(archive)) in text
    assert asked == []


def test_manual_archives_are_never_downloaded_and_say_so(served):
    dataset, asked, _ = served
    manual = Archive("Hand.zip", "the link on https://example.org/page", manual=True)
    with pytest.raises(DatasetUnavailableError, match="only a person can download it") as caught:
        prepare(StandardDataset(**{**dataset.__dict__, "archives": (manual,)}))
    assert "by hand" in caught.value.hint and asked == []


def test_a_manually_placed_archive_is_used(served):
    dataset, asked, source = served
    for archive in dataset.archives:
        archive_path(archive).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / archive.filename, archive_path(archive))
    assert len(load_manifest(prepare(dataset)).items) == 2 and asked == []


def test_zip_members_that_escape_are_refused(tmp_path):
    evil = _zip(tmp_path / "evil.zip", {"ok.png": b"x", "../outside.png": b"x"})
    with pytest.raises(SemfidError, match="outside"):
        unpack(evil, tmp_path / "into")
    assert not (tmp_path / "outside.png").exists()


def test_tar_links_are_refused(tmp_path):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as bundle:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        bundle.addfile(info)
    with pytest.raises(SemfidError, match="unsafe member"):
        unpack(path, tmp_path / "into")


def test_nested_zips_are_unpacked_and_member_prefixes_select(tmp_path):
    inner = _zip(tmp_path / "inner.zip", {"panoptic/1.png": b"p"})
    outer = _zip(
        tmp_path / "outer.zip",
        {"annotations/panoptic.zip": inner.read_bytes(), "annotations/other.json": b"{}"},
    )
    unpack(outer, tmp_path / "into", members="annotations/panoptic")
    assert (tmp_path / "into/annotations/panoptic/1.png").read_bytes() == b"p"
    assert not (tmp_path / "into/annotations/other.json").exists()
    assert not (tmp_path / "into/annotations/panoptic.zip").exists()


@pytest.mark.parametrize(
    ("gt", "lr"),
    [
        ("0801.png", "0801x4.png"),  # DIV2K
        ("Canon_001_HR.png", "Canon_001_LR4.png"),  # RealSR V3
        ("baby.png", "baby.png"),  # StableSR crops, Set5 mirrors
        ("img_001_HR.png", "img_001_LR.png"),
    ],
)
def test_gt_and_lr_pair_by_stem_without_scale_tags(tmp_path, gt, lr):
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").mkdir()
    (tmp_path / "hr" / gt).write_bytes(b"")
    (tmp_path / "lr" / lr).write_bytes(b"")
    (item,) = pair_images(tmp_path, Pairing(gt="hr/*", lr="lr/*"))
    assert item == {"id": re.sub(r"_HR$", "", Path(gt).stem), "gt": f"hr/{gt}", "lr": f"lr/{lr}"}


def test_unpaired_or_clashing_images_are_errors_naming_them(tmp_path):
    for folder, names in {"hr": ["a.png", "b.png"], "lr": ["a.png"]}.items():
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_bytes(b"")
    with pytest.raises(SemfidError, match=r"do not pair up; unmatched: \['b'\]"):
        pair_images(tmp_path, Pairing(gt="hr/*", lr="lr/*"))
    (tmp_path / "hr" / "ax4.png").write_bytes(b"")
    with pytest.raises(SemfidError, match="would both be item 'a'"):
        pair_images(tmp_path, Pairing(gt="hr/*"))


def test_coco_fields_are_the_first_caption_and_the_panoptic_annotation(tmp_path):
    folder = tmp_path / "annotations_trainval2017" / "annotations"
    folder.mkdir(parents=True)
    captions = {
        "images": [
            {"id": 139, "file_name": "000000000139.jpg"},
            {"id": 285, "file_name": "000000000285.jpg"},
        ],
        "annotations": [
            {"id": 9, "image_id": 139, "caption": "  second by id\n"},
            {"id": 3, "image_id": 139, "caption": "A room with a TV. "},
            {"id": 4, "image_id": 285, "caption": "A bear."},
        ],
    }
    (folder / "captions_val2017.json").write_text(json.dumps(captions))
    panoptic = tmp_path / "panoptic_annotations_trainval2017" / "annotations"
    panoptic.mkdir(parents=True)
    segments = [{"id": 3226956, "category_id": 1, "iscrowd": 0, "bbox": [1, 2, 3, 4], "area": 7}]
    listing = {
        "annotations": [
            {"image_id": 139, "file_name": "000000000139.png", "segments_info": segments}
        ]
    }
    (panoptic / "panoptic_val2017.json").write_text(json.dumps(listing))
    assert coco_annotations(tmp_path) == {
        "000000000139": {
            "caption": "A room with a TV.",
            "panoptic": "panoptic_annotations_trainval2017/annotations/panoptic_val2017/"
            "000000000139.png",
            "segments": segments,
        },
        "000000000285": {"caption": "A bear."},
    }


def test_catalogue_entries_are_registered_with_valid_sources():
    registry = build_registry()
    names = {d.name for d in CATALOGUE}
    assert len(names) == len(CATALOGUE) and names <= set(registry.names("dataset"))
    for dataset in CATALOGUE:
        assert dataset.licence in registry.get("dataset", dataset.name).spec.description
        for archive in dataset.archives:
            assert archive.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", archive.sha256)
            assert archive.manual or re.match(
                r"https?://[^ ]+/" + re.escape(archive.filename) + "$", archive.url
            )


def test_prefetch_datasets_fetches_and_reports_failures(served, monkeypatch):
    dataset, asked, _ = served
    import semfid_bench.plugins.standard_datasets as plugin

    monkeypatch.setattr(plugin, "CATALOGUE", (dataset,))
    result = runner.invoke(app, ["prefetch", "--datasets", "fake-div2k"])
    assert result.exit_code == 0, result.output
    assert "manifest.jsonl" in " ".join(result.output.split()) and len(asked) == 2
    monkeypatch.setenv("SEMFID_BENCH_OFFLINE", "1")
    shutil.rmtree(archive_path(dataset.archives[0]).parent.parent)
    failed = runner.invoke(app, ["prefetch", "--datasets", "fake-div2k"])
    assert failed.exit_code == 1 and "Fake_HR.zip" in failed.output


def test_a_standard_dataset_runs_with_its_given_lr(served, tmp_path, monkeypatch):
    dataset, _, _ = served
    import semfid_bench.plugins.standard_datasets as plugin

    monkeypatch.setattr(plugin, "CATALOGUE", (dataset,))
    db = tmp_path / "r.db"
    args = ["run", "--dataset", "fake-div2k", "--metrics", "psnr", "--db", str(db)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "fake-div2k (2 items): 2 results computed" in " ".join(result.output.split())
