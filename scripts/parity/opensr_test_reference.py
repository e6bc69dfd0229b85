"""Regenerate tests/fixtures/parity/opensr_test.json with opensr-test itself.

opensr-test pulls satalign, rasterio, xarray, kornia, lpips and CLIP packages, so it is not
a dependency of semfid-bench; install it in a throw-away environment that sees the
project's packages and run this script there:

    python -m venv --system-site-packages /tmp/osr
    /tmp/osr/bin/pip install --no-deps opensr-test==1.3.3 satalign==0.1.17
    /tmp/osr/bin/pip install xarray rasterio kornia mpltern pydantic
    /tmp/osr/bin/python scripts/parity/opensr_test_reference.py

(``--no-deps`` skips opensr-test's lpips and CLIP extras, which consistency and
correctness do not import.)

Inputs are tests/metrics/opensr_parity.py's seeded triples. For each, opensr-test's
``Metrics.consistency`` (reflectance l1, spectral sad, spatial pcc) and
``Metrics.correctness`` with ``gradient_threshold`` "auto" (= ``Metrics.compute``'s) and
0.1 (``correctness``'s default), each with ``correctness_norm`` "percent" and "softmin";
every other parameter at ``opensr_test.Config``'s default.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.metrics.opensr_parity import cases  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "parity" / "opensr_test.json"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def main() -> None:
    import opensr_test

    results = {}
    for name, (lr, sr, hr) in cases().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry = {"consistency": opensr_test.Metrics().consistency(lr=lr, sr=sr)}
            for threshold in ("auto", 0.1):
                for norm in ("percent", "softmin"):
                    metrics = opensr_test.Metrics(correctness_norm=norm)
                    got = metrics.correctness(lr=lr, sr=sr, hr=hr, gradient_threshold=threshold)
                    classes = metrics.classification
                    entry[f"correctness/{threshold}/{norm}"] = got | {
                        "counts": [int((classes == k).sum()) for k in range(3)]
                    }
        results[name] = json.loads(json.dumps(entry), parse_float=lambda s: _number(float(s)))
    versions = {p: importlib.metadata.version(p) for p in ("opensr-test", "satalign")}
    versions["scikit-image"] = importlib.metadata.version("scikit-image")
    source = {
        "source": "opensr-test (PyPI; github.com/ESAOpenSR/opensr-test), "
        "opensr_test.Metrics.consistency and .correctness, Config defaults otherwise",
        "versions": versions,
        "inputs": "tests/metrics/opensr_parity.py cases()",
    }
    OUT.write_text(json.dumps(source | {"results": results}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
