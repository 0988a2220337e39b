"""Library browsing: list and search tracks, one track, tracks that sound alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from radio.records import Track
from radio.search import similar_tracks
from server.deps import ConfigDep, open_store
from server.schemas import SimilarPublic, TrackHit, TrackList, TrackPublic

__all__ = ["matches", "router"]

router = APIRouter(prefix="/tracks", tags=["tracks"])


def matches(tracks: list[Track], q: str) -> list[Track]:
    """Tracks whose title, artist, album, genre or tags contain every word of ``q``
    (case-insensitive); title matches first, then by title."""
    words = q.casefold().split()

    def text(t: Track) -> str:
        return " ".join(filter(None, (t.title, t.artist, t.album, t.genre, *t.tags))).casefold()

    hits = [t for t in tracks if all(w in text(t) for w in words)]
    return sorted(hits, key=lambda t: (not all(w in t.title.casefold() for w in words),
                                       t.title.casefold(), t.id))


@router.get("", response_model=TrackList)
def list_tracks(config: ConfigDep,
                q: Annotated[str, Query(max_length=200, description="words to look for")] = "",
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> TrackList:
    """List the library's tracks, or those matching the words in q."""
    with open_store(config) as store:
        tracks = store.tracks()
    found = matches(tracks, q) if q.strip() else sorted(tracks, key=lambda t: t.id)
    return TrackList(total=len(found),
                     tracks=[TrackPublic.from_track(t) for t in found[offset : offset + limit]])


@router.get("/{track_id}", response_model=TrackPublic)
def get_track(track_id: int, config: ConfigDep) -> TrackPublic:
    """One track's tags and analysis."""
    with open_store(config) as store:
        return TrackPublic.from_track(store.track(track_id))


@router.get("/{track_id}/similar", response_model=SimilarPublic)
def get_similar(track_id: int, config: ConfigDep,
                n: Annotated[int, Query(ge=1, le=100)] = 10,
                diverse: Annotated[float | None, Query(ge=0.0, le=1.0)] = None) -> SimilarPublic:
    """Tracks that sound most like this one."""
    with open_store(config) as store:
        store.track(track_id)  # NotFound (404) before any work
    result = similar_tracks(config.radio, str(track_id), n=n, diverse=diverse)
    return SimilarPublic(seed=TrackPublic.from_track(result.seed),
                         hits=[TrackHit(track=TrackPublic.from_track(t), score=round(s, 4))
                               for t, s in result.hits])
