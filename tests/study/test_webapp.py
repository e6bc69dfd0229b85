"""The rating web app over HTTP (Starlette's TestClient): validation, traps, admin, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from starlette.testclient import TestClient

from semfid_bench.study.answers import read_answers
from semfid_bench.study.mos import score_study

from .webapp_helpers import TOKEN, make_app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "study", tmp_path / "study.sqlite", raters_per_pair=3, trap_rate=0.3)


@pytest.fixture
def client(app):
    return TestClient(app, raise_server_exceptions=True)


def shown_key(client, rater):
    page = client.get("/rate", params={"rater": rater})
    assert page.status_code == 200
    found = re.search(r'data-item="([0-9a-f]+)"', page.text)
    return None if found is None else found.group(1)


def answer(client, rater, key, value):
    return client.post(
        "/answer", data={"rater": rater, "item": key, "answer": value}, follow_redirects=False
    )


def answer_truthfully(client, app, rater, count, lie_on_traps=False):
    """Answer up to ``count`` items: traps with their known answer (or its opposite), pairs
    yes; stops when the rater is done."""
    schedule = app.state.schedule
    given = []
    for _ in range(count):
        key = shown_key(client, rater)
        if key is None:
            break
        item = schedule.by_key[key]
        value = True if item.expected is None else item.expected != lie_on_traps
        assert answer(client, rater, item.key, "yes" if value else "no").status_code == 303
        given.append((item.pair_id, value))
    return given


def test_answers_are_stored_with_trap_flags_and_read_by_study_mos(client, app, tmp_path):
    given = answer_truthfully(client, app, "alice", 12)
    rows = app.state.store.rows()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("alice", p, "yes" if v else "no") for p, v in given
    ]
    schedule = app.state.schedule
    for _rater, pair_id, _, is_trap, expected, _ in rows:
        item = schedule.by_id[pair_id]
        assert is_trap == int(item.is_trap)
        assert expected == (None if item.expected is None else ("yes" if item.expected else "no"))
    assert any(r[3] for r in rows), "trap rate 0.3 showed no trap in 12 items"
    answers = read_answers(tmp_path / "study.sqlite")
    assert [(a.rater, a.pair_id, a.answer) for a in answers] == [("alice", p, v) for p, v in given]
    assert score_study(answers).trap_accuracy == {"alice": 1.0}


def test_traps_are_the_gt_beside_itself_or_beside_another_gt(app):
    schedule = app.state.schedule
    assert len(schedule.traps) == 12  # one of each kind per distinct GT (6 GTs)
    for trap in schedule.traps:
        if trap.pair_id.startswith("trap-same:"):
            assert trap.gt == trap.sr and trap.expected is False
        else:
            assert trap.gt != trap.sr and trap.expected is True
    gts = {p.gt for p in schedule.pairs}
    assert {t.sr for t in schedule.traps} <= gts


def test_each_rater_gets_their_own_order_and_pairs_stop_at_the_target(client, app):
    first = {r: app.state.schedule.by_key[shown_key(client, r)].pair_id for r in "abcdef"}
    assert len(set(first.values())) > 1, "every rater starts with the same item"
    for rater in ("r1", "r2", "r3", "r4"):
        answer_truthfully(client, app, rater, 40)
    counts = app.state.store.raters_per_pair()
    for pair in app.state.schedule.pairs:
        assert counts[pair.pair_id] == 3
    assert "nothing left" in client.get("/rate", params={"rater": "r4"}).text


def admin_accuracy(client, rater):
    page = client.get("/admin", params={"token": TOKEN}).text
    rows = re.findall(r"<tr><td>([^<]+)</td><td>\d+</td><td>(\d+)</td><td>([^<]+)</td>", page)
    return {r: (int(traps), accuracy) for r, traps, accuracy in rows}[rater]


def test_a_trap_failure_lowers_the_raters_accuracy(client, app, tmp_path):
    schedule = app.state.schedule
    traps = 0
    while traps < 2:  # answer honestly until two traps were passed
        item = schedule.by_key[shown_key(client, "carol")]
        traps += item.is_trap
        answer(client, "carol", item.key, "yes" if item.expected in (None, True) else "no")
    assert admin_accuracy(client, "carol") == (2, "1.000")
    item = schedule.by_key[shown_key(client, "carol")]
    while not item.is_trap:
        answer(client, "carol", item.key, "yes")
        item = schedule.by_key[shown_key(client, "carol")]
    answer(client, "carol", item.key, "yes" if not item.expected else "no")  # fail it
    assert admin_accuracy(client, "carol") == (3, "0.667")
    assert score_study(read_answers(tmp_path / "study.sqlite"), 0).trap_accuracy == {
        "carol": pytest.approx(2 / 3)
    }


def test_the_trap_share_is_the_trap_rate(tmp_path):
    from semfid_bench.datasets.manifest import load_manifest
    from semfid_bench.study.schedule import Schedule, build_items

    from .webapp_helpers import write_study

    pairs, traps = build_items(load_manifest(write_study(tmp_path, 30, 10)), seed=0)
    schedule = Schedule(pairs, traps, raters_per_pair=1000, trap_rate=0.2, seed=0)
    shown = []
    for rater in range(100):
        answered: set[str] = set()
        for _ in range(50):
            item = schedule.next_item(f"r{rater}", answered, {})
            answered.add(item.pair_id)
            shown.append(item.is_trap)
    assert sum(shown) / len(shown) == pytest.approx(0.2, abs=0.03)  # binomial sd 0.006


def test_the_admin_csv_matches_the_database(client, app):
    answer_truthfully(client, app, "alice", 5)
    answer_truthfully(client, app, "bob", 4)
    response = client.get("/admin/answers.csv", headers={"X-Admin-Token": TOKEN})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["rater", "pair_id", "answer", "is_trap", "expected", "answered_at"]
    stored = [[str(v) if v is not None else "" for v in r] for r in app.state.store.rows()]
    assert rows[1:] == stored and len(stored) == 9


def test_user_text_is_html_safe(client, app):
    page = client.get("/admin", params={"token": TOKEN}).text
    assert "pair&lt;0&gt;/0" in page and "pair<0>" not in page
    page = client.get("/rate", params={"rater": "a.b@c d"}).text
    assert 'value="a.b@c d"' in page


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/rate", None),
        ("get", "/rate?rater=", None),
        ("get", "/rate?rater=%3Cscript%3E", None),
        ("get", "/rate?rater=" + "x" * 65, None),
        ("get", "/rate?rater=-lead", None),
        ("get", "/image/unknown/gt", None),
        ("get", "/image/../../etc/passwd", None),
        ("get", "/image/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/gt", None),
        ("get", "/image//etc/passwd/gt", None),
        ("get", "/image/KEY/../../../pairs.jsonl", None),
        ("get", "/image/KEY/mask", None),
        ("get", "/image/KEY//etc/passwd", None),
        ("get", "/static/../pairs.jsonl", None),
        ("get", "/static/%2e%2e/%2e%2e/webapp.py", None),
        ("post", "/answer", {"rater": "alice", "item": "KEY", "answer": "maybe"}),
        ("post", "/answer", {"rater": "alice", "item": "KEY", "answer": ""}),
        ("post", "/answer", {"rater": "alice", "item": "KEY"}),
        ("post", "/answer", {"rater": "alice", "item": "nope", "answer": "yes"}),
        ("post", "/answer", {"rater": "alice", "item": "pair<0>/0", "answer": "yes"}),
        ("post", "/answer", {"rater": "", "item": "KEY", "answer": "yes"}),
        ("post", "/answer", {"rater": "a\nb", "item": "KEY", "answer": "yes"}),
        ("get", "/answer", None),
        ("get", "/admin", None),
        ("get", "/admin?token=wrong-token-xx", None),
        ("get", "/admin/answers.csv", None),
        ("get", "/admin/answers.csv?token=" + TOKEN[:-1], None),
    ],
)
def test_malformed_and_escaping_requests_get_4xx(client, app, method, url, data):
    key = app.state.schedule.pairs[0].key
    url = url.replace("KEY", key)
    if data is not None:
        data = {k: v.replace("KEY", key) for k, v in data.items()}
    response = client.request(method.upper(), url, data=data, follow_redirects=False)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert "root:" not in response.text and "create_app" not in response.text
    assert app.state.store.rows() == []


def test_forms_must_be_urlencoded_small_and_single_valued(client, app):
    key = app.state.schedule.pairs[0].key
    assert (
        client.post("/answer", json={"rater": "a", "item": key, "answer": "yes"}).status_code == 415
    )
    body = f"rater=a&item={key}&answer=yes&answer=no"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/answer", content=body, headers=headers).status_code == 400
    big = f"rater=a&item={key}&answer=yes&pad=" + "x" * 5000
    assert client.post("/answer", content=big, headers=headers).status_code == 413
    assert app.state.store.rows() == []


def test_images_come_from_the_manifest_files(client, app):
    pair = app.state.schedule.pairs[0]
    assert client.get(f"/image/{pair.key}/gt").content == pair.gt.read_bytes()
    assert client.get(f"/image/{pair.key}/sr").content == pair.sr.read_bytes()


def test_pages_allow_only_their_own_scripts(client):
    page = client.get("/rate", params={"rater": "alice"})
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in re.sub(r'content="[^"]*"', "", page.text).replace("https", "")


def serve(monkeypatch, *args):
    """Run ``study serve`` with uvicorn.run replaced: the app it would serve, and the output."""
    import uvicorn
    from typer.testing import CliRunner

    from semfid_bench.cli import app as cli

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    result = CliRunner(env={"COLUMNS": "300"}).invoke(cli, ["study", "serve", *args])
    return served, result


def test_cli_serves_the_manifest_and_study_mos_reads_its_database(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from semfid_bench.cli import app as cli
    from semfid_bench.datasets.manifest import load_manifest
    from semfid_bench.plugins.sample_data import USER_STUDY_MANIFEST

    db = tmp_path / "study.sqlite"
    args = [str(USER_STUDY_MANIFEST), "--db", str(db), "--port", "8123", "--trap-rate", "0.4"]
    served, result = serve(monkeypatch, *args, "--raters-per-pair", "2")
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    token = re.search(r"/admin\?token=(\S+)", result.output).group(1)
    client = TestClient(served["app"])
    assert client.get("/admin", params={"token": token}).status_code == 200
    pairs = len(load_manifest(USER_STUDY_MANIFEST))
    assert f"Serving {pairs} pair(s)" in result.output
    for rater in ("ann", "ben"):
        answer_truthfully(client, served["app"], rater, 200)
    out = tmp_path / "rated.jsonl"
    mos = CliRunner().invoke(
        cli, ["study", "mos", str(db), "--pairs", str(USER_STUDY_MANIFEST), "--out", str(out)]
    )
    assert mos.exit_code == 0, mos.output
    rated = load_manifest(out, allow_outside_paths=True)
    assert len(rated) == pairs and {item.mos for item in rated} == {1.0}  # everyone said yes


def test_cli_rejects_unpaired_manifests_and_short_tokens(monkeypatch, tmp_path, sample_manifest):
    db = str(tmp_path / "study.sqlite")
    served, result = serve(monkeypatch, str(sample_manifest), "--db", db)
    assert result.exit_code != 0 and not served
    assert "without an 'sr' image" in str(result.exception)
    served, result = serve(monkeypatch, str(sample_manifest), "--db", db, "--admin-token", "short")
    assert result.exit_code != 0 and not served
    assert "at least 8 characters" in str(result.exception)


def test_a_restarted_app_shows_the_same_next_item(tmp_path):
    db = tmp_path / "study.sqlite"
    first = make_app(tmp_path / "study", db, raters_per_pair=3, trap_rate=0.3, seed=5)
    client = TestClient(first)
    answer_truthfully(client, first, "dora", 4)
    before = shown_key(client, "dora")
    first.state.store.close()
    again = make_app(tmp_path / "study", db, raters_per_pair=3, trap_rate=0.3, seed=5)
    assert shown_key(TestClient(again), "dora") == before
    assert len(again.state.store.rows()) == 4


def test_manifest_ids_that_look_like_traps_are_refused(tmp_path):
    import json

    from semfid_bench.datasets.manifest import load_manifest
    from semfid_bench.plugin_api.errors import SemfidError
    from semfid_bench.study.schedule import build_items

    from .webapp_helpers import write_study

    path = write_study(tmp_path, gts=2, srs_per_gt=1)
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    lines[2] = json.dumps({**row, "id": f"trap-same:{row['id']}"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SemfidError, match="look like trap ids"):
        build_items(load_manifest(path), seed=0)
