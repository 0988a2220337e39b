"""Ingestion on generated tracks with the real analysis: incremental runs, moves, duplicates,
missing files, every kind of bad input, worker processes, and a kill -9 in the middle."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import radio.ingest
import radio.ingest_scan
from radio.config import Settings
from radio.ingest import IngestSummary, ingest
from radio.store import Store
from tests.conftest import MakeTrack, beat_track, write_audio

ROOT = Path(__file__).resolve().parents[2]


def run(settings: Settings, *paths: Path, workers: int = 1) -> IngestSummary:
    return ingest(list(paths), settings=settings, workers=workers)


def reasons(settings: Settings) -> dict[str, str]:
    with Store(settings) as store:
        return {os.path.basename(f.path): f.reason for f in store.failures()}


@pytest.fixture
def library(tmp_path: Path, make_track: MakeTrack) -> Path:
    music = tmp_path / "music"
    make_track(music / "a.wav", seconds=9, bpm=120, seed=1)
    make_track(music / "sub" / "b.mp3", seconds=10, bpm=100, seed=2)
    make_track(music / "sub" / "c.OGG", seconds=8, bpm=140, seed=3)
    (music / "cover.jpg").write_bytes(b"not audio, not a suffix we scan")
    return music


def test_first_run_adds_everything_then_second_run_skips(settings: Settings,
                                                         library: Path) -> None:
    first = run(settings, library)
    assert (first.scanned, first.new, first.failed) == (3, 3, 0), first
    assert first.audio_seconds == pytest.approx(27, abs=0.5)
    assert first.library_tracks == 3
    with Store(settings) as store:
        tracks = store.tracks()
        assert sorted(t.title for t in tracks) == ["a", "b", "c"]
        for t in tracks:
            assert t.tempo > 0 and t.camelot and t.duration > 7
            assert len(store.features(t).beats) > 8
    second = run(settings, library)
    assert (second.skipped, second.new, second.updated) == (3, 0, 0)
    assert second.audio_seconds == 0


def test_unchanged_files_are_skipped_in_about_a_millisecond(settings: Settings,
                                                            library: Path) -> None:
    run(settings, library)
    started = time.perf_counter()
    again = run(settings, library)
    assert again.skipped == 3
    assert time.perf_counter() - started < 0.5  # store open + scan + 3 stats, no reads


def test_move_is_followed_without_reanalysis(settings: Settings, library: Path) -> None:
    run(settings, library)
    with Store(settings) as store:
        before = store.find_track("b")
    (library / "moved").mkdir()
    os.rename(library / "sub" / "b.mp3", library / "moved" / "b.mp3")
    s = run(settings, library)
    assert (s.moved, s.new, s.updated, s.missing, s.audio_seconds) == (1, 0, 0, 0, 0)
    with Store(settings) as store:
        after = store.track(before.id)
        assert after.path == str(library / "moved" / "b.mp3")
        assert after.tempo == before.tempo and after.status == "ok"


def test_duplicates_are_reported_not_added(settings: Settings, library: Path) -> None:
    shutil.copy(library / "a.wav", library / "copy of a.wav")
    s = run(settings, library)
    assert (s.new, s.duplicate, s.failed) == (3, 1, 0)
    with Store(settings) as store:
        [dup] = store.failures()
    assert dup.reason == "duplicate" and dup.path.endswith("copy of a.wav")
    assert dup.detail == f"same bytes as {library / 'a.wav'}"
    # Deleting the original turns the copy into a move; its failure is cleared.
    (library / "a.wav").unlink()
    s = run(settings, library)
    assert (s.moved, s.duplicate, s.missing) == (1, 0, 0)
    assert reasons(settings) == {}


def test_vanished_files_go_missing_and_come_back(settings: Settings, library: Path,
                                                 tmp_path: Path) -> None:
    run(settings, library)
    kept = tmp_path / "kept.wav"
    os.rename(library / "a.wav", kept)
    s = run(settings, library / "sub")
    assert s.missing == 0  # a.wav is not under the scanned root
    s = run(settings, library)
    assert s.missing == 1 and s.library_tracks == 2
    with Store(settings) as store:
        assert [t.status for t in store.tracks(status=None) if t.title == "a"] == ["missing"]
    os.rename(kept, library / "a.wav")
    s = run(settings, library)
    assert (s.skipped, s.new, s.library_tracks) == (3, 0, 3)


def test_changed_bytes_and_old_analysis_are_reanalysed(settings: Settings, library: Path,
                                                       make_track: MakeTrack) -> None:
    run(settings, library)
    make_track(library / "a.wav", seconds=12, bpm=90, seed=9)
    conn = sqlite3.connect(settings.db_path)
    with conn:
        conn.execute("UPDATE tracks SET analysis_version = -1 WHERE title = 'b'")
    conn.close()
    with Store(settings) as store:
        c = store.find_track("c")
        store.features_path(c.content_hash).unlink()
    s = run(settings, library)
    assert (s.updated, s.new, s.skipped) == (3, 0, 0), s
    with Store(settings) as store:
        assert store.find_track("a").duration == pytest.approx(12, abs=0.1)
        assert len(store.tracks()) == 3


def test_touch_without_change_refreshes_stamp_only(settings: Settings, library: Path) -> None:
    run(settings, library)
    os.utime(library / "a.wav", (1e9, 1e9))
    s = run(settings, library)
    assert (s.skipped, s.updated, s.audio_seconds) == (3, 0, 0)
    with Store(settings) as store:
        assert store.find_track("a").mtime == 1e9


def test_bad_inputs_are_recorded_and_ingestion_goes_on(settings: Settings, tmp_path: Path,
                                                       make_track: MakeTrack) -> None:
    bad = tmp_path / "bad"
    make_track(bad / "good.flac", seconds=8, seed=4)
    (bad / "empty.mp3").write_bytes(b"")
    (bad / "text.mp3").write_text("this is a text file with an audio name\n" * 50)
    wav = make_track(bad / "truncated.wav", seconds=20, seed=5)
    with open(wav, "r+b") as fh:
        fh.truncate(wav.stat().st_size // 3)
    make_track(bad / "short.wav", seconds=3, seed=6)
    write_audio(bad / "silent.wav", 0 * beat_track(seconds=8, bpm=120, seed=7))
    (bad / "dangling.mp3").symlink_to(bad / "nowhere.mp3")
    (bad / "loop1.mp3").symlink_to(bad / "loop2.mp3")
    (bad / "loop2.mp3").symlink_to(bad / "loop1.mp3")
    (bad / "folder.mp3").mkdir()
    os.mkfifo(bad / "pipe.wav")  # hashing or decoding it would block forever
    (bad / "sub").mkdir()
    (bad / "sub" / "up").symlink_to(bad)  # a folder loop
    os.close(os.open(os.fsencode(bad) + b"/latin1-\xe9.mp3", os.O_CREAT | os.O_WRONLY))

    s = run(settings, bad)
    got = reasons(settings)
    assert got == {
        "empty.mp3": "empty", "text.mp3": "not-audio", "truncated.wav": "truncated",
        "short.wav": "too-short", "silent.wav": "silent", "dangling.mp3": "unreadable",
        "loop1.mp3": "unreadable", "loop2.mp3": "unreadable", "folder.mp3": "not-a-file",
        "pipe.wav": "not-a-file", "latin1-\\xe9.mp3": "bad-filename",
    }, got
    assert (s.new, s.failed, s.library_tracks) == (1, 11, 1)
    assert s.failures == {"empty": 1, "not-audio": 1, "truncated": 1, "too-short": 1,
                          "silent": 1, "unreadable": 3, "not-a-file": 2, "bad-filename": 1}
    # A fixed file is retried and its failure cleared; a deleted one's failure is forgotten.
    make_track(bad / "short.wav", seconds=8, seed=6)
    (bad / "text.mp3").unlink()
    s = run(settings, bad)
    assert s.new == 1 and "short.wav" not in reasons(settings)
    assert "text.mp3" not in reasons(settings)


@pytest.mark.skipif(os.geteuid() != 0, reason="as root, permission bits do not stop reads")
def test_as_root_unreadable_means_what_stat_and_listing_refuse(
        settings: Settings, tmp_path: Path, make_track: MakeTrack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 means nothing to root, so an unlistable folder is simulated where it is listed.
    music = tmp_path / "music"
    make_track(music / "ok" / "a.wav", seed=1)
    make_track(music / "locked" / "b.wav", seed=2)
    real_scandir = os.scandir

    def scandir(path):
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr("radio.ingest_scan.os.scandir", scandir)
    s = run(settings, music)
    assert s.new == 1 and reasons(settings) == {"locked": "unreadable"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_as_a_normal_user(settings: Settings, tmp_path: Path,
                                          make_track: MakeTrack) -> None:
    path = make_track(tmp_path / "music" / "a.wav")
    path.chmod(0)
    s = run(settings, tmp_path / "music")
    assert s.failures == {"unreadable": 1}


def test_odd_names_are_ingested(settings: Settings, tmp_path: Path,
                                make_track: MakeTrack) -> None:
    names = ["ünïcödé 曲.wav", "with space.wav", "new\nline.wav", "-leading-dash.wav",
             "co:lon.wav", "UPPER.WAV"]
    for i, name in enumerate(names):
        make_track(tmp_path / "odd" / name, seconds=6, seed=20 + i)
    s = run(settings, tmp_path / "odd")
    assert (s.new, s.failed) == (len(names), 0), reasons(settings)
    with Store(settings) as store:
        assert sorted(os.path.basename(t.path) for t in store.tracks()) == sorted(names)


def test_too_large_files_are_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           make_track: MakeTrack) -> None:
    settings = Settings(home=tmp_path / "home", max_file_bytes=1000)
    make_track(tmp_path / "music" / "big.wav")
    monkeypatch.setattr(radio.ingest, "hash_file", lambda p: pytest.fail("read a huge file"))
    s = run(settings, tmp_path / "music")
    assert s.failures == {"too-large": 1}


def test_a_hanging_decoder_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     make_track: MakeTrack) -> None:
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    settings = Settings(home=tmp_path / "home", decode_timeout_s=0.5)
    make_track(tmp_path / "music" / "a.wav")
    started = time.perf_counter()
    s = run(settings, tmp_path / "music")
    assert s.failures == {"timeout": 1}
    assert time.perf_counter() - started < 10


def test_worker_processes_give_the_same_library(settings: Settings, library: Path,
                                                make_track: MakeTrack) -> None:
    (library / "bad.mp3").write_bytes(b"garbage" * 200)
    s = run(settings, library, workers=2)
    assert (s.new, s.failed, s.workers) == (3, 1, 2), s
    with Store(settings) as store:
        assert sorted(t.title for t in store.tracks()) == ["a", "b", "c"]


def test_kill_9_loses_nothing_committed_and_the_next_run_resumes(
        tmp_path: Path, settings: Settings) -> None:
    music = tmp_path / "music"
    n = 24
    for i in range(n):
        write_audio(music / f"t{i:02d}.wav", beat_track(seconds=6, bpm=90 + 3 * i, seed=100 + i))
    cmd = [sys.executable, "-c", "from radio.cli import main; main()",
           "--home", str(settings.home), "ingest", str(music), "--workers", "1", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    committed = 0
    deadline = time.monotonic() + 120
    while committed < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        if settings.db_path.exists():
            try:
                conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
                committed = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                pass  # the schema is still being created
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "ingestion ended before it could be killed"

    conn = sqlite3.connect(settings.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    conn.close()
    assert 3 <= before < n

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["skipped"], summary["new"], summary["failed"]) == (before, n - before, 0)
    with Store(settings) as store:
        assert store.integrity_check() == "ok"
        tracks = store.tracks()
        assert len(tracks) == n
        for t in tracks:
            store.features(t)
