"""Standard SR test sets: where each is published, how its archives are checked and unpacked,
and how a manifest is read off the unpacked files.

A set is fetched once into ``<cache>/datasets/``: archives go to ``archives/`` (checked
against the SHA-256 its source publishes, where one is known), their contents to
``<name>/``, and a manifest is written beside them; ``semfid-bench prefetch --datasets NAME``
does it ahead of a run. Offline, or for sets only a person can download (Google Drive), the
error names each missing archive, its source and the file path to put it at.

SHA-256 values come from the source's own listing where one exists (TensorFlow Datasets'
``url_checksums`` for DIV2K and COCO, which hash the authors' archives). Archives with no
published hash are checked by size if known, and their SHA-256 is recorded on first
download in ``<archive>.sha256`` (trust on first use); a later copy that differs is refused.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.weights import cache_root, download_checked, offline, sha256_of

MANIFEST_NAME = "manifest.jsonl"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class DatasetUnavailableError(SemfidError):
    """A standard dataset whose archives are neither cached nor downloadable here."""


@dataclass(frozen=True)
class Archive:
    """One published archive of a dataset.

    :param filename: the name it is kept under in ``<cache>/datasets/archives/``.
    :param url: the source's download address (for ``manual`` archives: the page to get it).
    :param sha256: the hash the source lists, or None where it lists none.
    :param size: its size in bytes where known.
    :param manual: only a person can download it (Google Drive, Baidu).
    :param members: unpack only members whose names start with this (one archive holding
        several sets); the whole archive when empty.
    """

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None
    manual: bool = False
    members: str = ""

    @property
    def folder(self) -> str:
        """The folder it is unpacked into: its file name without the archive suffixes."""
        return re.sub(r"(\.tar)?\.(zip|tar|gz|tgz)$", "", self.filename)


@dataclass(frozen=True)
class Pairing:
    """Where a set's GT and (given) LR images lie inside its unpacked folder, in which each
    archive is unpacked into a folder of its own (:attr:`Archive.folder`).

    :param gt: glob of the GT images, relative to the unpacked folder.
    :param lr: glob of the LR images (None: no LR ships, a run degrades the GT).
        An LR image belongs to the GT image whose stem it has once a scale tag (``x4``,
        ``_LR``/``_HR``) is removed from both.
    """

    gt: str
    lr: str | None = None


@dataclass(frozen=True)
class StandardDataset:
    """A published SR test set."""

    name: str
    title: str
    description: str
    homepage: str
    licence: str
    archives: tuple[Archive, ...]
    pairing: Pairing
    scale: int | None = 4
    citation: str = ""
    #: Called on the unpacked folder to add fields to each item (captions, annotations).
    extra_fields: Callable[[Path], dict[str, dict]] | None = field(default=None, compare=False)


def datasets_root() -> Path:
    """Where standard datasets are kept: ``<cache>/datasets``."""
    return cache_root() / "datasets"


def archive_path(archive: Archive) -> Path:
    """Where an archive is kept once downloaded (and where to put a copy by hand)."""
    return datasets_root() / "archives" / archive.filename


def fetch_archive(dataset: StandardDataset, archive: Archive) -> Path:
    """The checked archive in the cache, downloading it if needed and allowed."""
    path = archive_path(archive)
    if path.is_file():
        _check(dataset, archive, path)
        return path
    if archive.manual or offline():
        why = "only a person can download it" if archive.manual else "offline mode is on"
        raise _missing(dataset, archive, why)
    return download_checked(
        archive.url,
        path,
        lambda partial: _check(dataset, archive, partial),
        lambda exc: _missing(dataset, archive, f"the download failed ({exc})"),
    )


def _missing(dataset: StandardDataset, archive: Archive, why: str) -> DatasetUnavailableError:
    how = (
        "by hand"
        if archive.manual
        else f"on a machine with network access (`semfid-bench prefetch --datasets "
        f"{dataset.name}` does it)"
    )
    return DatasetUnavailableError(
        f"Dataset {dataset.name!r}: archive {archive.filename} is not available: {why}.",
        hint=f"Download {archive.url} {how} and put the file at {archive_path(archive)}.",
    )


def _check(dataset: StandardDataset, archive: Archive, path: Path) -> None:
    """Size and SHA-256 as published; an unpublished hash is pinned on first sight."""
    if archive.size is not None and path.stat().st_size != archive.size:
        raise _wrong(dataset, archive, path, f"is {path.stat().st_size} bytes, not {archive.size}")
    digest = sha256_of(path)
    pinned = archive_path(archive).with_name(archive.filename + ".sha256")
    expected = archive.sha256 or (pinned.read_text().strip() if pinned.is_file() else None)
    if expected is None:
        pinned.write_text(digest + "\n")
    elif digest != expected:
        where = "the source lists" if archive.sha256 else f"was recorded in {pinned}"
        raise _wrong(dataset, archive, path, f"has SHA-256 {digest}, {where} {expected}")


def _wrong(dataset: StandardDataset, archive: Archive, path: Path, what: str) -> SemfidError:
    return DatasetUnavailableError(
        f"Dataset {dataset.name!r}: {path} {what}.",
        hint=f"Delete it and download {archive.url} again.",
    )


def prepare(dataset: StandardDataset) -> Path:
    """The dataset's manifest, fetching, checking and unpacking its archives first if
    needed; what is already done is kept (a finished set is not checked again)."""
    folder = datasets_root() / dataset.name
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        return manifest
    paths, missing = [], []
    for archive in dataset.archives:
        try:
            paths.append(fetch_archive(dataset, archive))
        except DatasetUnavailableError as exc:
            missing.append(exc)
    if missing:
        raise DatasetUnavailableError(
            "\n".join(exc.message for exc in missing), hint="\n".join(e.hint for e in missing)
        )
    staging = Path(tempfile.mkdtemp(prefix=f".{dataset.name}-", dir=datasets_root()))
    try:
        for archive, path in zip(dataset.archives, paths, strict=True):
            unpack(path, staging / archive.folder, archive.members)
        write_manifest(dataset, staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def unpack(archive: Path, into: Path, members: str = "") -> None:
    """Unpack a zip or tar archive into ``into`` (only members starting with ``members``),
    refusing members that would land outside it (absolute paths, ``..``, links); zip
    archives inside are unpacked in place."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            chosen = [m for m in bundle.infolist() if m.filename.startswith(members)]
            for member in chosen:
                _inside(root, member.filename, archive)
            bundle.extractall(root, chosen)
            nested = [root / m.filename for m in chosen if m.filename.endswith(".zip")]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            chosen = [m for m in bundle.getmembers() if m.name.startswith(members)]
            try:  # the "data" filter refuses absolute paths, "..", links and devices
                bundle.extractall(root, chosen, filter="data")
            except tarfile.FilterError as exc:
                raise SemfidError(f"{archive}: unsafe member: {exc}") from exc
            nested = []
    else:
        raise SemfidError(f"{archive} is neither a zip nor a tar archive.")
    for inner in nested:
        unpack(inner, inner.parent)
        inner.unlink()


