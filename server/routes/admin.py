"""The operator's routes (bearer token): scan the library, and the service's statistics."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from radio.errors import RadioError
from radio.listeners import operator_db
from server.auth import AdminDep
from server.deps import ConfigDep, RegistryDep, open_store
from server.schemas import ScanCreate, StationSummary, StatsPublic

__all__ = ["process_usage", "router"]

router = APIRouter(tags=["admin"], dependencies=[AdminDep])


def process_usage() -> tuple[float, float]:
    """(CPU seconds used by this process, resident memory in MB) from the kernel."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss_kb = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = float(line.split()[1])
    except OSError:
        rss_kb = float(ru.ru_maxrss)
    return ru.ru_utime + ru.ru_stime, rss_kb / 1024


@router.post("/library/scan")
def scan(body: ScanCreate, config: ConfigDep) -> dict[str, Any]:
    """Ingest new or changed music under the given paths, then embed their cues."""
    from radio.ingest import ingest
    from radio.modeling import embed_library

    paths = [Path(p).expanduser() for p in body.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RadioError(f"no such file or folder: {', '.join(missing)}")
    summary = ingest(paths, settings=config.radio, workers=body.workers)
    out: dict[str, Any] = {"ingest": summary.to_dict()}
    if body.embed:
        out["embed"] = embed_library(config.radio)
    return out


@router.get("/stats", response_model=StatsPublic)
def stats(config: ConfigDep, registry: RegistryDep) -> StatsPublic:
    """Stations on air, listeners, the library's size, plays logged, CPU and memory."""
    rows = []
    for h in registry.all():
        on_air = h.live.now_playing()
        ahead_s, songs_ahead = h.live.ahead()
        rows.append(StationSummary(
            id=h.id, state=h.live.state, listeners=h.broadcast.listeners,
            now_playing=on_air.title if on_air else None,
            stall_s=round(h.live.stats.stall_s, 2), skips=h.live.stats.skips,
            dropped_listeners=h.broadcast.dropped, rendered_ahead_s=round(ahead_s, 1),
            songs_rendered_ahead=songs_ahead))
    with open_store(config) as store:
        n, seconds = store.totals()
    with operator_db(config.radio) as db:
        plays = int(next(iter(db.query("SELECT count(*) AS n FROM plays")))["n"])
    cpu, rss = process_usage()
    return StatsPublic(uptime_s=round(time.time() - registry.started_at, 1), stations=rows,
                       listeners=sum(r.listeners for r in rows), library_tracks=n,
                       library_hours=round(seconds / 3600, 3), plays_logged=plays,
                       cpu_s=round(cpu, 2), rss_mb=round(rss, 1))
