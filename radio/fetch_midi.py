"""General MIDI music rendered to audio with fluidsynth.

Some free games ship their music as General MIDI, as notes rather than sound: OpenTTD's OpenMSX
as ``.mid`` files, Freedoom as ``D_*`` lumps inside its ``.wad`` archives (found by
`radio.fetch_sources`). `render_midi` plays a MIDI file through a General MIDI soundfont with
fluidsynth, returning float audio. `render_source`
puts one package file through it into a FLAC track, alternating the soundfonts from track to
track (`radio.fetch_catalog.SOUNDFONTS`), so that one piano or drum kit does not stand for all.

Audio is rendered as 32-bit float and peak-normalised to `PEAK` before it is written as 16-bit
FLAC, so a dense arrangement never clips. A file whose notes never end (a missing note-off keeps
fluidsynth going) is cut at `MAX_SECONDS`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from radio.errors import AudioLoadError, FetchError
from radio.fetch_sources import MusicSource, atomic_write, source_bytes

__all__ = ["MAX_SECONDS", "PEAK", "RENDER_SR", "render_midi", "render_source"]


RENDER_SR = 22050
"""Hz: the rate GM music is rendered at (the models and analysis run at 22.05 kHz or below)."""
MAX_SECONDS = 900.0
"""A rendering is cut here: longer means notes that never end, not a longer piece."""
PEAK = 10 ** (-1.0 / 20)
"""Renderings are scaled so that their loudest sample sits at -1 dBFS."""
_GAIN = 0.6  # fluidsynth's master gain; float output, so only the level before scaling
_SILENT = 1e-4  # -80 dBFS: the release tail after the last note is trimmed below this
_TIMEOUT_S = 600.0


def render_midi(midi: Path, *, soundfont: Path, sr: int = RENDER_SR,
                max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Render ``midi`` through ``soundfont``: float32 stereo (2, n) as fluidsynth plays it.

    The raw output is watched as it grows and fluidsynth is stopped once ``max_seconds`` have
    been written, since a note that never gets its note-off keeps it rendering forever.

    Raises
    ------
    FetchError
        fluidsynth is not installed.
    AudioLoadError
        fluidsynth wrote no audio (not a MIDI file, or a soundfont it cannot read).
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise FetchError("fluidsynth is not installed; rendering MIDI music needs it "
                         "(apt-get install fluidsynth, or `make system-dev`)")
    limit = int(max_seconds * sr) * 2 * 4  # float32 stereo bytes
    with tempfile.TemporaryDirectory() as tmp:
        raw, log = Path(tmp) / "out.raw", Path(tmp) / "err.log"
        cmd = [exe, "-ni", "-q", "-T", "raw", "-O", "float", "-E", "little", "-g", str(_GAIN),
               "-F", str(raw), "-r", str(sr), str(soundfont), str(midi)]
        # Messages go to a file: a pipe nobody reads while polling fills up (a MIDI asking for
        # many presets the soundfont lacks warns for each) and stalls fluidsynth.
        with open(log, "wb") as err_file:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
            deadline = time.monotonic() + _TIMEOUT_S
            while proc.poll() is None:
                if (raw.exists() and raw.stat().st_size >= limit) or time.monotonic() > deadline:
                    proc.kill()
                time.sleep(0.02)
        err = log.read_text("utf-8", "replace")
        data = np.fromfile(raw, dtype="<f4")[: limit // 4] if raw.exists() else np.zeros(0)
    if data.size < 2:
        why = " / ".join(err.strip().splitlines()[-2:])[:200] or "no audio written"
        raise AudioLoadError(midi, "not-midi", why)
    y = data[: data.size // 2 * 2].reshape(-1, 2).T
    return np.ascontiguousarray(np.nan_to_num(y), dtype=np.float32)


def render_source(src: MusicSource, target: Path, *, soundfont: Path,
                  previous: dict[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    """Render one MIDI source into ``<target stem>.flac``; its manifest facts.

    An output from an earlier run with the same soundfont is reused without rendering again.

    Raises
    ------
    AudioLoadError
        the source is not MIDI fluidsynth can play, or it renders to silence.
    """
    flac = target.with_suffix(".flac")
    old = previous.get(flac)
    if old is not None and old.get("soundfont") == soundfont.name and flac.is_file():
        return flac, {k: old[k] for k in ("soundfont", "rendered_peak_db") if k in old}
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "in.mid"
        mid.write_bytes(source_bytes(src))
        y = render_midi(mid, soundfont=soundfont)
    loud = np.flatnonzero(np.max(np.abs(y), axis=0) > _SILENT)
    if loud.size == 0:
        raise AudioLoadError(src.path, "silent", "the MIDI renders to silence")
    y = y[:, : loud[-1] + 1 + RENDER_SR // 2]  # keep half a second of the release tail
    peak = float(np.max(np.abs(y)))
    with atomic_write(flac) as tmp_flac:
        sf.write(tmp_flac, (y * (PEAK / peak)).T, RENDER_SR, format="FLAC", subtype="PCM_16")
    return flac, {"soundfont": soundfont.name, "rendered_peak_db": round(20 * np.log10(peak), 2)}
