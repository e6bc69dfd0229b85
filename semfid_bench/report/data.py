"""The report's tables as data: CSV and JSON with every statistic at full precision."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from semfid_bench.report.boards import boards_frame
from semfid_bench.report.model import Report
from semfid_bench.safe_paths import path_inside


def models_csv(report: Report) -> str:
    return boards_frame(report.model_boards).to_csv(index=False)


def models_json(report: Report) -> str:
    frame = boards_frame(report.model_boards)
    return frame.to_json(orient="records", indent=1, force_ascii=False) + "\n"


def metrics_csv(report: Report) -> str:
    return report.agreement.to_csv(index=False)


def metrics_json(report: Report) -> str:
    """``{"metrics": [...], "pairwise": [...]}`` (``pairwise`` where it was computed)."""
    payload = {"metrics": json.loads(report.agreement.to_json(orient="records"))}
    if report.pairwise is not None:
        payload["pairwise"] = json.loads(report.pairwise.to_json(orient="records"))
    return json.dumps(payload, indent=1, ensure_ascii=False) + "\n"


def shareable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The run records as a published report shows them: without the host and process id,
    and with the manifest named by its file name only (its folder is a local path)."""

    def config(text: str) -> str:
        record = json.loads(text)
        if record.get("manifest"):
            record["manifest"] = Path(record["manifest"]).name
        return json.dumps(record, sort_keys=True)

    shown = runs.drop(columns=[c for c in ("host", "pid") if c in runs])
    return shown.assign(config=shown["config"].map(config)) if "config" in shown else shown


def write_data(report: Report, data_dir: Path) -> list[Path]:
    """``models.csv``, ``runs.csv`` (see :func:`shareable_runs`) and, where computed,
    ``metrics.csv``, ``pairwise.csv`` and ``set_level.csv``."""
    frames = {
        "models": boards_frame(report.model_boards),
        "runs": shareable_runs(report.runs_frame),
    }
    if report.agreement is not None:
        frames["metrics"] = report.agreement
    if report.pairwise is not None:
        frames["pairwise"] = report.pairwise
    if not report.set_level.empty:
        frames["set_level"] = report.set_level
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        path = path_inside(data_dir, name, suffix=".csv")
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths
