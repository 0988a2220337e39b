"""The per-file work of ingestion, run in worker processes: decode once, check, analyse.

`radio.ingest` decides which files need analysing and hands each one to a worker as a `Job`;
`process_job` runs `analyse_file` on it and returns a `Result` holding the tags and the
`radio.analysis.Analysis`, or a failure's reason word and detail. `analyse_file` decodes the
file once with `radio.audio.decode` and refuses what is not usable music (too short, silent,
truncated) before `radio.analysis.analyse` sees it. `default_workers` is how many processes
`radio.ingest` starts, and `init_worker` prepares each one.

It must not touch the store or scan folders: a worker only reads its one file and returns
plain records, and only the main process (`radio.ingest`) writes them, one transaction per
track. `process_job` never raises, so one bad file cannot stop the pool.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radio.analysis import Analysis, analyse
from radio.audio import decode
from radio.errors import AnalysisError, AudioLoadError
from radio.records import TrackTags
from radio.tags import header_duration, read_tags

__all__ = [
    "MIN_SECONDS",
    "Job",
    "Result",
    "analyse_file",
    "default_workers",
    "init_worker",
    "process_job",
]

MIN_SECONDS = 5.0
"""Shorter files cannot hold a phrase to mix in or out of."""
_SILENT_PEAK = 10 ** (-60 / 20)  # a file whose loudest sample is below -60 dBFS is silence
_TRUNCATED = 0.9  # decoding less than this share of the header's duration (less 1 s) is truncated


@dataclass(frozen=True)
class Job:
    """One file to analyse, with the stat and content hash the main process saw."""

    path: str
    content_hash: str
    size: int
    mtime: float
    new: bool


@dataclass(frozen=True)
class Result:
    """A worker's answer for a `Job`: tags and analysis, or a failure's reason and detail."""

    job: Job
    tags: TrackTags | None = None
    analysis: Analysis | None = None
    reason: str = ""
    detail: str = ""


def default_workers() -> int:
    """All cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def analyse_file(path: Path, *, sr: int, timeout: float) -> tuple[TrackTags, Analysis]:
    """Decode ``path`` once (stereo, ``sr`` Hz), check it is usable music, analyse it.

    Raises
    ------
    AudioLoadError
        the decoder's reasons (``not-audio``, ``timeout``...) and ``truncated``.
    AnalysisError
        ``too-short`` (under `MIN_SECONDS`), ``silent``, or the analysis's own reasons.
    """
    y = decode(path, sr=sr, channels=2, timeout=timeout)
    seconds = y.shape[-1] / sr
    if seconds < MIN_SECONDS:
        raise AnalysisError("too-short", f"{seconds:.2f} s; tracks need {MIN_SECONDS:g} s")
    claimed = header_duration(path)
    if claimed is not None and seconds < _TRUNCATED * claimed - 1.0:
        raise AudioLoadError(
            path, "truncated", f"decoded {seconds:.1f} s of the {claimed:.1f} s its header claims"
        )
    peak = max(float(y.max()), -float(y.min()))
    if peak < _SILENT_PEAK:
        level = 20 * np.log10(peak) if peak > 0 else float("-inf")
        raise AnalysisError("silent", f"peak level {level:.0f} dBFS")
    return read_tags(path), analyse(y=y, sr=sr)


def process_job(job: Job, sr: int, timeout: float) -> Result:
    """Worker entry point: never raises, so one bad file cannot stop the pool."""
    try:
        tags, analysis = analyse_file(Path(job.path), sr=sr, timeout=timeout)
    except (AudioLoadError, AnalysisError) as exc:
        return Result(job, reason=exc.reason, detail=exc.cause)
    except Exception as exc:  # a bug or a hostile file in analysis: record it, keep going
        return Result(job, reason="analysis-error", detail=f"{type(exc).__name__}: {exc}")
    return Result(job, tags=tags, analysis=analysis)


def init_worker() -> None:
    """Set up one worker process: BLAS and OpenMP limited to one thread."""
    # One process per core already; BLAS threads on top would only oversubscribe.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
