"""Stations end to end over an ingested, embedded library of generated songs: pools, plans,
endless extension, skips, feedback, and the operator's listener data."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import radio.search
from radio.cli import cli
from radio.config import Settings
from radio.errors import NotFound, RadioError
from radio.listeners import plays, record_feedback, record_play, taste
from radio.plan import Plan
from radio.pools import StationRequest, candidate_pool, rank_pool, taste_vector
from radio.sequencing import CandidateSet, candidates
from radio.sponsor_plans import with_sponsor_beats
from radio.stations import Station, plan_station
from radio.store import Store
from ranking import ContinuationModel
from tests.library import ingest_albums
from tests.ranking.music import song
from tests.text.conftest import FakeEmbedder

ALBUMS = {"calm": ((70.0, 84.0), ["ambient", "calm"]),
          "drive": ((128.0, 140.0), ["techno", "electronic", "fast"])}


def _dark(y: np.ndarray) -> np.ndarray:
    """A soft, muffled version (a 32-tap moving average: energy below ~700 Hz)."""
    return (np.convolve(y, np.ones(32) / 32, mode="same") * 0.6).astype(np.float32)


def _bright(y: np.ndarray, beats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Loud, with a noisy hi-hat on every half beat (a bright, busy spectrum)."""
    out = y.astype(np.float64) * 1.5
    hop = (beats[1] - beats[0]) / 2
    n = int(0.03 * 22050)
    for t in np.arange(0, 50, hop):
        s = int(t * 22050)
        m = min(n, out.size - s)
        out[s : s + m] += 0.25 * rng.standard_normal(m) * np.exp(-np.arange(m) / 80)
    return np.clip(out, -1, 1).astype(np.float32)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two albums of five generated songs each (tagged by sidecar), ingested and embedded."""
    return ingest_albums(
        tmp_path_factory.mktemp("music"), tmp_path_factory.mktemp("home"), ALBUMS, seed=5,
        per_album=5, seconds=50, artist=lambda album, i: f"{album} band {i % 2}",
        shape=lambda album, y, beats, rng: _dark(y) if album == "calm" else _bright(y, beats, rng))


@pytest.fixture
def settings(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared library, with a fresh copy of its database (feedback stays per test)."""
    monkeypatch.setattr(radio.search, "default_embedder", FakeEmbedder)
    copy = tmp_path / "home"
    copy.mkdir()
    for name in ("features", "indexes"):
        (copy / name).symlink_to(home / name)
    with Store(Settings(home=home)) as src:
        src._db.conn.execute(f"VACUUM INTO '{copy / 'library.db'}'")
    return Settings(home=copy)


@pytest.fixture(scope="module")
def model() -> ContinuationModel:
    return ContinuationModel.load(None)


def _album(settings: Settings, track_id: int) -> str:
    with Store(settings) as store:
        return str(store.track(track_id).album)


def test_requests_are_validated() -> None:
    with pytest.raises(RadioError, match="seed song or a prompt"):
        StationRequest(prompt="   ")
    with pytest.raises(RadioError, match="minutes"):
        StationRequest(seed="1", minutes=0)
    with pytest.raises(RadioError, match="at most 10000"):
        StationRequest(prompt="x" * 10_001)


def test_pool_starts_with_the_seed_and_prefers_its_sound(settings: Settings) -> None:
    pool = candidate_pool(settings, StationRequest(seed="Calm 0", pool_size=5, diverse=1.0))
    assert pool.tracks[0].title == "Calm 0" and pool.reasons[0] == "the seed"
    albums = [t.album for t in pool.tracks[1:]]
    assert albums.count("calm") >= 3, albums  # 4 other calm songs among 10
    with pytest.raises(NotFound):
        candidate_pool(settings, StationRequest(seed="no such song"))


def test_prompt_pool_follows_the_words_and_a_title_becomes_the_seed(settings: Settings) -> None:
    pool = candidate_pool(settings, StationRequest(prompt="fast techno", pool_size=5,
                                                   diverse=1.0))
    assert pool.seed is None
    assert [t.album for t in pool.tracks[:4]] == ["drive"] * 4
    titled = candidate_pool(settings, StationRequest(prompt="drive 3", pool_size=4))
    assert titled.seed is not None and titled.seed.title == "Drive 3"
    assert titled.tracks[0].title == "Drive 3"


