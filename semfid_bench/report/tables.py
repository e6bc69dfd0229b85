"""The report's tables as text cells, independent of the output format.

Every number a report shows is formatted here, once: a model board's means and CIs with
the fixed decimals of their metric (:func:`~semfid_bench.report.boards.metric_decimals`),
correlations, errors and p-values with three. Within a column the numbers are padded with
figure spaces (as wide as a digit) so that means and CIs line up. Missing statistics are
"–" (the reason is in a note), never a bare NaN. Cells keep user text (labels, ids) raw:
each renderer escapes it for its format, told by the column's ``kind``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from semfid_bench.report.boards import ModelBoard
from semfid_bench.report.model import AgreementBoard, RunRecord

NUMBER, TEXT, CODE = "number", "text", "code"
"""Column kinds: our own numbers (right-aligned), user text, user text shown as code."""
MISSING = "–"
FIGURE_SPACE = "\u2007"
STAT_DECIMALS = 3
"""Correlations lie in [-1, 1], p-values in [0, 1]; RMSE and MSE are in MOS units."""
CORRELATIONS = ("srcc", "krcc", "plcc")
RANK_STAR = " ★"


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = NUMBER


@dataclass(frozen=True)
class Table:
    """Columns, rows of text cells, and numbered notes shown below the table."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fixed(value: object, decimals: int) -> str:
    return f"{float(value):.{decimals}f}"


def _aligned(
    cells: Sequence[tuple[str, ...] | None], join: Callable[[tuple[str, ...]], str]
) -> list[str]:
    """Cells of one column from their number fields: each field padded on the left to the
    widest of its position in the column, then joined; None is missing."""
    width: dict[int, int] = {}
    for fields in cells:
        for i, text in enumerate(fields or ()):
            width[i] = max(width.get(i, 0), len(text))
    return [
        MISSING
        if fields is None
        else join(tuple(text.rjust(width[i], FIGURE_SPACE) for i, text in enumerate(fields)))
        for fields in cells
    ]


def _plus_minus(fields: tuple[str, ...]) -> str:
    return " ± ".join(fields)


def _bracketed(fields: tuple[str, ...]) -> str:
    return fields[0] if len(fields) == 1 else f"{fields[0]} [{fields[1]}, {fields[2]}]"


def mean_ci_fields(mean: float, low: float, high: float, decimals: int) -> tuple[str, ...] | None:
    """A mean and its CI half-width (``mean ± half``), or the mean alone without a CI."""
    if _missing(mean):
        return None
    if _missing(low) or _missing(high):
        return (_fixed(mean, decimals),)
    return _fixed(mean, decimals), _fixed((high - low) / 2, decimals)


def interval_fields(row: dict, name: str, decimals: int = STAT_DECIMALS) -> tuple[str, ...] | None:
    """A statistic with its CI (``value [low, high]``), or the value alone without one."""
    if _missing(row.get(name)):
        return None
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if _missing(low) or _missing(high):
        return (_fixed(row[name], decimals),)
    return _fixed(row[name], decimals), _fixed(low, decimals), _fixed(high, decimals)


def _number_column(values: Sequence[object], decimals: int = STAT_DECIMALS) -> list[str]:
    return _aligned([None if _missing(v) else (_fixed(v, decimals),) for v in values], "".join)


def _rank(value: object) -> str:
    return MISSING if _missing(value) else str(int(value))


