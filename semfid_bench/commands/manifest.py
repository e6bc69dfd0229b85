"""``semfid-bench manifest``: write a manifest for a folder of images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import AllowOutsideOption, console
from semfid_bench.escaping import console as escape


def make_manifest(
    folder: Annotated[Path, typer.Argument(help="Folder of images.", exists=True, file_okay=False)],
    out: Annotated[Path | None, typer.Option(help="Manifest path.")] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name.")] = None,
    allow_outside_paths: AllowOutsideOption = False,
) -> None:
    """Write a manifest listing every image in FOLDER."""
    from semfid_bench.datasets.manifest import load_manifest, manifest_from_folder

    path = manifest_from_folder(folder, out, name, allow_outside_paths=allow_outside_paths)
    items = len(load_manifest(path, allow_outside_paths=allow_outside_paths))
    console.print(f"Wrote {escape(path)} ({items} items)")