def test_listener_blocks_and_recent_skips_are_left_out_and_likes_pull(settings: Settings
                                                                      ) -> None:
    with Store(settings) as store:
        ids = {t.title: t.id for t in store.tracks()}
    record_feedback(settings, listener="ann", track_id=ids["Calm 1"], kind="block")
    record_feedback(settings, listener="ann", track_id=ids["Calm 2"], kind="skip")
    record_feedback(settings, listener="ann", track_id=ids["Calm 3"], kind="skip")
    record_feedback(settings, listener="ann", track_id=ids["Calm 3"], kind="like")  # changed mind
    t = taste(settings, "ann")
    assert t.blocks == {ids["Calm 1"]} and t.recent_skips == {ids["Calm 2"]}
    assert t.likes == {ids["Calm 3"]} and t.counts == {"block": 1, "skip": 2, "like": 1}
    pool = candidate_pool(settings, StationRequest(seed="Calm 0", listener="ann", pool_size=10))
    got = {x.id for x in pool.tracks}
    assert ids["Calm 1"] not in got and ids["Calm 2"] not in got and ids["Calm 3"] in got
    old = taste(settings, "ann", now=1e12)  # long after: the skip has expired, the block not
    assert old.recent_skips == frozenset() and old.blocks == {ids["Calm 1"]}
    with pytest.raises(RadioError, match="like, skip or block"):
        record_feedback(settings, listener="ann", track_id=1, kind="love")  # type: ignore[arg-type]
    with pytest.raises(RadioError, match="empty"):
        taste(settings, " ")


def test_rank_pool_taste_and_mmr_on_known_vectors() -> None:
    v = np.eye(4, dtype=np.float32)[[0, 0, 1, 2, 3]]  # rows 0 and 1 are identical
    rel = np.array([1.0, 0.99, 0.5, 0.4, 0.3])
    allowed = np.ones(5, bool)
    assert rank_pool(v, rel, size=2, diverse=1.0, allowed=allowed) == [0, 1]
    assert rank_pool(v, rel, size=2, diverse=0.5, allowed=allowed)[1] != 1  # redundant
    tv = taste_vector(v, np.array([0, 0, 0, 0, 1], bool), np.zeros(5, bool))
    assert tv is not None
    assert rank_pool(v, rel, size=1, diverse=1.0, allowed=allowed, taste=tv,
                     taste_weight=2.0) == [4]
    assert rank_pool(v, rel, size=3, diverse=1.0, allowed=allowed, first=3)[0] == 3
    assert taste_vector(v, np.zeros(5, bool), np.ones(5, bool)) is None


def test_candidates_are_the_embedded_songs_with_their_stored_cues(
        settings: Settings, model: ContinuationModel) -> None:
    with Store(settings) as store:
        tracks = store.tracks()[:3]
        cues = {t.id: store.cues(t.id) for t in tracks}
    lib = candidates(settings, tracks, model=model)
    assert isinstance(lib, CandidateSet) and lib.dropped == []
    assert [t.id for t in lib.tracks] == [c.track_id for c in lib.candidates] == [
        t.id for t in tracks]
    for c in lib.candidates:
        assert c.exit_times.tolist() == [q.time for q in cues[c.track_id] if q.kind == "exit"]
        assert c.entry_times.tolist() == [q.time for q in cues[c.track_id] if q.kind == "entry"]
        assert c.exit_vectors.shape == (len(c.exit_times), model.config.dim)