def _transpose(columns: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(zip(*columns, strict=True))


def model_table(board: ModelBoard) -> Table:
    """A model board: rank, model, items, then each metric's mean ± CI half-width."""
    records = board.frame.to_dict("records")
    columns = [Column("rank"), Column("model", CODE), Column("n")]
    cells = [
        [_rank(r["rank"]) for r in records],
        [str(r["model"]) for r in records],
        [str(r["n"]) for r in records],
    ]
    for metric in board.columns:
        star = RANK_STAR if metric.label == board.rank_by else ""
        columns.append(Column(metric.header + star))
        fields = [
            mean_ci_fields(
                r[metric.label],
                r[f"{metric.label}_low"],
                r[f"{metric.label}_high"],
                metric.decimals,
            )
            for r in records
        ]
        cells.append(_aligned(fields, _plus_minus))
    return Table(tuple(columns), _transpose(cells))


AGREEMENT_COLUMNS = (
    Column("rank"),
    Column("metric", TEXT),
    Column("n"),
    Column("SRCC [95% CI]"),
    Column("KRCC [95% CI]"),
    Column("PLCC [95% CI]"),
    Column("PLCC (fit)"),
    Column("RMSE (fit)"),
    Column("MSE (norm.)"),
)


def agreement_table(board: AgreementBoard) -> Table:
    """One (dataset, split) of the metric board: signed correlations with CIs, the fitted
    PLCC/RMSE and the normalised MSE; a row's notes are numbered below the table."""
    records = board.frame.to_dict("records")
    notes: list[str] = []
    labels = []
    for row in records:
        label = f"{row['metric']} {row['direction']}"
        if row.get("notes"):
            notes.append(f"{row['metric']}: {row['notes']}")
            label += f" ({len(notes)})"
        labels.append(label)
    cells = [[_rank(r["rank"]) for r in records], labels, [str(r["n"]) for r in records]]
    cells += [_aligned([interval_fields(r, c) for r in records], _bracketed) for c in CORRELATIONS]
    cells += [_number_column([r[c] for r in records]) for c in ("plcc_fit", "rmse_fit", "mse")]
    return Table(AGREEMENT_COLUMNS, _transpose(cells), tuple(notes))


PAIRWISE_COLUMNS = (
    Column("dataset · split", TEXT),
    Column("A", TEXT),
    Column("B", TEXT),
    Column("n"),
    Column("Δ|SRCC| [95% CI]"),
    Column("p (bootstrap)"),
    Column("p (Williams)"),
)


def pairwise_table(records: list[dict]) -> Table:
    """The pairwise tests: Δ|SRCC| of metric A over B with its CI and two p-values."""
    cells = [
        [f"{r['dataset']} · {r['split']}" for r in records],
        [str(r["metric_a"]) for r in records],
        [str(r["metric_b"]) for r in records],
        [str(r["n"]) for r in records],
        _aligned([interval_fields(r, "delta") for r in records], _bracketed),
        _number_column([r["p_value"] for r in records]),
        _number_column([r["williams_p"] for r in records]),
    ]
    return Table(PAIRWISE_COLUMNS, _transpose(cells))


def runs_table(runs: list[RunRecord]) -> Table:
    """The run configuration: what was run, with which seeds, versions and device."""
    names = [f.name for f in dataclasses.fields(RunRecord)]
    columns = tuple(Column("run" if name == "run_id" else name, TEXT) for name in names)
    return Table(columns, tuple(tuple(getattr(run, name) for name in names) for run in runs))


SET_LEVEL_COLUMNS = (
    Column("slice", TEXT),
    Column("model", TEXT),
    Column("metric", TEXT),
    Column("value [95% CI]"),
    Column("n items"),
    Column("key", CODE),
)


def set_level_table(frame) -> Table:
    """The set-level values (:func:`semfid_bench.report.set_level.set_level_boards`), one row
    per slice × model × metric: value with four significant digits and its bootstrap CI
    where the metric allows one; a missing value points to its note (why)."""
    rows, notes = [], []
    for record in frame.to_dict("records"):
        title = f"{record['dataset']} · {record['degradation']} @ {record['level']:g}"
        title += f" · x{record['scale']}" + (f" · seed {record['seed']}" if record["seed"] else "")
        arrow = {True: " ↑", False: " ↓"}.get(record["higher_is_better"], "")
        if record["error"] is not None:
            notes.append(f"{record['model']} · {record['metric']}: {record['error']}")
            value = f"{MISSING} ({len(notes)})"
        elif _missing(record["low"]):
            value = f"{record['value']:.4g}"
        else:
            value = f"{record['value']:.4g} [{record['low']:.4g}, {record['high']:.4g}]"
        cells = (title, record["model"], record["metric"] + arrow, value, str(record["n_items"]))
        rows.append((*cells, record["key"]))
    return Table(SET_LEVEL_COLUMNS, tuple(rows), tuple(notes))
