"""Taking a new sponsor clip in: checks, analysis, embedding, a durable copy, then one row.

`add_sponsor` refuses a clip that is too large, not decodable audio, too long, too short or
silent (`ClipRejected`, whose ``reason`` the server maps to a status) and fields that allow no
ads (`RadioError`), before anything is written. A clip that passes is analysed like a track
(`radio.analysis.analyse`: loudness, beats) and embedded by the continuation model at its first
and last seconds (`embed_clip`), which are where it meets the music. It is then copied into
``RADIO_HOME/sponsors/<content hash><suffix>`` (temporary file, fsync, rename) before its row is
committed through `radio.sponsors.SponsorStore`, so a stored sponsor always has its clip.
`parse_time` reads the operator's start and end times (CLI options, form fields).

This module must not write anything else: no impressions, no status changes, no plans (that is
`radio.sponsors` and `radio.sponsor_plans`), and nothing at all for a clip or field it refuses.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from radio.config import Settings
from radio.errors import AnalysisError, AudioLoadError, RadioError
from radio.sponsors import Sponsor, SponsorStore, iso_utc, vector_blob

if TYPE_CHECKING:
    from ranking.inference import ContinuationModel

__all__ = ["ClipRejected", "SponsorLimits", "add_sponsor", "embed_clip", "parse_time"]


class SponsorLimits(BaseSettings):
    """Limits on sponsor clips (RADIO_SPONSOR_MAX_BYTES, RADIO_SPONSOR_MAX_SECONDS)."""

    model_config = SettingsConfigDict(env_prefix="RADIO_", extra="ignore")

    sponsor_max_bytes: int = Field(default=50 * 1024**2, gt=0)
    sponsor_max_seconds: float = Field(default=120.0, gt=0)


class ClipRejected(RadioError):
    """A sponsor clip that cannot be used; ``reason`` is ``too-large``, ``not-audio``,
    ``too-long``, ``too-short`` or ``silent`` (the server maps them to 413, 415 and 422)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_time(value: str | None, *, what: str) -> float | None:
    """ISO 8601 (``2026-12-01`` or ``2026-12-01T08:00+01:00``; no zone = UTC) to epoch s."""
    if value is None or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise RadioError(f"{what} {value!r} is not a date/time; write e.g. 2026-12-01T08:00"
                         ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def embed_clip(y: np.ndarray, sr: int, *, start: float, end: float,
               model: ContinuationModel) -> tuple[np.ndarray, np.ndarray]:
    """(entry, exit) embeddings of mono ``y``: its first and last model-context seconds of
    audio between ``start`` and ``end`` (silence-padded when the clip is shorter)."""
    n = round(model.config.clip_seconds * sr)
    a, b = round(start * sr), round(end * sr)
    head = np.zeros(n, np.float32)
    tail = np.zeros(n, np.float32)
    seg = np.asarray(y[a:b], dtype=np.float32)
    head[: min(n, seg.size)] = seg[:n]
    tail[n - min(n, seg.size):] = seg[-n:] if seg.size else 0.0
    return model.embed_entries([head], sr)[0], model.embed_exits([tail], sr)[0]


def _validate(*, name: str, text: str, tags: tuple[str, ...], cap_per_hour: int,
              min_gap_minutes: float, starts_at: float | None, ends_at: float | None,
              weight: float, now: float) -> None:
    if not name.strip() or len(name) > 200:
        raise RadioError("a sponsor needs a name of 1 to 200 characters")
    if len(text) > 2000 or len(tags) > 32 or any(len(t) > 64 or not t.strip() for t in tags):
        raise RadioError("sponsor text is at most 2000 characters and 32 tags of 1-64 each")
    if not 1 <= cap_per_hour <= 60:
        raise RadioError(f"cap per hour {cap_per_hour} allows no ads (or too many); give "
                         "1 to 60 plays per listener-hour, or pause the sponsor instead")
    if not 0 <= min_gap_minutes <= 24 * 60:
        raise RadioError(f"minimum gap {min_gap_minutes} min is outside 0 to 1440 minutes")
    if not (0 < weight <= 100 and math.isfinite(weight)):
        raise RadioError(f"weight {weight} must be above 0 and at most 100")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise RadioError(f"no active window: the sponsor ends ({iso_utc(ends_at)}) before it "
                         f"starts ({iso_utc(starts_at)})")
    if ends_at is not None and ends_at <= now:
        raise RadioError(f"no active window: the sponsor's end ({iso_utc(ends_at)}) has passed")


def add_sponsor(settings: Settings, clip: Path, *, name: str, text: str = "",
                tags: tuple[str, ...] = (), cap_per_hour: int = 4, min_gap_minutes: float = 10.0,
                starts_at: float | None = None, ends_at: float | None = None,
                weight: float = 1.0, original_name: str | None = None,
                model: ContinuationModel | None = None, now: float | None = None) -> Sponsor:
    """Check, analyse, embed and store one sponsor clip; the clip is copied into the home.

    Raises `ClipRejected` for a file that is not usable audio, `RadioError` for bad fields.
    Nothing is stored unless everything succeeded.
    """
    from radio.analysis import analyse
    from radio.audio import decode
    from radio.ingest_scan import hash_file
    from radio.modeling import model_id, resolve_model

    tags = tuple(t.strip() for t in tags if t.strip())
    _validate(name=name, text=text, tags=tags, cap_per_hour=cap_per_hour,
              min_gap_minutes=min_gap_minutes, starts_at=starts_at, ends_at=ends_at,
              weight=weight, now=time.time() if now is None else now)
    limits = SponsorLimits()
    clip = Path(clip)
    label = original_name or clip.name
    try:
        size = clip.stat().st_size
    except OSError as exc:
        raise ClipRejected("not-audio", f"cannot read sponsor clip {label}: {exc}") from exc
    if size > limits.sponsor_max_bytes:
        raise ClipRejected("too-large", f"sponsor clip {label} is {size / 1e6:.1f} MB; the "
                           f"limit is {limits.sponsor_max_bytes / 1e6:.1f} MB")
    sr = settings.analysis_sr
    try:
        y = decode(clip, sr=sr, channels=2, timeout=settings.decode_timeout_s)
    except AudioLoadError as exc:
        raise ClipRejected("not-audio", f"{label} is not audio that ffmpeg can decode "
                           f"({exc.reason}{': ' + exc.cause if exc.cause else ''})") from exc
    seconds = y.shape[1] / sr
    if seconds > limits.sponsor_max_seconds:
        raise ClipRejected("too-long", f"sponsor clip {label} lasts {seconds:.0f} s; the limit "
                           f"is {limits.sponsor_max_seconds:.0f} s")
    try:
        analysis = analyse(y=y, sr=sr)
    except AnalysisError as exc:
        raise ClipRejected(exc.reason, f"sponsor clip {label}: {exc}") from exc
    model = model or resolve_model(settings)
    mono = y.mean(axis=0)
    if model.config.sr != sr:
        import librosa

        mono = librosa.resample(mono, orig_sr=sr, target_sr=model.config.sr, res_type="soxr_hq")
    entry, exit_ = embed_clip(mono, model.config.sr, start=analysis.audible_start,
                              end=analysis.audible_end, model=model)
    digest = hash_file(clip)
    dest = _keep_copy(clip, settings.home / "sponsors", digest, Path(label).suffix.lower())
    row = {"name": name.strip(), "text": text.strip(), "tags": json.dumps(list(tags)),
           "path": str(dest), "original_name": label[:255], "content_hash": digest,
           "duration": float(analysis.duration), "audible_start": float(analysis.audible_start),
           "audible_end": float(analysis.audible_end), "tempo": float(analysis.tempo),
           "tempo_confidence": float(analysis.tempo_confidence), "lufs": float(analysis.lufs),
           "beats": np.asarray(analysis.beats, np.float64).tobytes(),
           "model_id": model_id(model), "entry_vector": vector_blob(entry),
           "exit_vector": vector_blob(exit_), "cap_per_hour": int(cap_per_hour),
           "min_gap_minutes": float(min_gap_minutes), "starts_at": starts_at,
           "ends_at": ends_at, "weight": float(weight)}
    with SponsorStore(settings) as store:
        return store.insert(row)


def _keep_copy(src: Path, folder: Path, digest: str, suffix: str) -> Path:
    """Copy ``src`` to ``folder/<digest><suffix>`` durably (tmp, fsync, rename, fsync dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ".audio"
    dest = folder / f"{digest}{safe}"
    if dest.exists():
        return dest
    tmp = folder / f".{digest}.{os.getpid()}.tmp"
    try:
        with open(src, "rb") as fi, open(tmp, "wb") as fo:
            shutil.copyfileobj(fi, fo, 1 << 20)
            fo.flush()
            os.fsync(fo.fileno())
        os.replace(tmp, dest)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
