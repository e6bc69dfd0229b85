"""``semfid-bench degrade``: a contact sheet of one image degraded at several levels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semfid_bench.commands.common import console, parse_levels
from semfid_bench.escaping import console as escape
from semfid_bench.plugin_api.errors import SemfidError


def degrade(
    image: Annotated[Path, typer.Argument(help="Image file.", exists=True, dir_okay=False)],
    levels: Annotated[
        str | None,
        typer.Option(help="Intensity levels, e.g. 0.3,0.7,1.0 (default: the degradation's)."),
    ] = None,
    degradation: Annotated[str, typer.Option(help="Registered degradation.")] = "bsrgan",
    scale: Annotated[int, typer.Option(help="Downscaling factor.")] = 4,
    seed: Annotated[int, typer.Option(help="Base seed, as for `run`.")] = 0,
    out: Annotated[Path, typer.Option(help="Contact sheet PNG to write.")] = Path("sheet.png"),
) -> None:
    """Write a contact sheet: GT, then the LR image of each level (nearest-upscaled).

    Each level uses the seed `run` would use for an item whose id is the file's stem, and
    the steps each LR image went through are printed.
    """
    from semfid_bench.datasets.images import load_image, quantize
    from semfid_bench.degradations.contact_sheet import contact_sheet, upscale_nearest
    from semfid_bench.plugin_api.interfaces import TracesSteps
    from semfid_bench.plugin_api.plugin_manager import build_registry
    from semfid_bench.plugin_api.seeding import degradation_seed

    registry = build_registry()
    spec = registry.get("degradation", degradation).spec
    if scale not in spec.scales:
        raise SemfidError(f"Degradation {degradation!r} does not downscale x{scale}.")
    chosen = parse_levels(levels) if levels else list(spec.levels)
    for level in chosen:
        if not 0.0 <= level <= 1.0:
            raise SemfidError(f"Level {level} is outside [0, 1].")
    try:
        hr = load_image(image)
    except ValueError as exc:
        raise SemfidError(str(exc)) from exc
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        hr = hr[:, : height - height % scale, : width - width % scale]
        console.print(
            f"[yellow]note[/] {escape(image)}: {width}x{height} is not divisible by {scale}; "
            f"cropped to {hr.shape[2]}x{hr.shape[1]}."
        )
    model = registry.create("degradation", degradation, scale=scale, device=hr.device)
    tiles = [(f"GT {hr.shape[2]}x{hr.shape[1]}", hr)]
    for level in chosen:
        level_seed = degradation_seed(seed, image.stem, degradation)
        if isinstance(model, TracesSteps):
            lr, steps = model.trace(hr, level=level, seed=level_seed)
        else:
            lr, steps = model.degrade(hr, level=level, seed=level_seed), []
        lr = quantize(lr)
        console.print(f"[bold]{escape(degradation)} @ {level:g}[/] (seed {level_seed})")
        for step in steps:
            console.print(f"  {escape(step)}")
        tiles.append((f"{degradation} @ {level:g}", upscale_nearest(lr, tuple(hr.shape[-2:]))))
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(tiles).save(out)
    console.print(f"Wrote {escape(out)}")
