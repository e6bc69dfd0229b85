"""The bundled sample photographs, the default dataset."""

from __future__ import annotations

from pathlib import Path

from semfid_bench.hookspecs import hookimpl
from semfid_bench.registry import DatasetRegistrar
from semfid_bench.specs import DatasetSpec

SAMPLE_MANIFEST = Path(__file__).resolve().parent.parent / "data" / "sample" / "manifest.jsonl"


@hookimpl
def register_datasets(register: DatasetRegistrar) -> None:
    register.add(
        DatasetSpec(
            name="sample",
            description="Four public-domain/CC0 photographs shipped with scikit-image.",
        ),
        lambda: SAMPLE_MANIFEST,
    )
