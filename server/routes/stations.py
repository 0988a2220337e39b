"""Stations: create one, see what it plays and plans, listen, give feedback, stop it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from radio.errors import RadioError
from radio.live_pacer import SR
from radio.pools import StationRequest
from server.broadcast import IcyWriter
from server.deps import ConfigDep, RegistryDep, open_store
from server.registry import OnAirStation
from server.schemas import (
    FeedbackCreate,
    FeedbackPublic,
    ItemPublic,
    JunctionPublic,
    NowPlaying,
    PlayedPublic,
    StationCreate,
    StationPublic,
)

__all__ = ["ICY_METAINT", "router", "station_public"]

router = APIRouter(prefix="/stations", tags=["stations"])
ICY_METAINT = 16000  # audio bytes between ICY metadata blocks
_HISTORY = 50


class StationBusy(RadioError):
    """A station cannot take another listener (a 503)."""


def station_public(handle: OnAirStation, request: Request) -> StationPublic:
    """What a client sees of a station: now playing, the plan ahead, the history."""
    live, station = handle.live, handle.station
    plan = station.snapshot()
    on_air = live.now_playing()
    position = live.position()
    idx = on_air.index if on_air is not None else 0
    now = None
    if on_air is not None:
        item = plan.items[idx] if idx < len(plan.items) else on_air.item
        now = NowPlaying(item=ItemPublic.from_item(idx, item),
                         elapsed_s=round(max(position - on_air.on_air_frame / SR, 0.0), 2),
                         junction_probability=on_air.probability)
    upcoming = [ItemPublic.from_item(i, plan.items[i]) for i in range(idx + 1, len(plan.items))]
    reasons = {int(n["item"]): str(n.get("reason", ""))
               for n in plan.meta.get("sponsors", []) if isinstance(n, dict)}
    junctions = [JunctionPublic.from_transition(plan.transitions[i], plan.items[i],
                                                plan.items[i + 1], reasons)
                 for i in range(idx, len(plan.transitions))]
    history = [PlayedPublic(item=ItemPublic.from_item(e.index, e.item), started_at=at)
               for e, at in live.history()[-_HISTORY:]]
    req = station.request
    return StationPublic(
        id=handle.id, state=live.state, error=live.error,
        stream_url=str(request.url_for("station_stream", station_id=handle.id)),
        m3u_url=str(request.url_for("station_m3u", station_id=handle.id)),
        listeners=handle.broadcast.listeners, position_s=round(position, 2), now_playing=now,
        upcoming=upcoming, junctions=junctions, history=history,
        request={"seed": req.seed, "prompt": req.prompt, "listener": req.listener,
                 "minutes": req.minutes})


@router.post("", response_model=StationPublic, status_code=status.HTTP_201_CREATED)
def create_station(body: StationCreate, request: Request, registry: RegistryDep
                   ) -> StationPublic:
    """Start a station from a seed song or a prompt; its stream starts at once."""
    seed = str(body.seed_track).strip() if body.seed_track is not None else None
    req = StationRequest(seed=seed or None, prompt=body.prompt, listener=body.listener,
                         minutes=body.minutes)
    return station_public(registry.create(req), request)


@router.get("", response_model=list[StationPublic])
def list_stations(request: Request, registry: RegistryDep) -> list[StationPublic]:
    """Every station on air."""
    return [station_public(h, request) for h in registry.all()]


@router.get("/{station_id}.m3u", name="station_m3u", response_class=PlainTextResponse)
def m3u(station_id: str, request: Request, registry: RegistryDep) -> PlainTextResponse:
    """A playlist file pointing at the stream, for media players."""
    handle = registry.get(station_id)
    url = request.url_for("station_stream", station_id=handle.id)
    return PlainTextResponse(f"#EXTM3U\n#EXTINF:-1,radio-jockey {handle.id}\n{url}\n",
                             media_type="audio/x-mpegurl")


@router.get("/{station_id}", response_model=StationPublic)
def get_station(station_id: str, request: Request, registry: RegistryDep) -> StationPublic:
    """Now playing, the upcoming plan with its junction probabilities, and the history."""
    return station_public(registry.get(station_id), request)


@router.delete("/{station_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_station(station_id: str, registry: RegistryDep) -> Response:
    """Stop a station; its listeners' streams end."""
    registry.remove(station_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{station_id}/stream", name="station_stream",
            response_class=StreamingResponse,
            responses={200: {"content": {"audio/mpeg": {}}, "description": "endless MP3"}})
async def stream(station_id: str, request: Request, registry: RegistryDep) -> StreamingResponse:
    """The station's endless MP3 stream (ICY StreamTitle metadata with Icy-MetaData: 1)."""
    handle = registry.get(station_id)
    try:
        listener = handle.broadcast.subscribe(at=handle.live.position())
    except (OverflowError, RuntimeError) as exc:
        raise StationBusy(str(exc)) from exc
    handle.idle_since = None
    icy = request.headers.get("icy-metadata", "").strip() == "1"
    headers = {"Cache-Control": "no-cache, no-store", "X-Content-Type-Options": "nosniff",
               "icy-name": f"radio-jockey {station_id}", "icy-br": "192"}
    if icy:
        headers["icy-metaint"] = str(ICY_METAINT)

    async def body() -> AsyncIterator[bytes]:
        writer = IcyWriter(ICY_METAINT) if icy else None
        try:
            async for segment in listener:
                yield writer.write(segment.data, segment.title) if writer else segment.data
        finally:
            listener.leave()
            if handle.broadcast.listeners == 0:
                handle.idle_since = time.monotonic()

    return StreamingResponse(body(), media_type="audio/mpeg", headers=headers)


@router.post("/{station_id}/feedback", response_model=FeedbackPublic)
def feedback(station_id: str, body: FeedbackCreate, registry: RegistryDep,
             config: ConfigDep) -> FeedbackPublic:
    """Like, skip or block a song (default: the one on air); a skip cuts it soon, on the beat."""
    handle = registry.get(station_id)
    on_air = handle.live.now_playing()
    track = body.track
    if track is None:
        if on_air is None or on_air.item.kind != "track":
            raise RadioError("no song is on air yet; name the track")
        track = on_air.item.ref
    with open_store(config) as store:
        store.track(track)  # 404 for an unknown id
    handle.station.feedback(body.kind, track)
    skip = (body.kind in ("skip", "block") and on_air is not None
            and on_air.item.kind == "track" and on_air.item.ref == track)
    if skip:
        handle.live.request_skip(track)
    return FeedbackPublic(kind=body.kind, track=track, skip_pending=skip)
