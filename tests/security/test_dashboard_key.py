"""The live dashboard under API keys, in Debian's headless Chromium: it asks for a key once,
keeps it in sessionStorage, and asks again when a key lacks the observe role."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Debian's chromium is missing: `make test` installs it")


def _create(keys: Path, key_id: str, role: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file",
                           str(keys), "--id", key_id, "--role", role],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_the_page_asks_for_a_key_and_then_shows_data(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    keys = tmp_path / "keys.toml"
    observer, inferrer = _create(keys, "viewer", "observe"), _create(keys, "ci", "infer")
    server = start_server(tmp_path, "builtin:double", "--auth-keys-file", str(keys))
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/dashboard")
            page.wait_for_selector("#auth:not([hidden])", timeout=10_000)
            assert "API key" in page.inner_text("#auth-message")
            page.fill("#auth-key", inferrer)
            page.click("#auth button")
            page.wait_for_selector("#auth:not([hidden])", timeout=10_000)
            page.wait_for_function(
                "document.getElementById('auth-message').textContent.includes('observe')",
                timeout=10_000)
            page.fill("#auth-key", observer)
            page.click("#auth button")
            page.wait_for_function("Number(document.body.dataset.updates || 0) >= 2",
                                   timeout=20_000)
            assert page.evaluate("sessionStorage.getItem('ebb-api-key')") == observer
            assert "double" in page.inner_text("#model")
            page.reload()  # the same tab keeps the key: no second prompt
            page.wait_for_function("Number(document.body.dataset.updates || 0) >= 1",
                                   timeout=20_000)
            assert page.is_hidden("#auth")
            browser.close()
    finally:
        server.stop()
    # the browser reports each refused fetch as a console error; nothing else may appear
    assert [e for e in errors if "401" not in e and "403" not in e] == []
