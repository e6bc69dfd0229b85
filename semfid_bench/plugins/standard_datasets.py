"""The standard SR test sets (DIV2K, StableSR's test sets, RealSR, DRealSR, Set5/Set14/
BSD100/Urban100, COCO val2017, KonIQ-10k), each fetched into the cache on first use."""

from __future__ import annotations

from semfid_bench.datasets.catalogue import CATALOGUE
from semfid_bench.datasets.standard import StandardDataset, prepare
from semfid_bench.plugin_api.hookspecs import hookimpl
from semfid_bench.plugin_api.registry import DatasetRegistrar
from semfid_bench.plugin_api.specs import DatasetSpec


@hookimpl
def register_datasets(register: DatasetRegistrar) -> None:
    for dataset in CATALOGUE:
        register.add(
            DatasetSpec(
                name=dataset.name,
                description=f"{dataset.description} Licence: {dataset.licence}.",
            ),
            _factory(dataset),
        )


def _factory(dataset: StandardDataset):
    def manifest_path():
        return prepare(dataset)

    return manifest_path
