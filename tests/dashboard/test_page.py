"""The live dashboard page in a real headless Chromium (Debian's), driven by Playwright.

Playwright is pointed at the system browser (/usr/bin/chromium); no browser is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import start_server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Debian's chromium is missing: `make test` installs it")
BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}


def _load(url: str, rate: float, seconds: float) -> None:
    with httpx.Client(timeout=30) as http:
        end = time.monotonic() + seconds
        threads = []
        while time.monotonic() < end:
            worker = threading.Thread(target=http.post, args=(url,), kwargs={"json": BODY})
            worker.start()
            threads.append(worker)
            time.sleep(1 / rate)
        for worker in threads:
            worker.join()


def test_dashboard_renders_live_data_and_shows_a_scale_up(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    server = start_server(tmp_path, "builtin:sleep?ms=50", "--max-batch-size", "1",
                          "--min-workers", "1", "--max-workers", "3",
                          "--autoscale-interval-s", "0.2", "--scale-in-delay-s", "30")
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/dashboard")
            load = threading.Thread(target=_load, args=(
                f"{server.url}/v2/models/sleep/infer", 50, 4))
            load.start()
            page.wait_for_function("Number(document.body.dataset.updates || 0) >= 3",
                                   timeout=20_000)
            page.wait_for_selector("#decisions td.up", timeout=20_000)
            load.join()
            page.wait_for_function(
                "window.ebbCharts.traffic && window.ebbCharts.traffic.data[1].length >= 2",
                timeout=10_000)
            assert "sleep" in page.inner_text("#model")
            assert "→" in page.inner_text("#decisions")
            _check_charts(page)
            page.wait_for_timeout(2_000)
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            if os.environ.get("EBB_SCREENSHOT_DIR"):  # refreshes the README's picture
                page.screenshot(path=str(Path(os.environ["EBB_SCREENSHOT_DIR"]) /
                                         "dashboard.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
    assert errors == []
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def _check_charts(page: Any) -> None:
    """uPlot charts: canvases, axes with ticks, legends, wall-clock times, values on hover;
    the ready line drawn over the desired one; decision times on the wall clock too."""
    for chart in ("traffic", "latency", "queue", "workers", "anomaly"):
        assert page.locator(f"#{chart} .uplot canvas").count() >= 1
        assert page.locator(f"#{chart} .u-axis").count() == 2
    legend = page.inner_text("#traffic .u-legend")
    assert "arrivals/s" in legend and "answered/s" in legend
    assert "SLO 100 ms" in page.inner_text("#latency .u-legend")
    labels = page.evaluate("window.ebbCharts.workers.series.map(s => s.label)")
    assert labels.index("ready") > labels.index("desired")  # drawn later: on top
    started, first = page.evaluate(
        "[window.ebbCharts.traffic.data[0][0], Date.now() / 1000]")
    assert abs(first - started) < 120  # x values are wall-clock Unix seconds
    ticks = page.evaluate("window.ebbCharts.traffic.axes[0]._values")  # drawn on the canvas
    assert ticks and all(re.fullmatch(r"\d{2}:\d{2}:\d{2}", t) for t in ticks), ticks
    box = page.locator("#traffic .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    hovered = page.inner_text("#traffic .u-legend")
    assert re.search(r"arrivals/s\s*[\d.]+", hovered), hovered  # the value under the cursor
    decision_time = page.inner_text("#decisions tr td")
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", decision_time.strip()), decision_time


def test_uplot_ships_inside_the_package_with_its_licence() -> None:
    from importlib import resources

    static = resources.files("ebb.dashboard").joinpath("static")
    assert "uPlot" in static.joinpath("uPlot.iife.min.js").read_text()[:2000]
    assert static.joinpath("uPlot.min.css").read_text().startswith(".uplot")
    assert "MIT License" in static.joinpath("uPlot-LICENSE.txt").read_text()
    page = static.joinpath("dashboard.html").read_text()
    assert "http" not in page.replace("http-equiv", "")  # no network at run time