def test_plan_station_keeps_the_seed_first_and_joins_on_stored_cues(
        settings: Settings, model: ContinuationModel) -> None:
    plan = plan_station(settings, StationRequest(seed="Drive 2", minutes=3), model=model)
    assert plan.items[0].title == "Drive 2"
    refs = [i.ref for i in plan.items]
    assert len(refs) == len(set(refs)) >= 3
    assert plan.meta["duration_s"] >= 180
    with Store(settings) as store:
        for k, tr in enumerate(plan.transitions):
            exits = [c.time for c in store.cues(plan.items[k].ref) if c.kind == "exit"]
            entries = [c.time for c in store.cues(plan.items[k + 1].ref) if c.kind == "entry"]
            assert min(abs(np.array(exits) - tr.exit_time)) < 1e-6
            assert min(abs(np.array(entries) - tr.entry_time)) < 1e-6
            assert 0 < tr.probability < 1 and tr.overlap_beats in (8, 16)
    assert plan.log_probability == pytest.approx(
        sum(np.log(t.probability) for t in plan.transitions), abs=1e-6)
    j = plan.meta["junctions"][0]
    assert j["score"] == pytest.approx(j["log_p"] + j["tempo"] + j["key"] + j["loudness"],
                                       abs=1e-3)


def test_endless_station_grows_without_touching_the_past(settings: Settings,
                                                         model: ContinuationModel) -> None:
    st = Station.create(settings, StationRequest(prompt="calm ambient", pool_size=10),
                        model=model)
    assert len(st.plan.items) >= 3 and len(st.plan.transitions) == len(st.plan.items) - 1
    items, transitions = st.plan.items, st.plan.transitions  # the very list objects grow
    for i in range(25):  # far past the 10-song library: pools are refilled, songs return
        before = list(items[:i])
        before_tr = list(transitions[:i])
        st.ensure_ahead(i)
        assert items[:i] == before and transitions[:i] == before_tr
        assert len(items) - 1 - i >= 2 and len(transitions) == len(items) - 1
        assert items[i + 1].ref != items[i].ref
        assert transitions[i].exit_time == pytest.approx(
            st.plan.transitions[i].exit_time)
    refs = [x.ref for x in items[:25]]
    assert max(refs.count(r) for r in set(refs)) <= 4  # rotation, not one song on repeat


def test_planning_failures_are_radio_errors_and_bugs_are_not(
        settings: Settings, model: ContinuationModel, monkeypatch: pytest.MonkeyPatch) -> None:
    import radio.stations as stations
    from ranking.errors import PlanError

    st = Station.create(settings, StationRequest(prompt="calm ambient", pool_size=10),
                        model=model)
    n = len(st.plan.items)

    def fail(exc: Exception) -> Callable[..., None]:
        def raise_(*args: object, **kwargs: object) -> None:
            raise exc
        return raise_

    monkeypatch.setattr(stations, "extend", fail(PlanError("nothing feasible")))
    with pytest.raises(RadioError, match=r"cannot extend station \w+: nothing feasible"):
        st.ensure_ahead(n - 1)  # the last song: two more are wanted after it
    monkeypatch.setattr(stations, "extend", fail(ValueError("inconsistent shapes")))
    with pytest.raises(ValueError, match="inconsistent shapes"):  # a bug is not a bad request
        st.ensure_ahead(n - 1)  # the last song: two more are wanted after it
    assert len(st.plan.items) == n  # the plan is as it was
    monkeypatch.setattr(stations, "sequence", fail(PlanError("too few candidates")))
    with pytest.raises(RadioError, match="too few candidates"):
        Station.create(settings, StationRequest(prompt="calm ambient", pool_size=10),
                       model=model)
    with pytest.raises(RadioError, match="too few candidates"):
        plan_station(settings, StationRequest(prompt="calm ambient", pool_size=10), model=model)


def test_skip_leaves_at_the_next_downbeat_and_feedback_bans(settings: Settings,
                                                             model: ContinuationModel) -> None:
    st = Station.create(settings, StationRequest(seed="Calm 0", listener="bob", pool_size=10),
                        model=model)
    st.ensure_ahead(0)
    first = st.plan.items[0]
    kept = st.plan.items[0]
    st.feedback("skip", first.ref)
    st.replan_after(0, not_before=20.0)
    tr = st.plan.transitions[0]
    with Store(settings) as store:
        downbeats = store.features(store.track(first.ref)).downbeats
    assert tr.exit_time >= 20.0 and np.min(np.abs(downbeats - tr.exit_time)) < 1e-6
    assert tr.exit_time == min(d for d in downbeats if d >= 20.0)
    assert st.plan.items[0].entry_time == kept.entry_time
    assert st.plan.items[1].entry_time == pytest.approx(tr.entry_time)
    assert len(st.plan.items) >= 3
    for i in range(1, 12):
        st.ensure_ahead(i)
    assert first.ref not in [x.ref for x in st.plan.items[1:]]
    assert taste(settings, "bob").recent_skips == {first.ref}
    with pytest.raises(RadioError, match="not in the station"):
        st.replan_after(999, not_before=0.0)


