"""Fixtures shared by every test package: a seeded ``rng``, a throw-away ``RADIO_HOME``, and a
writer of small generated tracks with a clear beat (so that real analysis succeeds on them)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from radio.config import Settings
from radio.store import Store

SR = 22050

MakeTrack = Callable[..., Path]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("RADIO_HOME", str(home))
    return Settings(home=home)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings) as db:
        yield db


def beat_track(*, seconds: float, bpm: float, seed: int, sr: int = SR) -> np.ndarray:
    """Stereo float32 (2, n): a kick on every beat (accented bar starts), hats, a chord bed.

    ``seed`` changes the chord and the noise, so two tracks never share their bytes.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    t = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
    hat = rng.standard_normal(int(0.04 * sr)) * np.exp(-np.arange(int(0.04 * sr)) / (0.008 * sr))
    period = 60.0 / bpm
    for i, start in enumerate(np.arange(0.0, seconds, period / 2)):
        at = int(start * sr)
        sound, gain = (kick, 1.0 if i % 8 == 0 else 0.6) if i % 2 == 0 else (hat, 0.15)
        m = min(len(sound), n - at)
        y[at : at + m] += gain * sound[:m]
    full = np.arange(n) / sr
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    for ratio in (1.0, 1.26, 1.5):
        y += 0.08 * np.sin(2 * np.pi * root * ratio * full + rng.uniform(0, 6.28))
    y += 0.002 * rng.standard_normal(n)
    y = 0.8 * y / np.max(np.abs(y))
    return np.stack([y, np.roll(y, 7)]).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    """Write (channels, n) samples; WAV/FLAC/OGG by libsndfile, MP3/M4A/Opus through ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".wav", ".flac", ".ogg"):
        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[suffix]
        sf.write(path, y.T, sr, format=fmt)
        return path
    wav = path.with_name(path.name + ".tmp.wav")
    sf.write(wav, y.T, sr, format="WAV", subtype="FLOAT")
    fmt = {".mp3": "mp3", ".m4a": "ipod", ".opus": "opus", ".aac": "adts"}[suffix]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
                    "-f", fmt, f"file:{path}"], check=True)
    wav.unlink()
    return path


@pytest.fixture
def make_track() -> MakeTrack:
    """``make_track(path, seconds=10, bpm=120, seed=0)`` writes a beat track and returns path."""

    def make(path: Path, *, seconds: float = 10.0, bpm: float = 120.0, seed: int = 0) -> Path:
        return write_audio(path, beat_track(seconds=seconds, bpm=bpm, seed=seed))

    return make
