"""Library ingestion: scan folders, decide what changed, decode + analyse in worker processes.

`ingest` walks the given roots for audio files with `radio.ingest_scan.scan` (which survives
symlink loops, unreadable folders and odd names), and for each file decides, cheapest test first:

* path, size and mtime equal to its stored row (and the row's analysis is current): skipped
  without opening the file;
* otherwise its bytes are hashed (xxh3-128). A hash stored for another path that no longer
  exists is a **move** (the row follows the file; nothing is re-analysed). A hash stored for
  another path that still exists, or seen earlier in this run, is a **duplicate**: not added,
  recorded in ``failures`` with reason ``duplicate`` and the original's path as detail, so
  `radio failures` lists it. Deleting the original later turns the duplicate into a move;
* anything else (new, changed bytes, older `ANALYSIS_VERSION`, lost features file) is decoded
  once, checked and analysed by `radio.ingest_worker.analyse_file`.

Decoding and analysis run in worker processes (`radio.ingest_worker`; one per core by default,
``workers=1`` runs in this process). Only this process writes to the store, one transaction per
track as results arrive, so killing ingestion loses nothing already committed and the next run
resumes.
Files that vanished from under a scanned root get status ``missing``; a stored file whose new
bytes fail to ingest is marked missing too, since the analysed audio no longer exists.

Every bad file is recorded with a reason word (see `radio.records.Failure`) and counted in the
`IngestSummary`; ingestion goes on. A worker process that dies (killed, out of memory) costs its
file one retry, then a ``worker-died`` failure.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radio.analysis import ANALYSIS_VERSION
from radio.config import Settings
from radio.errors import RadioError
from radio.ingest_scan import Found, hash_file, scan
from radio.ingest_worker import Job, Result, default_workers, init_worker, process_job
from radio.store import Store

__all__ = ["IngestSummary", "ProgressFn", "ingest"]

ProgressFn = Callable[[int, int, float], None]
"""Called as ``progress(done, total, audio_seconds)`` after the scan and after every file."""


@dataclass
class IngestSummary:
    """What one `ingest` run did. ``failures`` counts reasons, duplicates excluded."""

    scanned: int = 0  # audio files found under the roots
    new: int = 0  # analysed and added
    updated: int = 0  # re-analysed: bytes changed, or an older analysis version
    skipped: int = 0  # unchanged since the last run
    moved: int = 0
    duplicate: int = 0
    missing: int = 0  # stored tracks whose file vanished in this run
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    audio_seconds: float = 0.0  # decoded and analysed in this run
    wall_seconds: float = 0.0
    workers: int = 1
    library_tracks: int = 0  # tracks with status ok after the run
    library_seconds: float = 0.0

    @property
    def x_real_time(self) -> float:
        """Audio seconds analysed per wall-clock second (all workers together)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["x_real_time"] = round(self.x_real_time, 2)
        out["library_hours"] = round(self.library_seconds / 3600, 3)
        return out


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class _Run:
    """One ingestion: the decisions, the bookkeeping and the store writes (main process only)."""

    def __init__(self, store: Store, settings: Settings, roots: list[str]) -> None:
        self.store = store
        self.settings = settings
        self.roots = roots
        self.summary = IngestSummary()
        self.stamps = store.stamps()
        self.have_features = store.feature_hashes()
        self.hashes_this_run: dict[str, str] = {}
        self.failed_this_run: set[str] = set()

    def fail(self, path: str, reason: str, detail: str) -> None:
        self.store.record_failure(path, reason, detail)
        self.failed_this_run.add(path)
        if reason == "duplicate":
            self.summary.duplicate += 1
            return
        self.summary.failed += 1
        self.summary.failures[reason] = self.summary.failures.get(reason, 0) + 1

    def classify(self, found: Found) -> Job | None:
        """What to do with one file: None when it is settled here, else a job to analyse."""
        path, size, mtime = found.path, found.size, found.mtime
        if size == 0:
            self._fail_stored(path, "empty", "0 bytes")
            return None
        if size > self.settings.max_file_bytes:
            limit = self.settings.max_file_bytes
            self._fail_stored(
                path, "too-large", f"{size} bytes; the limit is {limit} (RADIO_MAX_FILE_BYTES)")
            return None
        row = self.stamps.get(path)
        if (row is not None and (row.size, row.mtime) == (size, mtime)
                and self._current(row.content_hash, row.analysis_version)):
            if row.status != "ok":  # it came back where it was
                self.store.update_location(row.id, path=path, size=size, mtime=mtime)
            self.summary.skipped += 1
            return None
        try:
            digest = hash_file(path)
        except OSError as exc:
            self._fail_stored(path, "unreadable", exc.strerror or str(exc))
            return None
        if digest in self.hashes_this_run:
            first = self.hashes_this_run[digest]
            self._fail_stored(path, "duplicate", f"same bytes as {first}")
            return None
        other = self.store.stamp_by_hash(digest)
        if other is not None and other.path != path:
            if os.path.exists(other.path):
                self._fail_stored(path, "duplicate", f"same bytes as {other.path}")
                return None
            self.store.update_location(other.id, path=path, size=size, mtime=mtime)
            self.summary.moved += 1
            if self._current(digest, other.analysis_version):
                return None
            return self._job(found, digest, new=False)
        if row is not None and row.content_hash == digest:
            if not self._current(digest, row.analysis_version):
                return self._job(found, digest, new=False)
            # Same bytes, new mtime (touched, copied back): refresh the stamp only.
            self.store.update_location(row.id, path=path, size=size, mtime=mtime)
            self.summary.skipped += 1
            return None
        return self._job(found, digest, new=row is None)

    def _job(self, found: Found, digest: str, *, new: bool) -> Job:
        self.hashes_this_run[digest] = found.path
        return Job(found.path, digest, found.size, found.mtime, new=new)

    def _current(self, content_hash: str, version: int) -> bool:
        return version == ANALYSIS_VERSION and content_hash in self.have_features

    def _fail_stored(self, path: str, reason: str, detail: str) -> None:
        """Record a failure; a stored track at ``path`` lost its analysed bytes: missing."""
        self.fail(path, reason, detail)
        if path in self.stamps:
            self.summary.missing += self.store.mark_missing([path])

    def finish(self, result: Result) -> None:
        job = result.job
        if result.analysis is None or result.tags is None:
            self._fail_stored(job.path, result.reason, result.detail)
            return
        self.store.save_track(path=job.path, content_hash=job.content_hash, size=job.size,
                              mtime=job.mtime, tags=result.tags, analysis=result.analysis)
        self.have_features.add(job.content_hash)
        self.summary.audio_seconds += result.analysis.duration
        if job.new:
            self.summary.new += 1
        else:
            self.summary.updated += 1

    def sweep(self, seen: set[str]) -> None:
        """Mark vanished files under the roots missing; forget failures not seen again."""
        gone = [p for p in self.store.stamps()
                if p not in seen and _under(p, self.roots) and not os.path.exists(p)]
        self.summary.missing += self.store.mark_missing(gone)
        for failure in self.store.failures():
            if _under(failure.path, self.roots) and failure.path not in self.failed_this_run:
                self.store.clear_failure(failure.path)


def ingest(
    paths: Sequence[str | Path],
    *,
    settings: Settings,
    store: Store | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> IngestSummary:
    """Scan ``paths`` (folders or files) and bring the store up to date with them.

    ``workers`` defaults to every core; 1 analyses in this process. ``store`` defaults to the
    one under ``settings.home``. Raises `RadioError` only when a root does not exist; every
    problem with a file is recorded in ``failures`` and counted in the returned summary.
    """
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    for root in roots:
        if not os.path.lexists(root):
            raise RadioError(f"{root}: no such file or folder to ingest")
    n_workers = max(1, workers if workers is not None else default_workers())
    own_store = store is None
    db = Store(settings) if store is None else store
    start = time.perf_counter()
    try:
        run = _Run(db, settings, roots)
        run.summary.workers = n_workers
        found: list[Found] = []
        for item in scan(roots):
            if isinstance(item, Found):
                found.append(item)
            else:
                run.fail(*item)
        run.summary.scanned = len(found)
        done = 0

        def advance(n: int = 1) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(found), run.summary.audio_seconds)

        advance(0)
        jobs = _classified(run, found, advance)
        if n_workers == 1:
            for job in jobs:
                run.finish(process_job(job, settings.analysis_sr, settings.decode_timeout_s))
                advance()
        else:
            _run_pool(run, jobs, n_workers, advance)
        run.sweep({f.path for f in found})
        run.summary.library_tracks, run.summary.library_seconds = db.totals()
        run.summary.wall_seconds = time.perf_counter() - start
        return run.summary
    finally:
        if own_store:
            db.close()


def _classified(run: _Run, found: list[Found], advance: Callable[[int], None]) -> Iterator[Job]:
    for item in found:
        job = run.classify(item)
        if job is None:
            advance(1)
        else:
            yield job


def _run_pool(run: _Run, jobs: Iterator[Job], n_workers: int,
              advance: Callable[[int], None]) -> None:
    """Keep ``2 * n_workers`` jobs in flight; store each result as it arrives.

    A dead worker breaks the whole pool: every job in flight is retried once in a new pool,
    and a job caught by a second break is recorded as ``worker-died``.
    """
    sr, timeout = run.settings.analysis_sr, run.settings.decode_timeout_s
    retries: list[Job] = []
    tries: dict[str, int] = {}
    pending: dict[Future[Result], Job] = {}
    # spawn, not fork: this process holds threads (the progress bar) and an open database.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=init_worker)
    exhausted = False
    try:
        while True:
            broken = False
            while not broken and len(pending) < 2 * n_workers and (retries or not exhausted):
                job = retries.pop() if retries else next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                tries[job.path] = tries.get(job.path, 0) + 1
                try:
                    pending[pool.submit(process_job, job, sr, timeout)] = job
                except BrokenProcessPool:
                    retries.append(job)
                    broken = True
            if not pending and not broken:
                break
            if pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = pending.pop(fut)
                    try:
                        run.finish(fut.result())
                        advance(1)
                    except BrokenProcessPool:
                        broken = True
                        retries.append(job)
            if broken:
                retries.extend(pending.values())
                pending.clear()
                for job in [j for j in retries if tries.get(j.path, 0) >= 2]:
                    retries.remove(job)
                    run.finish(Result(job, reason="worker-died",
                                      detail="a worker process died twice while on this file"))
                    advance(1)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=init_worker)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
