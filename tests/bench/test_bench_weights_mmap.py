"""Peak memory of loading part of a large checkpoint: memory-mapped vs read whole.

Each load runs in a fresh subprocess that, after importing torch, resets its peak RSS to
the current RSS (``/proc/self/clear_refs``) and reports how much the peak
(``resource.getrusage(...).ru_maxrss``) rose during the load. The reference, plain
``torch.load`` (the loader before memory mapping), is measured in the same run.
``extra_info`` holds both rises and the file size. Time it with
``pytest tests/bench --benchmark-enable -m slow``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PARTS, PART_MIB = 8, 32
FILE_MIB = PARTS * PART_MIB

_WRITE = f"""
import sys, torch
numel = {PART_MIB} * 1024 * 1024 // 4
torch.save({{f"part{{i}}.w": torch.full((numel,), float(i)) for i in range({PARTS})}}, sys.argv[1])
"""
_MEASURE = """
import resource, sys, torch
from semfid_bench.plugin_api.weights import load_state_dict
def rss_kib(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1])
path, how = sys.argv[1], sys.argv[2]
open("/proc/self/clear_refs", "w").write("5")  # peak RSS (ru_maxrss, VmHWM) := current
before = rss_kib("VmHWM:")
if how == "mmap":
    part = load_state_dict(path, prefixes=("part0.",))
else:
    part = {k: v for k, v in torch.load(path, weights_only=True).items() if k.startswith("part0.")}
total = sum(float(v.sum()) for v in part.values())  # the wanted part is really read
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, total)
"""


def _peak_rise_mib(path: Path, how: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), how],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    ).stdout.split()
    return float(output[0])  # ru_maxrss is in KiB on Linux


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_mmap_loading_does_not_hold_the_file_in_memory(benchmark, tmp_path):
    if benchmark.disabled:  # peak RSS depends on the machine's page cache: measure, not gate
        pytest.skip(
            "measured only with --benchmark-enable (tests/test_weights_safe_loading.py "
            "checks that loads are memory-mapped)"
        )
    path = tmp_path / "large.pth"
    # Written by another process, as a release downloaded earlier is: when the measuring
    # process's own parent had just written it, the mapped pages were all counted.
    subprocess.run([sys.executable, "-c", _WRITE, str(path)], check=True)
    mapped = benchmark.pedantic(_peak_rise_mib, args=(path, "mmap"), rounds=1, iterations=1)
    whole = _peak_rise_mib(path, "whole")
    benchmark.extra_info.update(
        {"file_mib": FILE_MIB, "mmap_rise_mib": mapped, "whole_rise_mib": whole}
    )
    assert whole > 0.9 * FILE_MIB  # the reference does hold the file: the measure works
    assert mapped < 2 * PART_MIB  # only the wanted part (32 MiB) was read