def _write_and_die(home: str) -> None:
    settings = Settings(home=Path(home))
    record_play(settings, station="s1", listener="ann", item_kind="track", ref=3,
                started_at=1.0, junction_probability=0.5)
    record_feedback(settings, listener="ann", track_id=3, kind="like")
    import os

    os._exit(9)  # no clean shutdown, no close


def test_operator_rows_survive_a_killed_process(settings: Settings) -> None:
    proc = mp.get_context("spawn").Process(target=_write_and_die, args=(str(settings.home),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 9
    assert [p["ref"] for p in plays(settings, station="s1")] == [3]
    assert taste(settings, "ann").likes == {3}


def test_plan_cli_writes_a_plan_that_render_reads(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    res = CliRunner().invoke(cli, ["--home", str(settings.home), "plan", "--seed", "Calm 4",
                                   "--minutes", "2", "--explain", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "log P" in res.output and "Calm 4" in res.output.splitlines()[0]
    plan = Plan.load(out)
    assert plan.items[0].title == "Calm 4" and len(plan.transitions) == len(plan.items) - 1
    bad = CliRunner().invoke(cli, ["--home", str(settings.home), "plan"])
    assert bad.exit_code == 1 and "seed song or a prompt" in bad.output


def test_sponsor_clips_join_the_growing_plan_without_touching_the_past(
        settings: Settings, model: ContinuationModel, tmp_path: Path) -> None:
    from radio.sponsor_clips import add_sponsor

    y, _ = song(np.random.default_rng(99), seconds=12, sr=22050, bpm=120.0)
    clip = tmp_path / "jingle.wav"
    sf.write(clip, np.stack([y, y], 1), 22050)
    ad = add_sponsor(settings, clip, name="Jingle", text="calm tea", cap_per_hour=6,
                     min_gap_minutes=2.0, model=model)
    st = Station.create(settings, StationRequest(prompt="calm ambient", pool_size=10),
                        model=model)
    items = st.plan.items
    for i in range(20):
        before, entry = list(items[:i]), items[i].entry_time
        st.ensure_ahead(i)
        assert items[:i] == before and items[i].entry_time == entry  # the past stays
        assert sum(it.kind == "track" for it in items[i + 1 :]) >= 2
        assert len(st.plan.transitions) == len(items) - 1
    ads = [k for k, it in enumerate(items) if it.kind == "sponsor"]
    assert ads and all(items[k].ref == ad.id for k in ads)
    assert all(items[k - 1].kind == items[k + 1].kind == "track" for k in ads if k + 1 < len(items))
    times = np.cumsum([0.0] + [tr.exit_time - it.entry_time
                               for it, tr in zip(items, st.plan.transitions, strict=False)])
    assert np.all(np.diff(times[ads]) >= 120.0 - 1e-6)  # the sponsor's 2-minute spacing
    notes = {int(n["item"]) for n in st.snapshot().meta["sponsors"]}
    assert set(ads) <= notes | {k for k in ads if k > 20}
    # The renderer hears the jingle's own beat (120 BPM), and the songs' through the library.
    beats_for = with_sponsor_beats(settings, lambda item: np.array([7.0]))
    jingle = beats_for(items[ads[0]])
    assert jingle is not None  # its stored grid: 120 BPM, or the half-time 60 (octave)
    assert min(abs(np.median(np.diff(jingle)) - p) for p in (0.5, 1.0)) < 0.02
    first_song = beats_for(items[0])
    assert first_song is not None and first_song.tolist() == [7.0]
