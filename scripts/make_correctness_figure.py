"""Draw docs/figures/correctness.png: the correctness class maps (opensr-test defaults) of
two SR images of scikit-image's ``coffee`` (tests/metrics/opensr_parity.py's cases): a
half-sharpened, noisy, shifted SR and the GT with a planted random patch.

    python scripts/make_correctness_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from semfid_bench.metrics.correctness import CLASSES, Settings, classify  # noqa: E402
from tests.metrics.opensr_parity import cases  # noqa: E402

OUT = ROOT / "docs" / "figures" / "correctness.png"
COLOURS = ListedColormap(["#1b9e77", "#7570b3", "#d95f02"])  # improvement, omission, hallu.


def main() -> None:
    rows = {
        "SR: half-sharpened, noisy, shifted": "coffee",
        "SR: GT + planted patch": "coffee-patch",
    }
    figure, axes = plt.subplots(len(rows), 4, figsize=(10, 5.4), constrained_layout=True)
    for row, (title, name) in zip(axes, rows.items(), strict=True):
        lr, sr, hr = cases()[name]
        result = classify(sr, lr, hr, Settings())
        scores = ", ".join(
            f"{c[:4]}. {v:.0f}%" for c, v in zip(CLASSES, result.scores, strict=True)
        )
        for axis, image, label in zip(row[:3], (lr, sr, hr), ("LR", title, "GT"), strict=True):
            axis.imshow(image.permute(1, 2, 0).numpy())
            axis.set_title(label, fontsize=9)
        row[3].imshow(result.classes.numpy(), cmap=COLOURS, vmin=0, vmax=2, interpolation="none")
        row[3].set_title(scores + "\n(white: left out)", fontsize=8)
        for axis in row:
            axis.set_axis_off()
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS(k)) for k in range(3)]
    figure.legend(handles, CLASSES, loc="lower center", ncol=3, fontsize=9)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
