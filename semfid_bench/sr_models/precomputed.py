"""SR outputs produced elsewhere, read from a folder, so any model can be scored and ranked.

Layout of the folder given with ``--set precomputed.dir=FOLDER``:

- per degradation level: ``FOLDER/<degradation>@<level>/<item id>.png`` (level written as
  Python's ``format(level, "g")``: ``bicubic@1``, ``bsrgan@0.3``; items with a given LR
  image use ``given-lr@1``); ``semfid-bench run --save-images DIR`` writes the LR inputs
  to match as ``DIR/<dataset>/<degradation>@<level>/LR/<item id>.png``;
- flat: ``FOLDER/<item id>.png``, used only when the folder has no ``*@*`` subfolders
  (one degradation level, or given LR images).

An output is found by item id (encoded as ``--save-images`` writes it, by
:func:`~semfid_bench.safe_paths.encode_part`: ``a/b`` is ``a%2Fb.png``, never a subfolder),
else by the stem of the item's GT file name; any image suffix is accepted; a name that
would resolve outside the folder is never read. A missing or mis-sized output fails that
item only (the runner records the error and goes on). Several precomputed models run side
by side as instances:
``--models precomputed:seesr,precomputed:pasd --set precomputed:seesr.dir=...``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semfid_bench.datasets.images import IMAGE_SUFFIXES, load_image
from semfid_bench.datasets.manifest import Item
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.interfaces import SRModel, UpscaleContext
from semfid_bench.safe_paths import encode_part


class PrecomputedOutputs(SRModel):
    """Reads each item's SR image instead of computing it; the LR input is only used to
    check the output's size."""

    def __init__(
        self, scale: int = 4, device: torch.device | str | None = None, dir: str | None = None
    ) -> None:
        if dir is None:
            raise SemfidError(
                "The precomputed model needs the folder of SR outputs.",
                hint="Pass --set precomputed.dir=FOLDER (or --set precomputed:NAME.dir=FOLDER "
                "with --models precomputed:NAME).",
            )
        self.root = Path(dir).expanduser()
        if not self.root.is_dir():
            raise SemfidError(f"Precomputed outputs folder {self.root} does not exist.")
        self.scale = int(scale)
        self.flat = not any(p.is_dir() and "@" in p.name for p in self.root.iterdir())

    @staticmethod
    def weight_files(**_: object) -> dict:
        """Nothing to download: the outputs are already on disk."""
        return {}

    def folder(self, degradation: str, level: float) -> Path:
        """Where outputs for one degradation level are looked up."""
        return self.root if self.flat else self.root / f"{degradation}@{level:g}"

    def find(self, item: Item, degradation: str, level: float) -> Path:
        """The output file of one item, or an error listing where it was looked for."""
        folder = self.folder(degradation, level)
        stems = dict.fromkeys((encode_part(item.id), item.gt.stem))
        for stem in stems:
            for suffix in IMAGE_SUFFIXES:
                for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
                    if candidate.is_file() and _inside(candidate, folder):
                        return candidate
        names = " or ".join(f"{stem}.png" for stem in stems)
        raise FileNotFoundError(
            f"no precomputed output for item {item.id!r}: looked for {names} "
            f"(any image suffix) in {folder}"
        )

    def upscale(self, lr: torch.Tensor, context: UpscaleContext) -> torch.Tensor:
        expected = (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)
        outputs = []
        for item in context.items:
            path = self.find(item, context.degradation, context.level)
            image = load_image(path)
            if tuple(image.shape[-2:]) != expected:
                raise ValueError(
                    f"precomputed output {path} is {image.shape[-1]}x{image.shape[-2]} "
                    f"(WxH); x{self.scale} of the LR image is {expected[1]}x{expected[0]}"
                )
            outputs.append(image)
        return torch.stack(outputs).to(lr.device)


def _inside(path: Path, folder: Path) -> bool:
    """True if ``path`` (symlinks followed) lies inside ``folder``."""
    return path.resolve().is_relative_to(folder.resolve())
