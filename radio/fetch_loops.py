"""Looped files: finding the cycle a recording repeats, and keeping one cycle of it.

Some packages (Planet Blupi) ship each tune as one cycle played many times over.
`find_loop_period` finds that cycle: a pure function of the samples, no I/O. `place_one_cycle`
decodes a looped source, cuts one cycle (fading out where the next copy would begin) and writes
it as FLAC; a file with no repeating cycle is placed whole.

Only fetching uses the loop finder, so it lives here; it takes arrays, never paths, so it can
move beside the analysis functions when a second user appears. Nothing here decides which
packages loop (`PackageSpec.loops` in `radio.fetch_catalog`) or writes sidecars.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import mutagen
import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from radio.audio import decode
from radio.fetch_sources import MusicSource, atomic_write, place_source

if TYPE_CHECKING:
    from radio.fetch import Progress

__all__ = ["find_loop_period", "place_one_cycle"]


_LOOP_SR = 8000  # Hz: enough to tell a repeat from a look-alike, 1/8 ms resolution
_LOOP_MIN_SECONDS = 10.0  # shorter repeats are bars, not the cycle of a whole piece
_LOOP_FADE_SECONDS = 0.02


def find_loop_period(y: np.ndarray, *, sr: int, min_seconds: float = _LOOP_MIN_SECONDS,
                     threshold: float = 0.9) -> int | None:
    """Length in samples of the cycle that ``y`` repeats from start to end, or None.

    Parameters
    ----------
    y : np.ndarray
        mono (n,) or (channels, n) samples; a few kHz sampling rate is plenty.
    sr : int
        sampling rate of ``y`` in Hz.
    min_seconds : float
        shortest cycle considered; musical bars repeat too, but they are not the cycle.
    threshold : float
        normalised cross-correlation (0..1) that counts as "the same audio"; a lossy codec
        leaves about 0.98 between two copies of one cycle.

    A head window (starting 1 s into the sound, where the previous cycle's reverb tail no
    longer differs) is cross-correlated with the whole signal; each lag where it matches is
    then checked all along the file (windows every few seconds must match the window one lag
    later), and the shortest lag that passes is the period. A piece that merely repeats a
    phrase, or that lasts less than two cycles, gives None.
    """
    x = np.asarray(y, dtype=np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x.reshape(-1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return None
    min_lag = int(min_seconds * sr)
    w = min_lag // 2
    t0 = int(np.argmax(np.abs(x) > 0.01 * peak)) + sr
    if x.size < t0 + 2 * min_lag:
        return None
    head = x[t0 : t0 + w]
    tail = x[t0:]
    corr = fftconvolve(tail, head[::-1], mode="valid")
    csum = np.concatenate([[0.0], np.cumsum(tail * tail)])
    energy = (csum[w:] - csum[:-w]) * float(head @ head)
    ncc = corr / np.sqrt(np.maximum(energy, 1e-20))
    hits = np.flatnonzero(ncc[min_lag:] >= threshold) + min_lag
    for run in np.split(hits, np.flatnonzero(np.diff(hits) > 1) + 1) if hits.size else []:
        lag = int(run[np.argmax(ncc[run])])
        if _periodicity(x, lag=lag, sr=sr, start=t0) >= threshold:
            return lag
    return None


def _periodicity(x: np.ndarray, *, lag: int, sr: int, start: int) -> float:
    """Median similarity of 2 s windows with the window ``lag`` later, all along ``x``."""
    w = 2 * sr
    stops = x.size - lag - w
    if stops <= start:
        return 0.0
    scores = []
    for p in np.linspace(start, stops, num=max(4, min(32, (stops - start) // (5 * sr)))):
        a, b = x[int(p) : int(p) + w], x[int(p) + lag : int(p) + lag + w]
        ea, eb = float(a @ a), float(b @ b)
        if min(ea, eb) > 1e-8 * w:  # silence matches anything: ignore it
            scores.append(float(a @ b) / np.sqrt(ea * eb))
    return float(np.median(scores)) if scores else 0.0


def place_one_cycle(src: MusicSource, target: Path, previous: dict[Path, dict[str, Any]],
                    say: Progress) -> tuple[Path, dict[str, Any]]:
    """Lay out looped ``src``: one cycle as ``<stem>.flac``, or the file as it is if none.

    Returns the path written and the manifest facts (lengths before/after, match scores); an
    output from an earlier run is reused without decoding again.
    """
    flac = target.with_suffix(".flac")
    for done in (flac, target):
        if done in previous and done.is_file():
            return done, previous[done]
    say(f"{src.rel.name}: looking for its cycle")
    y = decode(src.path, sr=_LOOP_SR, channels=1, timeout=900)[0]
    original = y.size / _LOOP_SR
    lag = find_loop_period(y, sr=_LOOP_SR)
    if lag is None:
        say(f"{src.rel.name}: no repeating cycle, kept whole ({original:.1f} s)")
        place_source(src, target)
        return target, {"original_seconds": round(original, 3), "cycle_seconds": None}
    meta = mutagen.File(src.path)
    rate = int(getattr(meta.info, "sample_rate", 0) or 44100) if meta else 44100
    channels = int(getattr(meta.info, "channels", 0) or 2) if meta else 2
    seconds = lag / _LOOP_SR
    n = round(seconds * rate)
    audio = decode(src.path, sr=rate, channels=channels, timeout=900, duration=seconds + 0.1)
    audio = audio[:, :n].copy()
    # The cycle's last sound rings on into the next copy; cut there, it would click.
    fade = min(n, int(_LOOP_FADE_SECONDS * rate))
    audio[:, n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    with atomic_write(flac) as tmp:
        sf.write(tmp, np.clip(audio.T, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    w = 2 * _LOOP_SR
    seam = np.corrcoef(y[:w], y[lag : lag + w])[0, 1]  # what follows the cut, vs its start
    say(f"{src.rel.name}: {original:.1f} s -> one cycle of {seconds:.1f} s")
    return flac, {
        "original_seconds": round(original, 3), "cycle_seconds": round(seconds, 3),
        "cycles": round(original / seconds, 2), "seam_match": round(float(seam), 4),
        "loop_match": round(_periodicity(y, lag=lag, sr=_LOOP_SR, start=0), 4),
    }
