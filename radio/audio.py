"""Decoding: the one place that runs ffmpeg to turn a file into samples.

`decode` reads any format ffmpeg knows into float32 arrays at a chosen rate, with a timeout so a
decoder that hangs on a hostile file is killed, and maps every failure to `AudioLoadError` with a
short reason word that ingestion records. It never analyses and never touches the store.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from radio.errors import AudioLoadError, ConfigError

__all__ = ["decode", "ffmpeg_path", "probe_duration"]


def ffmpeg_path() -> str:
    """The ffmpeg executable, or a `ConfigError` that says how to install it."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise ConfigError("ffmpeg is not installed; run `make system` (apt-get install ffmpeg)")
    return exe


def decode(
    path: Path | str,
    *,
    sr: int = 22050,
    channels: int = 2,
    timeout: float = 120.0,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to float32 samples of shape (channels, n) at ``sr`` Hz.

    Mono sources are duplicated to ``channels``; more channels are downmixed by ffmpeg.
    ``offset``/``duration`` (seconds) select a window without decoding the rest.

    Raises
    ------
    AudioLoadError
        reason ``missing``, ``unreadable``, ``empty``, ``not-audio`` (ffmpeg found no audio
        stream or could not decode any), ``timeout`` (killed after ``timeout`` seconds).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError as exc:
        raise AudioLoadError(p, "missing", str(exc)) from exc
    except OSError as exc:
        raise AudioLoadError(p, "unreadable", str(exc)) from exc
    if not p.is_file():
        raise AudioLoadError(p, "not-a-file")
    if size == 0:
        raise AudioLoadError(p, "empty", "0 bytes")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise AudioLoadError(p, "unreadable", str(exc)) from exc

    cmd = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    if offset > 0:
        cmd += ["-ss", f"{offset:.6f}"]
    # "file:" stops ffmpeg from reading names with a colon as a protocol.
    cmd += ["-i", f"file:{p.resolve()}", "-map", "0:a:0", "-vn", "-sn", "-dn"]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    # WAV (not raw) output tells us the source's channel count: ffmpeg's own mono->stereo upmix
    # attenuates by 3 dB, which would bias loudness, so channels are matched here instead.
    cmd += ["-ar", str(sr), "-map_metadata", "-1", "-fflags", "+bitexact",
            "-f", "wav", "-acodec", "pcm_f32le", "pipe:1"]
    # The samples go to an unnamed temporary file, not a pipe: ffmpeg writes a pipe a few KB at
    # a time, and polling thousands of small reads cost this process a third of the decoder's
    # own CPU time on a 4-minute song. Only ffmpeg's few lines of errors come through a pipe.
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise AudioLoadError(p, "timeout", f"decoder killed after {timeout:g} s") from exc
        out.seek(0)
        data = out.read()
    parsed = _parse_wav(data)
    if parsed is None or parsed[1].size == 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        msg = err[-1] if err else f"ffmpeg exit {proc.returncode}"
        raise AudioLoadError(p, "not-audio", msg[:300] or "no audio samples decoded")
    src_channels, samples = parsed
    n = samples.size // src_channels
    y = samples[: n * src_channels].reshape(n, src_channels).T
    if src_channels != channels:
        mono = y[0].copy()  # summed channel by channel: a mean over the short strided axis is
        for row in y[1:]:  # several times slower, and gives the same sums in the same order
            mono += row
        mono /= np.float32(src_channels)
        y = np.repeat(mono[None, :], channels, axis=0) if channels > 1 else mono[None, :]
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return y


def _parse_wav(data: bytes) -> tuple[int, np.ndarray] | None:
    """(channels, interleaved float32 samples) from ffmpeg's streamed WAV, or None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, channels = 12, 0
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if tag == b"fmt ":
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
        elif tag == b"data":
            if channels <= 0:
                return None
            # A piped WAV cannot seek back to fill in the size: take everything that follows.
            end = len(data) if size in (0, 0xFFFFFFFF) or body + size > len(data) else body + size
            usable = (end - body) // 4 * 4
            return channels, np.frombuffer(data, dtype="<f4", count=usable // 4, offset=body)
        pos = body + size + (size & 1)
    return None


def probe_duration(path: Path | str, *, timeout: float = 30.0) -> float:
    """Duration in seconds from the container header (cheap; may be approximate)."""
    exe = shutil.which("ffprobe")
    if exe is None:
        raise ConfigError("ffprobe is not installed; run `make system` (apt-get install ffmpeg)")
    cmd = [exe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
           f"file:{Path(path).resolve()}"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, text=True)
        return float(out.stdout.strip())
    except (subprocess.TimeoutExpired, ValueError) as exc:
        raise AudioLoadError(path, "not-audio", "no duration in header") from exc
