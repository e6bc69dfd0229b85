"""The dependency floors in pyproject.toml admit no version that lacks an API the package
uses (a cheap guard; installing the floors is a CI job's work)."""

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib", reason="tomllib is new in Python 3.11")

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"

FLOORS = {
    # torch.OutOfMemoryError (sr_models/tiling.py): new in 2.5; older torch raises on the
    # except clause itself.
    "torch": "2.5",
    # the torchvision release built for torch 2.5
    "torchvision": "0.20",
    # DiffusionPipeline.from_pretrained(..., dtype=) (sr_models/sd_x4_upscaler.py): 0.40.0
    # (huggingface/diffusers#14205); older versions ignore it and load fp32.
    "diffusers": "0.40",
    # what diffusers 0.40.0 itself requires (its METADATA): huggingface-hub>=1.23,
    # safetensors>=0.8
    "huggingface_hub": "1.23",
    "safetensors": "0.8",
    # from_pretrained(..., dtype=) (captioners/vlm.py) needs 4.56, but 4.x pins
    # huggingface-hub<1.0, which diffusers 0.40 cannot use: 5.0.0 is the first that installs
    # next to it.
    "transformers": "5.0",
}


def _requirements() -> dict[str, Requirement]:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return {req.name.replace("-", "_"): req for req in map(Requirement, dependencies)}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_the_declared_floor_has_the_apis_used(name):
    requirement = _requirements()[name]
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    assert floors, f"{name} has no lower bound in pyproject.toml"
    assert max(floors) >= Version(FLOORS[name]), (
        f"{requirement} admits versions before {FLOORS[name]}"
    )
