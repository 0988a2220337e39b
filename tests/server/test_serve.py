"""End to end over loopback: `radio serve` on a small library, a station, 20 s of its MP3 stream
read by a plain HTTP client while a skip lands, decoded by ffmpeg; ICY metadata; shared buffer."""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import httpx
import numpy as np

from tests.server.conftest import ADMIN_TOKEN, Served
from tests.server.test_broadcast import parse_icy


def read_stream(url: str, seconds: float, *, headers: dict[str, str] | None = None
                ) -> tuple[bytes, float, httpx.Headers]:
    """(bytes read in ``seconds`` of wall time, seconds to the first byte, response headers)."""
    start = time.monotonic()
    first = None
    data = bytearray()
    with httpx.stream("GET", url, headers=headers, timeout=10) as res:
        assert res.status_code == 200, res.read()
        for chunk in res.iter_bytes():
            if first is None:
                first = time.monotonic() - start
            data += chunk
            if time.monotonic() - start >= seconds:
                break
        return bytes(data), first if first is not None else float("inf"), res.headers


def decode(mp3: bytes) -> tuple[np.ndarray, str]:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1",
                          "-ar", "44100", "pipe:1"], input=mp3, capture_output=True, check=True)
    return np.frombuffer(out.stdout, np.float32), out.stderr.decode()


def test_stream_is_continuous_audible_mp3_and_a_skip_cuts_on_air(served: Served) -> None:
    t0 = time.monotonic()
    res = httpx.post(f"{served.url}/stations", json={"seed_track": "Drive 0"}, timeout=60)
    created = time.monotonic() - t0
    assert res.status_code == 201, res.text
    st = res.json()
    planned_exit = st["now_playing"]["item"]["exit_time"]
    skip_at = 13.0
    skipped: list[dict[str, Any]] = []

    def skip() -> None:
        r = httpx.post(f"{served.url}/stations/{st['id']}/feedback", json={"kind": "skip"})
        skipped.append(r.json())

    timer = threading.Timer(skip_at, skip)
    timer.start()
    try:
        mp3, ttfb, headers = read_stream(st["stream_url"], 20.0)
    finally:
        timer.cancel()
    assert headers["content-type"] == "audio/mpeg"
    assert ttfb <= 1.5, f"first audio {ttfb:.2f} s after the station was created"
    y, errors = decode(mp3)
    assert errors == ""  # every frame decodes
    seconds = y.size / 44100
    # 20 s read in real time, plus the head start a joining listener gets.
    assert 19.5 <= seconds <= 24.0, seconds
    win = 4410
    rms = np.sqrt(np.mean(y[: y.size // win * win].reshape(-1, win) ** 2, axis=1))
    assert 20 * np.log10(rms.min() + 1e-12) > -45.0, "a silent gap in the stream"
    # The skip was taken and the song on air got a new exit within a few seconds of it.
    assert skipped and skipped[0]["skip_pending"] is True
    stats = httpx.get(f"{served.url}/stats",
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    row = next(s for s in stats["stations"] if s["id"] == st["id"])
    assert row["skips"] == 1
    # Rendered well ahead of the listeners: the next two songs have begun (50 s songs here).
    assert row["songs_rendered_ahead"] >= 2 and row["rendered_ahead_s"] > 20.0
    now = httpx.get(f"{served.url}/stations/{st['id']}").json()
    first = now["history"][0]["item"] if now["now_playing"]["item"]["index"] else None
    exit_now = (now["now_playing"]["item"]["exit_time"] if first is None else None)
    if exit_now is not None:
        assert exit_now < planned_exit
        assert exit_now <= 0.2 + skip_at + 2.0 + 2.5 + 4.0  # live + margin + room + a bar
    print(f"station created in {created:.2f} s, first byte {ttfb:.2f} s later")


def test_icy_metadata_and_shared_buffer(served: Served) -> None:
    st = httpx.post(f"{served.url}/stations", json={"seed_track": "Calm 1"}, timeout=60).json()
    title = f"{st['now_playing']['item']['artist']} - {st['now_playing']['item']['title']}"
    plain: list[bytes] = []
    reader = threading.Thread(target=lambda: plain.append(read_stream(st["stream_url"], 5)[0]))
    reader.start()
    counts: list[int] = []
    poll = threading.Timer(2.2, lambda: counts.append(
        httpx.get(f"{served.url}/stations/{st['id']}").json()["listeners"]))
    time.sleep(1.0)
    poll.start()
    data, _, headers = read_stream(st["stream_url"], 2.5, headers={"Icy-MetaData": "1"})
    poll.join()
    reader.join()
    listeners = counts[0]
    metaint = int(headers["icy-metaint"])
    audio, metas = parse_icy(data, metaint)
    assert metas and metas[0] == f"StreamTitle='{title}';"
    assert decode(audio)[1] == ""  # what is left after removing the metadata is clean MP3
    assert listeners == 2  # both clients hang on the one broadcast
    # The plain client got no metadata bytes: its bytes decode whole.
    assert decode(plain[0])[1] == ""
    assert httpx.delete(f"{served.url}/stations/{st['id']}").status_code == 204
