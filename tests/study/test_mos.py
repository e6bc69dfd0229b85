"""study mos: trap filter, MOS with Wilson CIs, Krippendorff's alpha, the rated manifest."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy.stats import norm, spearmanr
from typer.testing import CliRunner

from semfid_bench.cli import app
from semfid_bench.datasets.manifest import load_manifest
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugins.sample_data import USER_STUDY_MANIFEST
from semfid_bench.study.answers import Answer, read_answers
from semfid_bench.study.mos import (
    krippendorff_alpha,
    score_study,
    trap_accuracies,
    wilson_interval,
    write_rated_manifest,
)

HONEST, RANDOM, TRAPS = 20, 15, 20


def planted_study(seed: int = 0):
    """Honest raters whose "yes" shares are exactly a planted MOS per pair (k of 20 say
    yes), who pass the traps (one misses two of 20: accuracy exactly 0.9), and raters who
    flip a coin on everything."""
    rng = np.random.default_rng(seed)
    pair_ids = [item.id for item in load_manifest(USER_STUDY_MANIFEST)]
    yes_counts = {p: int(rng.integers(0, HONEST + 1)) for p in pair_ids}
    rows = []
    for pair_id, k in yes_counts.items():
        sayers = set(rng.permutation(HONEST)[:k].tolist())
        rows += [
            (f"honest{r}", pair_id, "yes" if r in sayers else "no", "", "") for r in range(HONEST)
        ]
    for t in range(TRAPS):
        expected = "yes" if t % 2 else "no"
        wrong = "no" if t % 2 else "yes"
        for r in range(HONEST):
            answer = wrong if (r == 0 and t < 2) else expected
            rows.append((f"honest{r}", f"trap{t}", answer, "1", expected))
    for r in range(RANDOM):
        for pair_id in [*pair_ids, *(f"trap{t}" for t in range(TRAPS))]:
            trap = pair_id.startswith("trap")
            expected = ("yes" if int(pair_id[4:]) % 2 else "no") if trap else ""
            coin = "yes" if rng.random() < 0.5 else "no"
            rows.append((f"random{r}", pair_id, coin, "1" if trap else "0", expected))
    order = rng.permutation(len(rows))
    planted = {p: k / HONEST for p, k in yes_counts.items()}
    return [rows[i] for i in order], planted


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rater", "pair_id", "answer", "is_trap", "expected"])
        writer.writerows(rows)
    return path


@pytest.fixture
def study(tmp_path):
    rows, planted = planted_study()
    return write_csv(tmp_path / "answers.csv", rows), planted


def test_honest_raters_recover_the_planted_mos_and_random_raters_go(study):
    path, planted = study
    answers = read_answers(path)
    accuracy = trap_accuracies(answers)
    assert accuracy["honest0"] == pytest.approx(0.9)
    assert all(accuracy[f"random{r}"] < 0.9 for r in range(RANDOM))  # the plant is valid
    scores = score_study(answers)
    assert scores.dropped == sorted(f"random{r}" for r in range(RANDOM))
    assert len(scores.kept) == HONEST
    ids = sorted(planted)
    measured = [scores.pairs[p].mos for p in ids]
    assert spearmanr(measured, [planted[p] for p in ids]).statistic > 0.95
    assert measured == pytest.approx([planted[p] for p in ids])
    assert all(scores.pairs[p].ratings == HONEST for p in ids)
    assert all(scores.pairs[p].low <= scores.pairs[p].mos <= scores.pairs[p].high for p in ids)
    assert set(scores.pairs) == set(planted)  # no trap pair gets a MOS


def test_keeping_everybody_distorts_the_mos(study):
    path, planted = study
    scores = score_study(read_answers(path), min_trap_accuracy=0)
    assert not scores.dropped
    errors = [abs(scores.pairs[p].mos - planted[p]) for p in planted]
    assert max(errors) > 0.1


def test_the_rated_manifest_loads_and_keeps_the_pairs(study, tmp_path):
    path, planted = study
    pairs = load_manifest(USER_STUDY_MANIFEST)
    out = tmp_path / "out" / "rated.jsonl"
    written, unrated = write_rated_manifest(pairs, score_study(read_answers(path)), out, "x")
    assert (written, unrated) == (len(planted), [])
    rated = {item.id: item for item in load_manifest(out, allow_outside_paths=True)}
    for item in pairs:
        got = rated[item.id]
        assert got.mos == pytest.approx(planted[item.id])
        assert (got.gt, got.sr, got.split, got.model, got.level) == (
            item.gt,
            item.sr,
            item.split,
            item.model,
            item.level,
        )
        assert got.label("mos_low") <= got.mos <= got.label("mos_high")
        assert got.label("ratings") == HONEST


def test_wilson_interval_matches_the_closed_form():
    z = norm.ppf(0.975)
    low, high = wilson_interval(0, 10, 0.95)
    assert low == pytest.approx(0, abs=1e-12)
    assert high == pytest.approx(z**2 / (10 + z**2))
    k, n = 7, 20
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert wilson_interval(k, n, 0.95) == pytest.approx((centre - half, centre + half))


def test_krippendorff_alpha_by_hand():
    """Two raters, four pairs: A says yes, yes, no, no; B says yes, no, no, no. The
    coincidence matrix has o_00 = 4, o_01 = o_10 = 1, o_11 = 2, so alpha = 1 - 7 * 1 /
    (5 * 3) = 8/15. A fifth pair only A rated adds nothing (a unit needs two values)."""
    a = [True, True, False, False, True]
    b = [True, False, False, False]
    answers = [Answer("A", f"p{i}", v) for i, v in enumerate(a)]
    answers += [Answer("B", f"p{i}", v) for i, v in enumerate(b)]
    assert krippendorff_alpha(answers) == pytest.approx(8 / 15)


def test_krippendorff_alpha_is_undefined_without_variation():
    same = [Answer(r, p, True) for r in "AB" for p in ("p1", "p2")]
    assert krippendorff_alpha(same) is None
    assert krippendorff_alpha([Answer("A", "p1", True), Answer("B", "p2", False)]) is None


def test_nobody_passing_the_traps_is_an_error(tmp_path):
    rows = [("r1", "t", "yes", "1", "no"), ("r1", "p", "yes", "", "")]
    with pytest.raises(SemfidError, match=r"No rater reaches trap accuracy 0\.9"):
        score_study(read_answers(write_csv(tmp_path / "a.csv", rows)))


def test_last_answer_counts(tmp_path):
    rows = [("r1", "p", "yes", "", ""), ("r2", "p", "no", "", ""), ("r1", "p", "no", "", "")]
    scores = score_study(read_answers(write_csv(tmp_path / "a.csv", rows)), 0)
    assert scores.duplicates == 1
    assert scores.pairs["p"].mos == 0


def test_raters_without_traps_are_dropped_unless_threshold_zero(tmp_path):
    rows = [("r1", "p", "yes", "", ""), ("r2", "p", "no", "1", "no")]
    answers = read_answers(write_csv(tmp_path / "a.csv", rows))
    assert score_study(answers).kept == ["r2"]
    assert score_study(answers, 0).kept == ["r1", "r2"]


def test_bad_answers_name_the_file_and_line(tmp_path):
    rows = [("r1", "p", "maybe", "", ""), ("", "p", "yes", "yes", "")]
    with pytest.raises(SemfidError) as info:
        read_answers(write_csv(tmp_path / "a.csv", rows))
    message = info.value.message
    assert "a.csv" in message and "line 2: answer must be yes or no, got 'maybe'" in message
    assert "line 3: rater is empty" in message and "line 3: expected must be yes or no" in message
    (tmp_path / "b.csv").write_text("rater,answer\nr1,yes\n")
    with pytest.raises(SemfidError, match=r"lacks column\(s\) \['pair_id'\]"):
        read_answers(tmp_path / "b.csv")


def test_answers_for_pairs_outside_the_manifest_are_an_error(tmp_path):
    rows = [("r1", "nope", "yes", "", "")]
    scores = score_study(read_answers(write_csv(tmp_path / "a.csv", rows)), 0)
    with pytest.raises(SemfidError, match="'nope'"):
        write_rated_manifest(load_manifest(USER_STUDY_MANIFEST), scores, tmp_path / "o.jsonl", "")


def test_reads_a_study_database(study, tmp_path):
    import sqlite3

    path, _ = study
    db = tmp_path / "study.sqlite"
    with sqlite3.connect(db) as con, open(path, newline="") as handle:
        con.execute("CREATE TABLE answers (rater, pair_id, answer, is_trap, expected, at)")
        rows = [(*row.values(), "now") for row in csv.DictReader(handle)]
        con.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)", rows)
    assert read_answers(db) == read_answers(path)


def test_cli_reports_the_dropped_raters(study, tmp_path):
    path, planted = study
    out = tmp_path / "rated.jsonl"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["study", "mos", str(path), "--pairs", str(USER_STUDY_MANIFEST), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"Raters: {HONEST + RANDOM}, dropped {RANDOM} below trap accuracy 0.9" in text
    assert f"Wrote {len(planted)} rated pair(s)" in text
    assert len(load_manifest(out, allow_outside_paths=True)) == len(planted)


def test_the_rated_manifest_feeds_the_metric_leaderboard(study, tmp_path):
    import json

    path, planted = study
    out, db = tmp_path / "rated.jsonl", str(tmp_path / "r.db")
    cli = CliRunner(env={"COLUMNS": "200"})
    pairs = ["--pairs", str(USER_STUDY_MANIFEST)]
    assert cli.invoke(app, ["study", "mos", str(path), *pairs, "--out", str(out)]).exit_code == 0
    run = ["run", "--manifest", str(out), "--metrics", "psnr", "--db", db, "--device", "cpu"]
    run.append("--allow-outside-paths")  # the rated pairs point at the bundled images
    assert cli.invoke(app, run).exit_code == 0
    board = ["leaderboard", "--db", db, "--kind", "metrics", "--format", "json"]
    result = cli.invoke(app, [*board, "--resamples", "50"])
    assert result.exit_code == 0, result.output
    rows = {r["split"]: r for r in json.loads(result.output)["metrics"]}
    assert rows["all"]["n"] == len(planted) and rows["all"]["metric"] == "psnr"
