"""The MP3 frame-header parser `radio.encode.mp3_frame_sizes`: on MP3 that ffmpeg encodes at
known bitrates and sample rates (frame sizes from the header formula, frame count from the
input length) and on hand-made headers (padding, truncation, what it refuses)."""

from __future__ import annotations

import numpy as np
import pytest

from radio.encode import Encoder, mp3_frame_sizes
from radio.errors import RadioError

# MPEG-1 layer III, 192 kbps, 44.1 kHz: 144000 * 192 // 44100 = 626 bytes, 627 with padding.
PLAIN = bytes([0xFF, 0xFB, 0xB0, 0x00]) + bytes(622)
PADDED = bytes([0xFF, 0xFB, 0xB2, 0x00]) + bytes(623)
# MPEG-2 layer III, 64 kbps, 22.05 kHz: 72000 * 64 // 22050 = 208 bytes.
MPEG2 = bytes([0xFF, 0xF3, 0x80, 0x00]) + bytes(204)


def _encode(*, sr: int, kbps: int, seconds: float = 2.0) -> tuple[int, list[bytes]]:
    n = round(sr * seconds)
    t = np.arange(n) / sr
    pcm = np.repeat((0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[:, None], 2, 1)
    pieces = []
    with Encoder("mp3", bitrate=kbps, sr=sr) as enc:
        for i in range(0, n, 4000):
            pieces.append(enc.feed(pcm[i : i + 4000]))
        pieces.append(enc.close())
    return n, pieces


@pytest.mark.parametrize(("sr", "kbps", "mpeg1"), [(44100, 128, True), (48000, 192, True),
                                                   (22050, 64, False), (11025, 32, False)])
def test_frames_of_encoded_mp3_follow_the_header_formula(sr: int, kbps: int, mpeg1: bool) -> None:
    n, pieces = _encode(sr=sr, kbps=kbps)
    data = b"".join(pieces)
    sizes = mp3_frame_sizes(data)
    # The encoder hands out whole frames only, each chunk on its own.
    assert all(sum(mp3_frame_sizes(p)) == len(p) for p in pieces)
    assert sum(sizes) == len(data)
    samples = 1152 if mpeg1 else 576
    exact = (144000 if mpeg1 else 72000) * kbps / sr  # bytes a frame, before rounding
    assert set(sizes) <= {int(exact), int(exact) + 1}
    assert abs(sum(sizes) - len(sizes) * exact) < 1.0  # padding keeps the bitrate exact
    # Every input sample is in a frame; LAME adds its delay and padding (under 3 frames).
    assert n <= len(sizes) * samples < n + 3 * samples
    if mpeg1:
        assert mp3_frame_sizes(data, mpeg1_only=True) == sizes
    else:
        with pytest.raises(RadioError, match="not an MPEG-1 layer III frame at byte 0"):
            mp3_frame_sizes(data, mpeg1_only=True)


def test_padding_and_truncation() -> None:
    stream = PLAIN + PADDED + PLAIN[:300]
    assert mp3_frame_sizes(stream) == [626, 627]
    assert mp3_frame_sizes(stream, mpeg1_only=True) == [626, 627]
    assert mp3_frame_sizes(PLAIN[:3]) == [] == mp3_frame_sizes(b"")
    assert mp3_frame_sizes(PLAIN + PLAIN[:4]) == [626]  # a whole header, not a whole frame
    assert mp3_frame_sizes(MPEG2 * 3 + MPEG2[:100]) == [208] * 3
    with pytest.raises(RadioError, match="not an MPEG-1 layer III frame at byte 626"):
        mp3_frame_sizes(PLAIN + MPEG2, mpeg1_only=True)  # MPEG-2 frames are 576 samples


@pytest.mark.parametrize("header", [
    b"ID3\x03",  # a tag, not a frame
    bytes([0xFF, 0xFD, 0xB0, 0x00]),  # layer II
    bytes([0xFF, 0xEB, 0xB0, 0x00]),  # reserved MPEG version
    bytes([0xFF, 0xFB, 0x00, 0x00]),  # free format
    bytes([0xFF, 0xFB, 0xF0, 0x00]),  # bad bitrate index
    bytes([0xFF, 0xFB, 0xBC, 0x00]),  # reserved sample rate
])
def test_refuses_what_is_not_a_layer_iii_frame(header: bytes) -> None:
    with pytest.raises(RadioError, match="not an MPEG layer III frame at byte 626"):
        mp3_frame_sizes(PLAIN + header + bytes(700))
    with pytest.raises(RadioError, match="not an MPEG-1 layer III frame at byte 626"):
        mp3_frame_sizes(PLAIN + header + bytes(700), mpeg1_only=True)
