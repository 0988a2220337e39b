"""Incremental encoders for the live stream: feed PCM, get whole MP3 frames or Ogg pages.

`Encoder("mp3")` keeps one ffmpeg process (libmp3lame, 192 kbps CBR by default; or libopus in
Ogg for ``"opus"``) for the life of a stream. A writer thread feeds its stdin and a reader thread
drains its stdout, so `Encoder.feed` never blocks on a full pipe; each call returns the encoded
bytes that are ready, cut at frame (MP3) or page (Ogg) boundaries so that any prefix of the
output, and any suffix starting at a returned chunk, is a valid stream an HTTP client can join.
`Encoder.close` flushes the rest. This and `radio.audio` are the only modules that run ffmpeg.

`mp3_frame_sizes` is the one MP3 frame-header parser: the encoder cuts its output with it and the
live pacer (`radio.live_pacer`) times whole frames with it.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
from typing import Literal

import numpy as np

from radio.audio import ffmpeg_path
from radio.errors import RadioError

__all__ = ["Encoder", "Format", "mp3_frame_sizes", "pcm_s16le"]

Format = Literal["mp3", "opus"]

# Layer III bitrates (kbit/s) by the header's bitrate index, for MPEG-1 and for MPEG-2 and 2.5;
# sample rates (Hz) by its sample-rate index, keyed by its version bits (3 MPEG-1, 2 MPEG-2,
# 0 MPEG-2.5; 1 is reserved).
_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_KBPS_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def pcm_s16le(chunk: np.ndarray) -> bytes:
    """Interleaved 16-bit little-endian bytes of a float32 (frames, channels) chunk."""
    data: bytes = (np.clip(chunk, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()
    return data


def mp3_frame_sizes(buf: bytes | bytearray, *, mpeg1_only: bool = False) -> list[int]:
    """Sizes in bytes of the whole MPEG audio layer III frames at the start of ``buf``.

    A frame is ``144000 * kbps // rate + padding`` bytes for MPEG-1 (1152 samples) and
    ``72000 * kbps // rate + padding`` for MPEG-2 and 2.5 (576 samples). The list stops before a
    frame that ``buf`` holds only in part, so ``sum`` of it is the longest prefix of whole frames.

    Parameters
    ----------
    buf : bytes
        MP3 as an encoder writes it: frames from the first byte, no ID3 tag, no free format.
    mpeg1_only : bool
        Accept MPEG-1 frames only (for a caller that counts 1152 samples a frame).

    Raises
    ------
    RadioError
        At a header that is not layer III (MPEG-1 with ``mpeg1_only``) with a valid bitrate and
        sample rate; the message names its byte offset.
    """
    sizes: list[int] = []
    pos = 0
    while pos + 4 <= len(buf):
        h = int.from_bytes(buf[pos : pos + 4], "big")
        version, layer = (h >> 19) & 3, (h >> 17) & 3
        br_i, sr_i, pad = (h >> 12) & 15, (h >> 10) & 3, (h >> 9) & 1
        if (h >> 21 != 0x7FF or version == 1 or (mpeg1_only and version != 3) or layer != 1
                or br_i in (0, 15) or sr_i == 3):
            kind = "an MPEG-1" if mpeg1_only else "an MPEG"
            raise RadioError(f"not {kind} layer III frame at byte {pos}")
        rate = _MP3_RATES[version][sr_i]
        if version == 3:
            size = 144000 * _MP3_KBPS[br_i] // rate + pad
        else:
            size = 72000 * _MP3_KBPS_V2[br_i] // rate + pad
        if pos + size > len(buf):
            break
        sizes.append(size)
        pos += size
    return sizes


def _ogg_pages(buf: bytearray) -> int:
    """Length of the longest prefix of ``buf`` made of whole Ogg pages."""
    pos = 0
    while pos + 27 <= len(buf):
        if buf[pos : pos + 4] != b"OggS":
            raise RadioError(f"the Ogg encoder wrote a bad page at byte {pos}")
        n_seg = buf[pos + 26]
        if pos + 27 + n_seg > len(buf):
            break
        size = 27 + n_seg + sum(buf[pos + 27 : pos + 27 + n_seg])
        if pos + size > len(buf):
            break
        pos += size
    return pos


class Encoder:
    """One encoded stream: `feed` float32 (frames, channels) PCM, get whole frames back.

    Parameters
    ----------
    fmt : "mp3" or "opus"
        MP3 (libmp3lame, CBR) or Opus in Ogg (libopus, resampled to 48 kHz by ffmpeg).
    bitrate : int
        kbit/s; default 192 for MP3, 128 for Opus.
    sr, channels : int
        Of the PCM fed in.
    quality : int
        LAME's algorithm quality, 0 (best, slowest) to 9; 5 keeps a live stream well ahead of
        real time on one core (about 1.5x faster than LAME's default 3 at 192 kbps).
    """

    def __init__(self, fmt: Format = "mp3", *, bitrate: int | None = None, sr: int = 44100,
                 channels: int = 2, quality: int = 5) -> None:
        if fmt not in ("mp3", "opus"):
            raise RadioError(f"unknown stream format {fmt!r}; use mp3 or opus")
        self.fmt: Format = fmt
        self.channels = channels
        kbps = bitrate or (192 if fmt == "mp3" else 128)
        codec = (["-c:a", "libmp3lame", "-b:a", f"{kbps}k", "-compression_level", str(quality),
                  "-f", "mp3", "-write_xing", "0",
                  "-id3v2_version", "0"] if fmt == "mp3" else
                 ["-c:a", "libopus", "-b:a", f"{kbps}k", "-f", "ogg"])
        cmd = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error",
               "-f", "f32le", "-ar", str(sr), "-ac", str(channels), "-i", "pipe:0",
               *codec, "-map_metadata", "-1", "-flush_packets", "1", "pipe:1"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        self._inbox: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._out = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer.start()
        self._reader.start()

    def _write(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (data := self._inbox.get()) is not None:
                stdin.write(data)
        except (BrokenPipeError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        while data := stdout.read1(1 << 16):  # type: ignore[attr-defined]  # a BufferedReader
            with self._lock:
                self._out += data

    def _take(self, *, everything: bool = False) -> bytes:
        with self._lock:
            if everything:
                n = len(self._out)
            else:
                n = self._mp3_frames() if self.fmt == "mp3" else _ogg_pages(self._out)
            data = bytes(self._out[:n])
            del self._out[:n]
        return data

    def _mp3_frames(self) -> int:
        try:
            return sum(mp3_frame_sizes(self._out))
        except RadioError as exc:
            raise RadioError(f"the MP3 encoder wrote a bad stream: {exc}") from exc

    def feed(self, pcm: np.ndarray) -> bytes:
        """Queue ``pcm`` (float32 (frames, channels)) and return the encoded bytes ready now."""
        if self._closed:
            raise RadioError("this encoder is closed")
        if self._proc.poll() is not None:
            raise RadioError(f"the {self.fmt} encoder stopped: {self._stderr()}")
        self._inbox.put(np.ascontiguousarray(pcm, dtype="<f4").tobytes())
        return self._take()

    def close(self) -> bytes:
        """Flush the encoder and return the last bytes; the process is gone afterwards."""
        if self._closed:
            return b""
        self._closed = True
        self._inbox.put(None)
        self._writer.join()
        self._reader.join()
        code = self._proc.wait()
        if code != 0:
            raise RadioError(f"the {self.fmt} encoder failed (exit {code}): {self._stderr()}")
        return self._take(everything=True)

    def _stderr(self) -> str:
        err = self._proc.stderr.read() if self._proc.stderr else b""
        lines = err.decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self._closed = True
            self._inbox.put(None)
            self._proc.kill()
            self._proc.wait()
