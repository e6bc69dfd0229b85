"""The published report in a real headless Chromium (the ``browser`` fixture of
tests/conftest.py), opened from file:// as one folder: the index and an item page show
their tables, every image loads, and the console logs no error. Screenshots are kept in
the test's tmp folder (``screenshots/``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from semfid_bench.report.model import ReportOptions
from semfid_bench.report.publish import publish

from .report_helpers import HOSTILE, write_pairs, write_results

pytestmark = pytest.mark.slow


def _check_page(browser, url: str, tables: int, screenshot) -> None:
    from selenium.webdriver.common.by import By

    browser.get_log("browser")  # drop entries of earlier pages
    browser.get(url)
    assert len(browser.find_elements(By.TAG_NAME, "table")) >= tables
    images = browser.find_elements(By.TAG_NAME, "img")
    assert images
    loaded = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    )
    assert all(loaded), [i.get_attribute("src")[:80] for i in images]
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 6000))  # the whole page in one shot
    browser.save_screenshot(str(screenshot))
    browser.set_window_size(1280, 900)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_index_and_an_item_page_load_offline_with_their_images(browser, tmp_path, make_registry):
    from selenium.webdriver.common.by import By

    db = tmp_path / "results.db"
    write_results(db, write_pairs(tmp_path / "pairs"), make_registry())
    out = tmp_path / "report"
    publish(db, out, ReportOptions(resamples=20, explain=3))
    shots = tmp_path / "screenshots"
    shots.mkdir()

    _check_page(browser, (out / "index.html").as_uri(), 2, shots / "index.png")
    links = browser.find_elements(By.CSS_SELECTOR, "li a")
    hostile = next(a for a in links if a.text.startswith(HOSTILE + " · "))
    hostile.click()
    assert browser.title.startswith(HOSTILE)
    _check_page(browser, browser.current_url, 5, shots / "item.png")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "whiskers" in text and "A blurry cat" in text and "hallucination" in text
    assert (shots / "item.png").stat().st_size > 0


def test_the_published_sample_report_opens_with_its_item_pages(browser, tmp_path):
    """leaderboards/user-study-sample as committed (regenerate it with the commands in
    semfid_bench/data/user_study_sample/README.md)."""
    from selenium.webdriver.common.by import By

    sample = Path(__file__).resolve().parents[2] / "leaderboards" / "user-study-sample"
    _check_page(browser, (sample / "index.html").as_uri(), 2, tmp_path / "sample-index.png")
    links = browser.find_elements(By.CSS_SELECTOR, "li a[href^='items/']")
    assert len(links) >= 10
    links[0].click()
    _check_page(browser, browser.current_url, 1, tmp_path / "sample-item.png")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".pair img")) == 2
