"""The web player in Firefox: headless Debian ``firefox-esr``, driven over WebDriver BiDi (its own
remote agent; no geckodriver), starts a prompt station, plays it (the audio element's currentTime
advances) and shows the now-playing title; a screenshot is saved under the test's tmp dir. The
same checks as the Chromium test, in the other engine."""

from __future__ import annotations

import time
from pathlib import Path

from tests.server.bidi import Firefox
from tests.server.conftest import Served, free_port

PLAYER = "document.querySelector('#player')"


def test_prompt_station_plays_in_firefox(served: Served, tmp_path: Path) -> None:
    with Firefox(port=free_port(), profile=tmp_path / "profile") as ff:
        ff.navigate(served.url + "/")
        assert ff.evaluate("document.querySelector('h1').textContent") == "radio-jockey"
        ff.type_text("#prompt", "calm ambient piano")
        assert ff.evaluate("document.querySelector('#prompt').value") == "calm ambient piano"
        ff.click("#start")
        # Now playing shows a song of the library; the next songs and junctions are drawn.
        title = ff.wait_for(
            "(document.querySelector('#now-title').textContent.match(/^(Calm|Drive) \\d$/)"
            " || [''])[0]", timeout=30)
        artist = ff.evaluate("document.querySelector('#now-artist').textContent")
        assert artist.endswith(title[-1]), (title, artist)  # "Calm 0" is by "Calm Artist 0"
        assert ff.evaluate("document.querySelector('#upcoming li')?.offsetHeight > 0")
        assert ff.evaluate("document.querySelectorAll('#timeline .junction').length") >= 1
        # The audio element plays: currentTime advances in real time.
        ff.wait_for(f"{PLAYER}.currentTime > 1.0", timeout=20)
        t1, w1 = ff.evaluate(f"{PLAYER}.currentTime"), time.monotonic()
        time.sleep(2.0)
        t2, w2 = ff.evaluate(f"{PLAYER}.currentTime"), time.monotonic()
        print(f"currentTime {t1:.2f} -> {t2:.2f} over {w2 - w1:.2f} s")
        assert 0.6 * (w2 - w1) < t2 - t1 < 1.5 * (w2 - w1), (t1, t2, w2 - w1)  # at speed 1
        assert ff.evaluate(f"{PLAYER}.paused") is False
        # Firefox keeps the clock going when its audio output fails, but flags a MediaError.
        assert ff.evaluate(f"{PLAYER}.error && ({PLAYER}.error.message || 'error')") is None
        shot = tmp_path / "player.png"
        ff.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 10_000
        assert ff.page_errors() == []
