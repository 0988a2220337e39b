"""The web player in a real browser: headless Chromium (Debian's, driven by Playwright) starts a
prompt station, plays it (the audio element's currentTime advances) and shows the now-playing
title; a screenshot is saved under the test's tmp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.server.conftest import Served


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is not installed; run `make system`"
    return exe


def test_prompt_station_plays_in_chromium(served: Served, tmp_path: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=[
            "--autoplay-policy=no-user-gesture-required", "--no-sandbox",
            "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(served.url + "/")
            expect(page.locator("h1")).to_have_text("radio-jockey")
            page.fill("#prompt", "calm ambient piano")
            page.click("#start")
            # Now playing shows a song of the library; the next songs and junctions are drawn.
            page.wait_for_function(
                "document.querySelector('#now-title').textContent.match(/^(Calm|Drive) \\d$/)",
                timeout=30_000)
            title = page.inner_text("#now-title")
            artist = page.inner_text("#now-artist")
            assert artist.endswith(title[-1])  # "Calm 0" is by "Calm Artist 0"
            expect(page.locator("#upcoming li").first).to_be_visible()
            assert page.locator("#timeline .junction").count() >= 1
            # The audio element plays: currentTime advances in real time.
            page.wait_for_function("document.querySelector('#player').currentTime > 1.0",
                                   timeout=20_000)
            t1 = page.evaluate("document.querySelector('#player').currentTime")
            page.wait_for_timeout(2000)
            t2 = page.evaluate("document.querySelector('#player').currentTime")
            assert t2 - t1 > 1.2, (t1, t2)
            assert page.evaluate("document.querySelector('#player').paused") is False
            shot = tmp_path / "player.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert errors == []
        finally:
            browser.close()
