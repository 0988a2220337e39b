"""The API's request and response bodies (pydantic), kept apart from the stored records.

``*Create`` models are what a client sends (validated: a bad field is a 422 naming it);
``*Public`` models are what the API returns, built from `radio` records by the ``from_*``
helpers so that no stored row (paths, hashes) leaks out by accident.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from radio.plan import PlanItem, Transition
from radio.records import Track

__all__ = [
    "FeedbackCreate",
    "FeedbackPublic",
    "ItemPublic",
    "JunctionPublic",
    "NowPlaying",
    "PlayedPublic",
    "ScanCreate",
    "SimilarPublic",
    "StationCreate",
    "StationPublic",
    "StationSummary",
    "StatsPublic",
    "TrackHit",
    "TrackList",
    "TrackPublic",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StationCreate(_Strict):
    """Ask for a station: a seed song (id or title) or a text prompt, or both."""

    seed_track: str | int | None = Field(default=None, description="track id or title")
    prompt: str | None = Field(default=None, max_length=500)
    listener: str | None = Field(default=None, min_length=1, max_length=64)
    minutes: float = Field(default=60.0, ge=1.0, le=1440.0, description="first plan's length")

    @model_validator(mode="after")
    def _one_of(self) -> StationCreate:
        seed = str(self.seed_track).strip() if self.seed_track is not None else ""
        if not seed and not (self.prompt or "").strip():
            raise ValueError("give a seed_track (track id or title) or a prompt")
        if len(seed) > 200:
            raise ValueError("seed_track is at most 200 characters")
        return self


class FeedbackCreate(_Strict):
    """A like, skip or block; ``track`` defaults to the song on air."""

    kind: Literal["like", "skip", "block"]
    track: int | None = Field(default=None, ge=1)


class ScanCreate(_Strict):
    """Folders or files to (re)ingest, then embed the new cues."""

    paths: list[str] = Field(min_length=1, max_length=100)
    workers: int | None = Field(default=None, ge=1, le=64)
    embed: bool = True


class TrackPublic(BaseModel):
    id: int
    title: str
    artist: str | None
    album: str | None
    genre: str | None
    tags: list[str]
    duration: float
    tempo: float
    key: str
    mode: str
    camelot: str
    lufs: float

    @classmethod
    def from_track(cls, t: Track) -> TrackPublic:
        return cls(id=t.id, title=t.title, artist=t.artist, album=t.album, genre=t.genre,
                   tags=list(t.tags), duration=round(t.duration, 2), tempo=round(t.tempo, 2),
                   key=t.key, mode=t.mode, camelot=t.camelot, lufs=round(t.lufs, 2))


class TrackList(BaseModel):
    total: int
    tracks: list[TrackPublic]


class TrackHit(BaseModel):
    track: TrackPublic
    score: float


class SimilarPublic(BaseModel):
    seed: TrackPublic
    hits: list[TrackHit]


class ItemPublic(BaseModel):
    """One planned song (or sponsor clip)."""

    index: int
    kind: Literal["track", "sponsor"]
    ref: int
    title: str
    artist: str | None
    entry_time: float
    exit_time: float
    seconds: float = Field(description="how long it plays, between its cues")
    tempo: float

    @classmethod
    def from_item(cls, index: int, it: PlanItem) -> ItemPublic:
        return cls(index=index, kind=it.kind, ref=it.ref, title=it.title, artist=it.artist,
                   entry_time=round(it.entry_time, 3), exit_time=round(it.exit_time, 3),
                   seconds=round(max(it.exit_time - it.entry_time, 0.0), 2),
                   tempo=round(it.tempo, 2))


class JunctionPublic(BaseModel):
    """The handover from item ``index`` to item ``index + 1``."""

    index: int
    probability: float = Field(description="the model's P(next continues this) at the cues")
    overlap_beats: int
    key_relation: str
    sponsor: bool = Field(description="a sponsor clip sits on one side of it")
    sponsor_reason: str | None = Field(
        default=None, description="why the clip went here: the drop in log-probability it "
        "costs this junction, and how well its text matches the station")

    @classmethod
    def from_transition(cls, tr: Transition, a: PlanItem, b: PlanItem,
                        reasons: dict[int, str] | None = None) -> JunctionPublic:
        """``reasons``: placement notes by the plan index of the sponsor item."""
        why = (reasons or {}).get(tr.index + 1 if b.kind == "sponsor" else tr.index)
        return cls(index=tr.index, probability=round(tr.probability, 4),
                   overlap_beats=tr.overlap_beats, key_relation=tr.key_relation,
                   sponsor="sponsor" in (a.kind, b.kind),
                   sponsor_reason=why if "sponsor" in (a.kind, b.kind) else None)


class NowPlaying(BaseModel):
    item: ItemPublic
    elapsed_s: float = Field(description="seconds since it went on air")
    junction_probability: float | None


class PlayedPublic(BaseModel):
    item: ItemPublic
    started_at: float = Field(description="Unix time it went on air")


class StationPublic(BaseModel):
    id: str
    state: Literal["starting", "live", "stopped", "failed"]
    error: str | None
    stream_url: str
    m3u_url: str
    listeners: int
    position_s: float = Field(description="the live point, seconds since the station began")
    now_playing: NowPlaying | None
    upcoming: list[ItemPublic]
    junctions: list[JunctionPublic] = Field(description="from the song on air onwards")
    history: list[PlayedPublic]
    request: dict[str, object]


class StationSummary(BaseModel):
    id: str
    state: str
    listeners: int
    now_playing: str | None
    stall_s: float
    skips: int
    dropped_listeners: int
    rendered_ahead_s: float = Field(description="audio rendered past the live point")
    songs_rendered_ahead: int = Field(description="songs after the one on air being rendered")


class FeedbackPublic(BaseModel):
    kind: str
    track: int
    skip_pending: bool


class StatsPublic(BaseModel):
    uptime_s: float
    stations: list[StationSummary]
    listeners: int
    library_tracks: int
    library_hours: float
    plays_logged: int
    cpu_s: float
    rss_mb: float
