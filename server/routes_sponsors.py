"""The operator's sponsor routes (bearer token): upload a clip, list, pause, delete, report.

An upload is streamed to a temporary file and refused with 413 as soon as it passes
``RADIO_MAX_UPLOAD_BYTES``; a file that is not decodable audio is 415, a silent, too short or
too long clip or a bad field (no active window, a cap that allows nothing) is 422. The business
rules live in `radio.sponsor_clips` and `radio.sponsors`; this module only moves bytes and maps
errors to statuses.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status

from radio.errors import NotFound, RadioError
from radio.sponsor_clips import ClipRejected, add_sponsor, parse_time
from radio.sponsors import SponsorStatus, SponsorStore
from server.auth import AdminDep
from server.deps import ConfigDep

__all__ = ["router"]

router = APIRouter(prefix="/sponsors", tags=["sponsors"], dependencies=[AdminDep])

_CHUNK = 1 << 20
_AUDIO_SUFFIXES = {".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".aiff"}
_STATUS = {"too-large": 413,
           "not-audio": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE}


def _reject(exc: RadioError) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {exc.kind} {exc.key!r}")
    code = _STATUS.get(exc.reason, 422) if isinstance(exc, ClipRejected) else 422
    return HTTPException(code, detail=str(exc))


async def _save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Stream the upload into ``folder``; 413 the moment it passes ``limit`` bytes."""
    suffix = Path(upload.filename or "").suffix.lower()
    fd, name = tempfile.mkstemp(dir=folder, prefix=".upload-",
                                suffix=suffix if suffix in _AUDIO_SUFFIXES else ".bin")
    size = 0
    with os.fdopen(fd, "wb") as fh:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                fh.close()
                Path(name).unlink(missing_ok=True)
                raise HTTPException(413,
                                    detail=f"the clip is larger than the {limit / 1e6:.1f} MB "
                                           "limit (RADIO_MAX_UPLOAD_BYTES)")
            fh.write(chunk)
    return Path(name)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_sponsor(
    request: Request,
    config: ConfigDep,
    clip: Annotated[UploadFile, File(description="the ad: any audio format ffmpeg reads")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    text: Annotated[str, Form(max_length=2000)] = "",
    tags: Annotated[str, Form(description="comma-separated targeting tags")] = "",
    cap_per_hour: Annotated[int, Form()] = 4,
    min_gap_minutes: Annotated[float, Form()] = 10.0,
    start: Annotated[str | None, Form(description="ISO 8601; no zone = UTC")] = None,
    end: Annotated[str | None, Form(description="ISO 8601; no zone = UTC")] = None,
    weight: Annotated[float, Form()] = 1.0,
) -> dict[str, Any]:
    """Upload a sponsor clip with its text, tags, caps and active window."""
    limit = config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:  # form fields ride along
        raise HTTPException(413,
                            detail=f"the upload is larger than the {limit / 1e6:.1f} MB limit "
                                   "(RADIO_MAX_UPLOAD_BYTES)")
    folder = config.radio.home / "sponsors"
    folder.mkdir(parents=True, exist_ok=True)
    path = await _save_upload(clip, folder, limit)
    try:
        sponsor = await asyncio.to_thread(
            add_sponsor, config.radio, path, name=name, text=text,
            tags=tuple(t for t in tags.split(",")), cap_per_hour=cap_per_hour,
            min_gap_minutes=min_gap_minutes, starts_at=parse_time(start, what="start"),
            ends_at=parse_time(end, what="end"), weight=weight,
            original_name=Path(clip.filename or "clip").name)
    except RadioError as exc:
        raise _reject(exc) from exc
    finally:
        path.unlink(missing_ok=True)
    return sponsor.to_dict()


@router.get("")
def list_sponsors(config: ConfigDep, deleted: bool = False) -> list[dict[str, Any]]:
    """Every sponsor (``?deleted=true``: deleted ones too)."""
    with SponsorStore(config.radio) as store:
        return [s.to_dict() for s in store.sponsors(include_deleted=deleted)]


def _set(config: ConfigDep, sponsor_id: int, new: SponsorStatus) -> dict[str, Any]:
    try:
        with SponsorStore(config.radio) as store:
            return store.set_status(sponsor_id, new).to_dict()
    except RadioError as exc:
        raise _reject(exc) from exc


@router.post("/{sponsor_id}/pause")
def pause_sponsor(sponsor_id: int, config: ConfigDep) -> dict[str, Any]:
    """Stop placing this sponsor (ads already planned are taken out of the future)."""
    return _set(config, sponsor_id, "paused")


@router.post("/{sponsor_id}/resume")
def resume_sponsor(sponsor_id: int, config: ConfigDep) -> dict[str, Any]:
    """Place this sponsor again."""
    return _set(config, sponsor_id, "active")


@router.delete("/{sponsor_id}")
def delete_sponsor(sponsor_id: int, config: ConfigDep) -> dict[str, Any]:
    """Delete a sponsor: never placed again; its impressions and report stay."""
    return _set(config, sponsor_id, "deleted")


@router.get("/{sponsor_id}/report")
def sponsor_report(sponsor_id: int, config: ConfigDep) -> dict[str, Any]:
    """Impressions (total, last hour, last day, by station), listeners, junction scores."""
    try:
        with SponsorStore(config.radio) as store:
            return store.report(sponsor_id).to_dict()
    except RadioError as exc:
        raise _reject(exc) from exc
