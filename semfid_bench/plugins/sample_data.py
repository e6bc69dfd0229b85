"""The bundled sample photographs (the default dataset) and the illustrative user study."""

from __future__ import annotations

from pathlib import Path

from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import DatasetRegistrar
from semfid_bench.plugin_api.specs import DatasetSpec

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_MANIFEST = DATA / "sample" / "manifest.jsonl"
USER_STUDY_MANIFEST = DATA / "user_study_sample" / "manifest.jsonl"


@hookimpl
def register_datasets(register: DatasetRegistrar) -> None:
    register.add(
        DatasetSpec(
            name="sample",
            description="Four public-domain/CC0 photographs shipped with scikit-image.",
        ),
        lambda: SAMPLE_MANIFEST,
    )
    register.add(
        DatasetSpec(
            name="user-study-sample",
            description="28 GT/SR pairs from the sample photographs with hand-made, "
            "illustrative MOS (not real ratings).",
        ),
        lambda: USER_STUDY_MANIFEST,
    )