def _inside(root: Path, name: str, archive: Path) -> None:
    target = (root / name).resolve()
    if target != root and root not in target.parents:
        raise SemfidError(f"{archive}: member {name!r} would be written outside {root}.")


_TAG = re.compile(r"(?i)(?:[_-]?x\d+|[_-](?:lr|hr|lq|gt)\d*)$")


def _pair_key(path: Path) -> str:
    return _TAG.sub("", path.stem)


def _images(folder: Path, pattern: str) -> dict[str, Path]:
    """The images matching ``pattern`` by pairing key; two with one key are an error."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob(pattern)):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = _pair_key(path)
        if key in found:
            raise SemfidError(f"{found[key]} and {path} would both be item {key!r}.")
        found[key] = path
    return found


def pair_images(folder: Path, pairing: Pairing) -> list[dict]:
    """One manifest item per GT image (``id`` its stem, paths relative to ``folder``), with
    its LR image when the set ships them; a GT image without its LR (or the reverse) is an
    error naming it."""
    gts = _images(folder, pairing.gt)
    if not gts:
        raise SemfidError(f"No GT images match {pairing.gt!r} in {folder}.")
    lrs = _images(folder, pairing.lr) if pairing.lr else {}
    if pairing.lr and set(lrs) != set(gts):
        odd = sorted(set(lrs) ^ set(gts))[:5]
        raise SemfidError(f"GT and LR images of {folder} do not pair up; unmatched: {odd}.")
    items = []
    for key, gt in gts.items():
        item = {"id": key, "gt": gt.relative_to(folder).as_posix()}
        if key in lrs:
            item["lr"] = lrs[key].relative_to(folder).as_posix()
        items.append(item)
    return items


def write_manifest(dataset: StandardDataset, folder: Path) -> Path:
    """Write ``folder/manifest.jsonl`` for the unpacked set."""
    items = pair_images(folder, dataset.pairing)
    if dataset.extra_fields is not None:
        extra = dataset.extra_fields(folder)
        items = [item | extra.get(item["id"], {}) for item in items]
    header = {"format": "semfid-bench-manifest", "version": 1, "name": dataset.name}
    path = folder / MANIFEST_NAME
    with open(path, "w", encoding="utf-8") as handle:
        for line in [header, *items]:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path
