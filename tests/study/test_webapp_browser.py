"""The rating web app in a real headless browser (system Chromium driven by Selenium,
the ``browser`` fixture of tests/conftest.py).

uvicorn serves the app on a free loopback port in a thread; a rater answers ten pairs with
the keyboard and by clicking, then the server restarts on the same database.
"""

from __future__ import annotations

import csv
import io
import socket
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from semfid_bench.study.answers import read_answers

from .webapp_helpers import TOKEN, make_app

pytestmark = pytest.mark.slow  # the browser fixture (tests/conftest.py) skips without Chromium


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        assert not self.thread.is_alive(), "server did not stop"
        self.socket.close()


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT rater, pair_id, answer, is_trap, expected, answered_at FROM answers ORDER BY id"
        ).fetchall()


def test_a_rater_answers_by_keyboard_and_clicks_and_a_restart_loses_nothing(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    db = tmp_path / "study.sqlite"
    app = make_app(tmp_path / "study", db, raters_per_pair=2, trap_rate=0.2, seed=3)
    schedule = app.state.schedule
    server = LiveServer(app)
    wait = WebDriverWait(browser, 20)

    browser.get(server.url + "/")
    browser.find_element(By.ID, "rater").send_keys("alice")
    browser.find_element(By.ID, "start").click()
    keys = [Keys.ARROW_LEFT, Keys.ARROW_RIGHT, "n", "y", Keys.ARROW_RIGHT]
    clicks = ["answer-no", "answer-yes", "answer-yes", "answer-no", "answer-yes"]
    given = []
    for number, action in enumerate(keys + clicks):
        page = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "main.rate")))
        assert f"{number} answered" in page.text
        item = schedule.by_key[page.get_attribute("data-item")]
        if number == 0:
            images = browser.find_elements(By.CSS_SELECTOR, ".pair img")
            assert [img.get_property("naturalWidth") for img in images] == [64, 64]
            browser.save_screenshot(str(tmp_path / "rating-page.png"))
        if action in clicks and number >= len(keys):
            browser.find_element(By.ID, action).click()
            value = action == "answer-yes"
        else:
            ActionChains(browser).send_keys(action).perform()
            value = action in (Keys.ARROW_RIGHT, "y")
        given.append((item.pair_id, "yes" if value else "no"))
        wait.until(shown.staleness_of(page))

    before = stored(db)
    assert [(r[0], r[1], r[2]) for r in before] == [("alice", p, a) for p, a in given]
    assert len({p for p, _ in given}) == 10
    assert any(schedule.by_id[p].is_trap for p, _ in given)

    server.stop()  # restart on the same database: nothing lost, alice goes on where she was
    server = LiveServer(make_app(tmp_path / "study", db, raters_per_pair=2, trap_rate=0.2, seed=3))
    try:
        assert stored(db) == before
        browser.get(server.url + "/rate?rater=alice")
        page = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "main.rate")))
        assert "10 answered" in page.text
        assert schedule.by_key[page.get_attribute("data-item")].pair_id not in {p for p, _ in given}

        request = urllib.request.Request(
            server.url + "/admin/answers.csv", headers={"X-Admin-Token": TOKEN}
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            text = response.read().decode("utf-8")
    finally:
        server.stop()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1:] == [["" if v is None else str(v) for v in r] for r in before]
    (tmp_path / "answers.csv").write_text(text, encoding="utf-8")
    assert read_answers(tmp_path / "answers.csv") == read_answers(db)
