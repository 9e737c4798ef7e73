"""The live dashboard page in a real headless Chromium (Debian's), driven by Playwright.

Playwright is pointed at the system browser (/usr/bin/chromium); no browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

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
                "document.querySelectorAll('#traffic polyline.series').length >= 2",
                timeout=10_000)
            assert "sleep" in page.inner_text("#model")
            assert "→" in page.inner_text("#decisions")
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
