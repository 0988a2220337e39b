"""The store on a tmp RADIO_HOME: rows, cues, arrays, failures, lookups, schema guards."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import numpy as np
import pytest

from radio.analysis import ANALYSIS_VERSION, Analysis
from radio.config import Settings
from radio.errors import ConfigError, NotFound, RadioError
from radio.phrases import Cue
from radio.records import Track, TrackTags
from radio.store import Store
from radio.store_schema import SCHEMA_VERSION


def analysis(rng: np.random.Generator, *, duration: float = 30.0) -> Analysis:
    """A hand-made Analysis: the store must not care how it was computed."""
    beats = np.sort(rng.uniform(0, duration, 40))
    return Analysis(
        version=ANALYSIS_VERSION, duration=duration, audible_start=0.25,
        audible_end=duration - 0.5, tempo=123.4, tempo_confidence=0.8, beats=beats,
        downbeats=beats[::4], key="F#", mode="minor", key_confidence=0.6, camelot="11A",
        # a numpy scalar, as analysis may well return; typed as the float it stands for
        lufs=cast(float, np.float32(-12.5)),
        loudness_curve=rng.normal(-14, 2, 300).astype(np.float32), loudness_hop=0.1,
        summary=rng.normal(size=8).astype(np.float32),
        summary_names=tuple(f"f{i}" for i in range(8)),
        cues=[Cue("entry", float(beats[0]), 0, 32), Cue("exit", float(beats[32]), 32, 16)],
    )


def save(store: Store, rng: np.random.Generator, path: str, content_hash: str,
         title: str = "Night Drive", **kw: Any) -> Track:
    return store.save_track(path=path, content_hash=content_hash, size=1000, mtime=1.5,
                            tags=TrackTags(title=title, artist="Ana", tags=("synth", "dark")),
                            analysis=analysis(rng), **kw)


def test_schema_is_versioned_and_wal(store: Store, settings: Settings) -> None:
    assert store.schema_version() == SCHEMA_VERSION == 2
    conn = sqlite3.connect(settings.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    # v1: the library; v2: the operator's sponsors, impressions, feedback and plays.
    assert {"meta", "tracks", "cues", "failures", "sponsors", "sponsor_impressions", "feedback",
            "plays"} <= tables
    assert store.integrity_check() == "ok"


def test_save_track_round_trips_row_cues_and_arrays(store: Store, rng) -> None:
    a = analysis(rng)
    t = store.save_track(path="/m/a.mp3", content_hash="ab" * 16, size=1000, mtime=1.5,
                         tags=TrackTags(title="Night Drive", artist="Ana", lyrics="la\nla",
                                        tags=("synth",)), analysis=a)
    assert (t.path, t.title, t.artist, t.lyrics, t.tags) == (
        "/m/a.mp3", "Night Drive", "Ana", "la\nla", ("synth",))
    assert (t.tempo, t.key, t.mode, t.camelot, t.lufs) == (123.4, "F#", "minor", "11A", -12.5)
    assert t.status == "ok" and t.analysis_version == ANALYSIS_VERSION
    assert store.track(t.id) == t
    assert store.cues(t.id) == a.cues
    f = store.features(t)
    np.testing.assert_array_equal(f.beats, a.beats)
    np.testing.assert_array_equal(f.downbeats, a.downbeats)
    np.testing.assert_array_equal(f.loudness_curve, a.loudness_curve)
    np.testing.assert_array_equal(f.summary, a.summary)
    assert f.loudness_hop == a.loudness_hop and f.summary_names == a.summary_names
    # Written atomically: no temporary files left beside it.
    assert [p.name for p in store.features_path(t.content_hash).parent.iterdir()] == [
        f"{t.content_hash}.npz"]


def test_resave_replaces_row_cues_and_old_features(store: Store, rng) -> None:
    first = save(store, rng, "/m/a.mp3", "aa" * 16)
    second = save(store, rng, "/m/a.mp3", "bb" * 16, title="Renamed")
    assert second.id == first.id and second.added_at == first.added_at
    assert second.title == "Renamed" and len(store.cues(first.id)) == 2
    assert not store.features_path("aa" * 16).exists()
    assert store.features_path("bb" * 16).exists()
    assert len(store.tracks()) == 1


def test_data_survives_reopen(settings: Settings, rng) -> None:
    with Store(settings) as s1:
        t = save(s1, rng, "/m/a.mp3", "aa" * 16)
        s1.record_failure("/m/b.mp3", "not-audio", "garbage")
    with Store(settings) as s2:
        assert s2.track(t.id) == t
        assert [f.reason for f in s2.failures()] == ["not-audio"]


def test_find_track_by_id_title_name_and_path(store: Store, rng) -> None:
    a = save(store, rng, "/music/x/01 Intro.ogg", "aa" * 16, title="Intro")
    b = save(store, rng, "/music/y/intro-reprise.mp3", "bb" * 16, title="Intro (reprise)")
    c = save(store, rng, "/music/y/other.mp3", "cc" * 16, title="Dark Synth")
    assert store.find_track(str(c.id)) == c
    assert store.find_track("dark") == c  # case-insensitive title prefix
    assert store.find_track("intro") == a  # an exact title beats longer ones
    assert store.find_track("Intro (") == b
    assert store.find_track("other.m") == c  # file name prefix
    assert store.find_track("/music/x") == a  # path prefix
    with pytest.raises(NotFound, match="radio tracks"):
        store.find_track("nothing like it")
    with pytest.raises(RadioError, match="matches 2 tracks"):
        store.find_track("/music/y")


def test_update_location_moves_and_drops_stale_row(store: Store, rng) -> None:
    a = save(store, rng, "/m/a.mp3", "aa" * 16)
    stale = save(store, rng, "/m/b.mp3", "bb" * 16)
    store.update_location(a.id, path="/m/b.mp3", size=5, mtime=9.0)
    moved = store.track(a.id)
    assert (moved.path, moved.size, moved.mtime) == ("/m/b.mp3", 5, 9.0)
    with pytest.raises(NotFound):
        store.track(stale.id)
    assert store.cues(stale.id) == [] and len(store.cues(a.id)) == 2


def test_mark_missing_and_status_filter(store: Store, rng) -> None:
    a = save(store, rng, "/m/a.mp3", "aa" * 16)
    save(store, rng, "/m/b.mp3", "bb" * 16)
    assert store.mark_missing(["/m/a.mp3", "/m/nowhere.mp3"]) == 1
    assert store.mark_missing(["/m/a.mp3"]) == 0
    assert store.track(a.id).status == "missing"
    assert [t.path for t in store.tracks()] == ["/m/b.mp3"]
    assert len(store.tracks(status=None)) == 2
    assert store.totals() == (1, 30.0)


def test_failures_replaced_on_retry_and_cleared_on_success(store: Store, rng) -> None:
    store.record_failure("/m/a.mp3", "timeout", "decoder killed")
    store.record_failure("/m/a.mp3", "not-audio", "garbage")
    assert [(f.path, f.reason) for f in store.failures()] == [("/m/a.mp3", "not-audio")]
    save(store, rng, "/m/a.mp3", "aa" * 16)
    assert store.failures() == []
    store.record_failure("/m/c.mp3", "empty")
    store.clear_failure("/m/c.mp3")
    assert store.failures(path="/m/c.mp3") == []


def test_missing_features_file_is_a_clear_error(store: Store, rng) -> None:
    t = save(store, rng, "/m/a.mp3", "aa" * 16)
    store.features_path(t.content_hash).unlink()
    with pytest.raises(RadioError, match="radio ingest /m"):
        store.features(t)
    assert store.feature_hashes() == set()


def test_refuses_a_newer_schema_and_a_non_database(settings: Settings) -> None:
    with Store(settings) as s:
        s._db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match="schema version 999"):
        Store(settings)
    settings.db_path.unlink()
    settings.db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite database"):
        Store(settings)


def test_cue_ids_are_never_reused(store: Store, rng) -> None:
    t = save(store, rng, "/m/a.mp3", "aa" * 16)
    first = [i for i, _ in store.cue_rows(t.id)]
    save(store, rng, "/m/a.mp3", "bb" * 16)  # re-analysis replaces the cues
    second = [i for i, _ in store.cue_rows(t.id)]
    assert len(second) == 2 and min(second) > max(first)
    assert [c for _, c in store.cue_rows(t.id)] == store.cues(t.id)


def test_opening_a_current_store_never_writes(settings: Settings) -> None:
    """Another connection holding the write lock (a play being logged) must not block or
    fail the opening of a store: a current schema is only read."""
    import time

    Store(settings).close()
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        t0 = time.perf_counter()
        with Store(settings) as store:
            assert store.schema_version() >= 1 and store.tracks() == []
            assert store._db.conn.total_changes == 0
        assert time.perf_counter() - t0 < 2.0  # no wait for the busy timeout (10 s)
    finally:
        other.execute("ROLLBACK")
        other.close()
