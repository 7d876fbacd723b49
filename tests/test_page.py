"""The page at `/`: rendered by the server from the run store, tested with Flask's client and in a
real headless Chromium (Debian's chromium and chromium-driver, driven by Selenium)."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request

import pytest


def _table(html: str, table_id: str) -> list[list[str]]:
    body = html[html.index(f'<table id="{table_id}"'):]
    body = body[:body.index("</table>")]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]]


def test_page_shows_bands_targets_chart_and_downloads_from_the_run(client, small_run):
    from smfcast.outputs.run_tables import forecast_rows
    resp = client.get("/?metric=npl_ratio&scenario=adverse")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    rows = [r for r in _table(html, "bands") if r[1] == "forecast"]
    expected = forecast_rows(client.application.extensions["smfcast_store"], small_run, "npl_ratio", "ensemble", "adverse")
    assert [r[0] for r in rows] == [e["period"] for e in expected]
    assert [float(r[2]) for r in rows] == pytest.approx([round(e["median"], 3) for e in expected], abs=6e-4)
    assert "<svg" in html and "P(met)" in html and "2.2" in html
    assert f"/v1/forecasts?metric=npl_ratio&amp;scenario=adverse&amp;history=true&amp;run={small_run.run_id}&amp;format=xlsx" in html


def test_page_lever_adjustment_moves_the_band_and_bad_input_is_named(client):
    base = _table(client.get("/?metric=npl_ratio&scenario=baseline").get_data(as_text=True), "bands")
    moved = client.get("/?metric=npl_ratio&scenario=baseline&lever=snow_disaster&value=1&year=2027")
    assert moved.status_code == 200
    after = _table(moved.get_data(as_text=True), "bands")
    by_base, by_after = {r[0]: float(r[2]) for r in base}, {r[0]: float(r[2]) for r in after}
    assert by_after["2027"] > by_base["2027"] and by_after["2026"] == by_base["2026"]
    bad = client.get("/?metric=npl_ratio&lever=snow_disaster&value=5&year=2027")
    assert bad.status_code == 422 and "outside its plausible range [0, 1]" in bad.get_data(as_text=True)
    nan = client.get("/?metric=npl_ratio&lever=snow_disaster&value=lots")
    assert nan.status_code == 422 and "value &#39;lots&#39; is not a number" in nan.get_data(as_text=True)
    inf = client.get("/?metric=npl_ratio&lever=snow_disaster&value=inf&year=2027")
    assert inf.status_code == 422 and "must be a finite number, got inf" in inf.get_data(as_text=True)
    gdp = client.get("/?metric=gdp&scenario=rosy")
    text = gdp.get_data(as_text=True)
    assert gdp.status_code == 422 and "metric &#39;gdp&#39; is not one of" in text and "scenario &#39;rosy&#39; is not one of" in text


def _chromium(width: int = 1200, height: int = 1600):
    """Headless Chromium showing `width` x `height` CSS pixels (a phone's viewport below 600:
    mobile emulation, so the page's viewport meta applies), keeping the console's messages."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        reason = "Debian's chromium and chromium-driver are not installed; .ci/run installs them when it can"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", f"--window-size={width},{height}",
                 "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                                  "mobile": width < 600})
    return browser


def _console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1280])
def test_page_fits_its_width_has_no_console_errors_and_every_control_updates_it(live_server, tmp_path, width):
    """At a phone's 390 CSS pixels and at a desktop's 1280: nothing wider than the viewport (no
    sideways scrolling; wide tables scroll inside their own box), no console error (the favicon
    is served), and each control redraws the page as soon as it changes, with no button."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    browser = _chromium(width, 900)
    try:
        def overflow() -> int:
            return browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")

        def bands() -> str:
            return browser.find_element(By.ID, "bands").text

        browser.get(live_server + "/?metric=npl_ratio&scenario=baseline")
        assert browser.execute_script("return window.innerWidth") == width
        assert overflow() == 0
        assert not [b for b in browser.find_elements(By.ID, "update") if b.is_displayed()]  # no button to click
        icon = browser.execute_script("return document.querySelector('link[rel=icon]').href")
        assert icon.endswith("/static/favicon.svg")
        shot = tmp_path / f"page-{width}.png"
        browser.save_screenshot(str(shot))
        assert Image.open(shot).size[0] == width
        before = bands()
        Select(browser.find_element(By.ID, "metric")).select_by_value("market_size")
        WebDriverWait(browser, 30).until(lambda b: "metric=market_size" in b.current_url)
        assert bands() != before and overflow() == 0
        before = bands()
        Select(browser.find_element(By.ID, "lever")).select_by_value("guarantee_balance")
        WebDriverWait(browser, 30).until(lambda b: "lever=guarantee_balance" in b.current_url)
        value = browser.find_element(By.ID, "value")
        value.send_keys("60", Keys.ENTER)
        WebDriverWait(browser, 30).until(lambda b: "value=60" in b.current_url)
        assert "guarantee_balance = 60" in browser.find_element(By.ID, "chart").get_attribute("data-scenario")
        assert bands() != before and overflow() == 0
        before = bands()
        Select(browser.find_element(By.ID, "year")).select_by_visible_text("2028")
        WebDriverWait(browser, 30).until(lambda b: "year=2028" in b.current_url)
        assert bands() != before and overflow() == 0
        assert _console_errors(browser) == []
    finally:
        browser.quit()


@pytest.mark.slow
def test_page_in_headless_chromium_changes_chart_and_table_with_the_scenario_and_runs_a_goal_seek(live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    # the API's answer to the goal seek the page will be asked (before the browser holds the one worker)
    request = urllib.request.Request(live_server + "/v1/goal-seek", headers={"Content-Type": "application/json", "Accept": "application/json"},
                                     data=json.dumps({"target": "npl_below_2_2_by_2026", "lever": "risk_model_adoption",
                                                      "probability": 0.45, "base": "adverse"}).encode())
    with urllib.request.urlopen(request, timeout=30) as resp:
        expected = json.load(resp)
    browser = _chromium()
    try:
        browser.get(live_server + "/?metric=npl_ratio&scenario=baseline")
        table = browser.find_element(By.ID, "bands").text
        chart = browser.find_element(By.CSS_SELECTOR, "#chart svg").get_attribute("innerHTML")
        assert "2030" in table and len(chart) > 1000
        Select(browser.find_element(By.ID, "scenario")).select_by_value("adverse")  # onchange submits the form
        WebDriverWait(browser, 30).until(lambda b: "scenario=adverse" in b.current_url)
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "chart").get_attribute("data-scenario") == "adverse")
        assert browser.find_element(By.ID, "bands").text != table
        assert browser.find_element(By.CSS_SELECTOR, "#chart svg").get_attribute("innerHTML") != chart
        assert Select(browser.find_element(By.ID, "scenario")).first_selected_option.get_attribute("value") == "adverse"
        link = browser.find_element(By.PARTIAL_LINK_TEXT, "XLSX workbook").get_attribute("href")
        assert "scenario=adverse" in link and "format=xlsx" in link
        # goal seek: the form beside the lever control, answered on the page as the API answers it
        Select(browser.find_element(By.ID, "gs-lever")).select_by_value("risk_model_adoption")
        probability = browser.find_element(By.ID, "gs-probability")
        probability.clear()
        probability.send_keys("0.45")
        browser.find_element(By.ID, "seek").click()
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "goal-seek-answer"))
        answer = browser.find_element(By.ID, "goal-seek-answer")
        assert answer.get_attribute("data-status") == expected["status"] == "reached"
        assert float(browser.find_element(By.ID, "gs-value").text) == pytest.approx(expected["value"], abs=1e-4)
        assert browser.find_element(By.ID, "gs-probability-reached").text == f"{100 * expected['probability']:.1f}%"
        browser.find_element(By.ID, "gs-show").click()  # the answer applied as the lever on the chart
        WebDriverWait(browser, 30).until(lambda b: "risk_model_adoption" in b.find_element(By.ID, "chart").get_attribute("data-scenario"))
    finally:
        browser.quit()
