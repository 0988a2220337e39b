"""Sponsors: the store, bad clips and fields, durability, placement into real plans, the
rendered level of an ad, the CLI and the admin routes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from click.testing import CliRunner

from radio.cli import cli
from radio.config import Settings
from radio.errors import NotFound, RadioError
from radio.placement import Rules, SponsorSpec, violations
from radio.plan import Plan, PlanItem, Transition
from radio.sponsor_clips import ClipRejected, add_sponsor, parse_time
from radio.sponsor_plans import (
    drop_deleted,
    junction_times,
    place_sponsors,
    record_played,
    sponsor_similarity,
)
from radio.sponsors import Impression, SponsorStore, sponsor_item
from radio.store import Store
from ranking.inference import ContinuationModel
from tests.conftest import beat_track, write_audio

if TYPE_CHECKING:  # imported where used, inside the tests that need them
    from fastapi.testclient import TestClient

    from radio.render import Marker


@pytest.fixture(scope="module")
def model() -> ContinuationModel:
    return ContinuationModel.load(None)


def _clip(path: Path, *, seconds: float = 12.0, bpm: float = 100.0, seed: int = 5) -> Path:
    return write_audio(path, beat_track(seconds=seconds, bpm=bpm, seed=seed))


def _spoken(path: Path, *, seconds: float = 10.0, level: float = 0.5) -> Path:
    """A beatless, speech-like clip: vowel formants with a syllable-rate envelope."""
    sr = 22050
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(3)
    f0 = 130 + 20 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.7 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    y = level * y * syllables / np.max(np.abs(y))
    return write_audio(path, np.stack([y, y]).astype(np.float32))


class FakeEmbedder:
    """Bag of known words: cosine is the share of words in common."""

    name, dim = "fake", 4
    _words = ("coffee", "night", "drive", "shoes")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.array([[w in t.lower() for w in self._words] for t in texts], np.float32)
        out += 1e-3
        return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True), dtype=np.float32)

    def truncated(self, text: str) -> bool:
        return False


# -- the store ----------------------------------------------------------------------------------

def test_add_analyses_copies_and_embeds(settings: Settings, tmp_path: Path,
                                        model: ContinuationModel) -> None:
    src = _clip(tmp_path / "in" / "ad.flac", bpm=100)
    s = add_sponsor(settings, src, name=" Acme ", text="coffee", tags=("coffee", " night ", ""),
                    cap_per_hour=2, min_gap_minutes=15, weight=2.0, model=model)
    assert s.name == "Acme" and s.tags == ("coffee", "night") and s.status == "active"
    assert Path(s.path).parent == settings.home / "sponsors" and Path(s.path).exists()
    assert Path(s.path).read_bytes() == src.read_bytes()
    assert s.path.endswith(".flac") and s.original_name == "ad.flac"
    assert abs(s.tempo - 100) < 3 and s.beats.size > 10
    assert -30 < s.lufs < -5 and s.audible_end > 11.5
    for v in (s.entry_vector, s.exit_vector):
        assert v.shape == (model.config.dim,) and abs(np.linalg.norm(v) - 1) < 1e-4
    item = sponsor_item(s)
    assert (item.kind, item.ref, item.entry_time, item.exit_time) == (
        "sponsor", s.id, s.audible_start, s.audible_end)
    with SponsorStore(settings) as store:
        again = store.get(s.id)
    assert np.array_equal(again.entry_vector, s.entry_vector) and again.cap_per_hour == 2


def _nothing_stored(settings: Settings) -> None:
    with SponsorStore(settings) as store:
        assert store.sponsors(include_deleted=True) == []
    folder = settings.home / "sponsors"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_bad_clips_are_rejected_and_nothing_is_stored(
        settings: Settings, tmp_path: Path, model: ContinuationModel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "ad.mp3"
    text.write_text("this is not audio at all\n" * 50)
    with pytest.raises(ClipRejected, match="not audio") as err:
        add_sponsor(settings, text, name="x", model=model)
    assert err.value.reason == "not-audio"
    silent = write_audio(tmp_path / "silent.wav", np.zeros((2, 22050 * 8), np.float32))
    with pytest.raises(ClipRejected) as err:
        add_sponsor(settings, silent, name="x", model=model)
    assert err.value.reason == "silent"
    short = _clip(tmp_path / "short.wav", seconds=2.0)
    with pytest.raises(ClipRejected) as err:
        add_sponsor(settings, short, name="x", model=model)
    assert err.value.reason == "too-short"
    ok = _clip(tmp_path / "ok.wav", seconds=12.0)
    monkeypatch.setenv("RADIO_SPONSOR_MAX_SECONDS", "10")
    with pytest.raises(ClipRejected, match="lasts 12 s") as err:
        add_sponsor(settings, ok, name="x", model=model)
    assert err.value.reason == "too-long"
    monkeypatch.setenv("RADIO_SPONSOR_MAX_BYTES", "1000")
    with pytest.raises(ClipRejected, match="limit") as err:
        add_sponsor(settings, ok, name="x", model=model)
    assert err.value.reason == "too-large"
    _nothing_stored(settings)


def test_bad_fields_are_refused_before_any_work(settings: Settings, tmp_path: Path) -> None:
    clip = tmp_path / "never-read.wav"  # the fields are checked first: no decoding needed
    now = time.time()
    cases = [
        ({"starts_at": now + 7200, "ends_at": now + 3600}, "no active window"),
        ({"ends_at": now - 60}, "has passed"),
        ({"cap_per_hour": 0}, "allows no ads"),
        ({"weight": 0.0}, "weight"),
        ({"min_gap_minutes": -1.0}, "minimum gap"),
        ({"tags": ("x" * 65,)}, "tags"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RadioError, match=message):
            add_sponsor(settings, clip, name="Acme", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(RadioError, match="name"):
        add_sponsor(settings, clip, name="  ")
    with pytest.raises(RadioError, match="not a date"):
        parse_time("next tuesday", what="--start")
    assert parse_time("2026-12-01T01:00", what="start") == parse_time(
        "2026-12-01T02:00+01:00", what="start")
    _nothing_stored(settings)


@pytest.fixture
def one_sponsor(settings: Settings, tmp_path: Path, model: ContinuationModel) -> int:
    return add_sponsor(settings, _clip(tmp_path / "ad.wav"), name="Acme", model=model).id


def test_pause_resume_delete(settings: Settings, one_sponsor: int) -> None:
    with SponsorStore(settings) as store:
        assert store.set_status(one_sponsor, "paused").status == "paused"
        assert store.set_status(one_sponsor, "active").status == "active"
        store.set_status(one_sponsor, "deleted")
        assert store.sponsors() == []
        assert [s.id for s in store.sponsors(include_deleted=True)] == [one_sponsor]
        with pytest.raises(NotFound):
            store.set_status(one_sponsor, "active")  # deleted stays deleted
        with pytest.raises(NotFound):
            store.get(one_sponsor, deleted=False)
        with pytest.raises(NotFound):
            store.report(999)


def test_impressions_and_report(settings: Settings, one_sponsor: int) -> None:
    now = 1_800_000_000.0
    plays = [("s1", "ann", now - 30, 0.5), ("s1", "bob", now - 1800, 1.5),
             ("s2", "ann", now - 7200, 1.0), ("s1", None, now - 90000, None)]
    with SponsorStore(settings) as store:
        for station, listener, t, drop in plays:
            store.record_impression(Impression(one_sponsor, station, listener, t, drop,
                                               0.4, 0.6))
        rep = store.report(one_sponsor, now=now)
        assert (rep.impressions, rep.last_hour, rep.last_day, rep.listeners) == (4, 2, 3, 2)
        assert rep.by_station == {"s1": 3, "s2": 1}
        assert rep.mean_drop == pytest.approx(1.0) and rep.first == now - 90000
        ann = store.impressions(since=now - 3600 * 3, listener="ann")
        assert [i.station for i in ann] == ["s2", "s1"]
        assert store.last_ad("s1") == (now - 30, one_sponsor)
        with pytest.raises(NotFound):
            store.record_impression(Impression(999, "s1", None, now, None, None, None))
    assert rep.to_dict()["by_station"] == {"s1": 3, "s2": 1}


def test_operator_data_survives_kill_9(settings: Settings, one_sponsor: int) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from radio.config import Settings
        from radio.sponsors import Impression, SponsorStore
        store = SponsorStore(Settings(home={str(settings.home)!r}))
        for k in range(50):
            store.record_impression(Impression({one_sponsor}, "s1", "ann", 1000.0 + k,
                                               0.1, 0.5, 0.5))
        store.set_status({one_sponsor}, "paused")
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with SponsorStore(settings) as store:
        assert len(store.impressions(since=0, station="s1")) == 50
        assert store.get(one_sponsor).status == "paused"
    with Store(settings) as lib:
        assert lib.integrity_check() == "ok"


# -- placement into real plans ------------------------------------------------------------------

@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, model: ContinuationModel
            ) -> Iterator[Settings]:
    """Four generated 50 s songs, ingested and cue-embedded."""
    from radio.ingest import ingest
    from radio.modeling import embed_library

    root = tmp_path_factory.mktemp("music")
    home = tmp_path_factory.mktemp("home")
    for k, bpm in enumerate((118, 120, 122, 121)):
        write_audio(root / f"song{k}.wav", beat_track(seconds=50, bpm=bpm, seed=40 + k))
    settings = Settings(home=home)
    summary = ingest([root], settings=settings, workers=1)
    assert summary.new == 4, summary
    embed_library(settings, model=model)
    yield settings


def _plan(settings: Settings) -> Plan:
    """Songs 0..3 joined at each one's last exit cue and the next one's first entry cue."""
    with Store(settings) as store:
        tracks = store.tracks()
        cues = {t.id: store.cues(t.id) for t in tracks}
    items, trs = [], []
    for k, t in enumerate(tracks):
        entries = [c.time for c in cues[t.id] if c.kind == "entry"]
        exits = [c.time for c in cues[t.id] if c.kind == "exit"]
        entry = t.audible_start if k == 0 else entries[0]
        exit_ = t.audible_end if k == len(tracks) - 1 else exits[-1]
        items.append(PlanItem(kind="track", ref=t.id, path=t.path, title=t.title,
                              artist=t.artist, entry_time=entry, exit_time=exit_,
                              tempo=t.tempo, beat_confidence=t.tempo_confidence, lufs=t.lufs))
    for k in range(len(items) - 1):
        trs.append(Transition(index=k, exit_time=items[k].exit_time,
                              entry_time=items[k + 1].entry_time, overlap_beats=8,
                              tempo_ratio=1.0, probability=0.5))
    return Plan(station="st", items=items, transitions=trs)


def test_place_record_delete_and_render(library: Settings, tmp_path: Path,
                                        model: ContinuationModel) -> None:
    from radio.render import beats_from_store, render

    settings = library
    plan = _plan(settings)
    coffee = add_sponsor(settings, _spoken(tmp_path / "coffee.wav", level=0.9), name="Coffee",
                         text="coffee for the night drive", cap_per_hour=1, min_gap_minutes=0,
                         model=model)
    shoes = add_sponsor(settings, _clip(tmp_path / "shoes.wav", bpm=120, seed=9),
                        name="Shoes", text="running shoes", cap_per_hour=1, min_gap_minutes=0,
                        model=model)
    assert sponsor_similarity([coffee, shoes], "night drive", embedder=FakeEmbedder())[0] > 0.5
    started = time.time()
    rules = Rules(min_gap_s=0.0)
    placed, result = place_sponsors(settings, plan, station="st", started_at=started,
                                    description="night drive", rules=rules, model=model,
                                    embedder=FakeEmbedder())
    # Three junctions within a few minutes: each sponsor's cap (1 an hour) allows one play.
    assert sorted(p.sponsor for p in result.placements) == sorted([coffee.id, shoes.id])
    assert result.exact
    ads = [k for k, it in enumerate(placed.items) if it.kind == "sponsor"]
    assert len(ads) == 2 and len(placed.transitions) == len(placed.items) - 1
    assert all(placed.items[k - 1].kind == placed.items[k + 1].kind == "track" for k in ads)
    notes = placed.meta["sponsors"]
    assert [n["item"] for n in notes] == ads and all("drop" in n["reason"] for n in notes)
    # Caps, spacing and windows hold, checked independently of the solver.
    specs = [SponsorSpec(id=s.id, entry_vector=s.entry_vector, exit_vector=s.exit_vector,
                         cap_per_hour=1) for s in (coffee, shoes)]
    chosen = {p.junction: [coffee.id, shoes.id].index(p.sponsor) for p in result.placements}
    times = junction_times(plan)
    assert violations(times, np.zeros((len(times), 2)), specs, rules, chosen) == []
    # A second pass over the same plan (as a growing station would) adds nothing: caps are
    # used by the ads already planned.
    again, res2 = place_sponsors(settings, placed, station="st", started_at=started,
                                 rules=rules, model=model, embedder=FakeEmbedder())
    assert res2.placements == () and again.items == placed.items

    # The stream plays the first ad: an impression with the junction's score.
    record_played(settings, placed, ads[0], listener="ann", at=started + 60)
    with SponsorStore(settings) as store:
        rep = store.report(placed.items[ads[0]].ref, now=started + 61)
    assert rep.impressions == 1 and rep.mean_drop is not None
    with pytest.raises(RadioError, match="not a sponsor"):
        record_played(settings, placed, 0, listener="ann")

    # Loudness: the ad sits under the music around it, within 1 LU of it.
    marks: list[Marker] = []
    audio = np.concatenate(list(render(placed, beats_for=beats_from_store(Store(settings)),
                                       on_marker=marks.append)))
    from radio.loudness import loudness

    sr = 44100
    spans = _item_spans(marks, len(placed.items), audio.shape[0])
    ad_k = next(k for k in ads if placed.items[k].ref == coffee.id)
    a0, a1 = spans[ad_k]
    ad_lufs = loudness(y=audio[a0 + sr : a1 - sr].T, sr=sr)[0]
    before = loudness(y=audio[max(0, a0 - 8 * sr) : a0].T, sr=sr)[0]
    after = loudness(y=audio[a1 : a1 + 8 * sr].T, sr=sr)[0]
    music = 10 * math.log10((10 ** (before / 10) + 10 ** (after / 10)) / 2)
    assert ad_lufs <= music + 0.3, (ad_lufs, before, after)  # never louder than the music
    assert ad_lufs >= music - 1.0, (ad_lufs, before, after)  # and within 1 LU of it

    # Shoes is deleted mid-stream (song 0 on air): its ad goes, the plan still renders.
    with SponsorStore(settings) as store:
        store.set_status(shoes.id, "deleted")
    pruned = drop_deleted(settings, placed, from_index=1)
    assert [it.ref for it in pruned.items if it.kind == "sponsor"] == [coffee.id]
    assert [it.ref for it in pruned.items if it.kind == "track"] == [
        it.ref for it in plan.items]
    frames = sum(c.shape[0] for c in render(pruned, beats_for=beats_from_store(
        Store(settings))))
    assert frames > 44100 * 60


def _item_spans(marks: list[Marker], n: int, total: int) -> dict[int, tuple[int, int]]:
    """Output frames of each item between the junctions around it."""
    starts = {m.index: m.start for m in marks if m.kind == "item"}
    junction_end = {m.index: m.end for m in marks if m.kind == "junction"}
    junction_start = {m.index: m.start for m in marks if m.kind == "junction"}
    out = {}
    for k in range(n):
        a = junction_end.get(k - 1, starts.get(k, 0))
        b = junction_start.get(k, total)
        out[k] = (a, b)
    return out


# -- CLI and routes -----------------------------------------------------------------------------

def test_cli_add_list_pause_resume_delete_report(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(settings.home)]
    clip = _clip(tmp_path / "ad.ogg")
    res = runner.invoke(cli, [*home, "sponsors", "add", str(clip), "--name", "Acme",
                              "--text", "coffee", "--tags", "coffee,morning",
                              "--cap-per-hour", "2", "--start", "2020-01-01", "--json"])
    assert res.exit_code == 0, res.output
    made = json.loads(res.output)
    assert made["tags"] == ["coffee", "morning"] and made["start"].startswith("2020-01-01")
    sid = str(made["id"])
    for cmd, status in (("pause", "paused"), ("resume", "active")):
        res = runner.invoke(cli, [*home, "sponsors", cmd, sid])
        assert res.exit_code == 0 and status in res.output
    listed = json.loads(runner.invoke(cli, [*home, "sponsors", "list", "--json"]).output)
    assert [s["name"] for s in listed] == ["Acme"]
    rep = json.loads(runner.invoke(cli, [*home, "sponsors", "report", sid, "--json"]).output)
    assert rep["impressions"] == 0 and rep["sponsor"]["id"] == made["id"]
    assert runner.invoke(cli, [*home, "sponsors", "delete", sid]).exit_code == 0
    assert json.loads(runner.invoke(cli, [*home, "sponsors", "list", "--json"]).output) == []
    res = runner.invoke(cli, [*home, "sponsors", "pause", sid])
    assert res.exit_code == 1 and "no sponsor" in res.output
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(os.urandom(4000))
    res = runner.invoke(cli, [*home, "sponsors", "add", str(bad), "--name", "X"])
    assert res.exit_code == 1 and "not audio" in res.output


TOKEN = "sponsor-test-token-0123456789"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from server.config import ServerSettings
    from server.routes_sponsors import router

    app = FastAPI()
    app.state.config = ServerSettings(radio=settings, admin_token=TOKEN,
                                      max_upload_bytes=2_000_000)
    app.include_router(router)
    with TestClient(app) as c:
        yield c


def test_routes(client: TestClient, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    clip = _clip(tmp_path / "ad.ogg").read_bytes()
    assert client.get("/sponsors").status_code == 401
    assert client.get("/sponsors", headers={"Authorization": "Bearer wrong"}).status_code == 401

    def post(data: bytes, name: str = "ad.ogg", **form: str):  # httpx2's or httpx's response
        return client.post("/sponsors", headers=auth, files={"clip": (name, data)},
                           data={"name": "Acme", **form})

    made = post(clip, text="coffee", tags="coffee, morning")
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    assert made.json()["tags"] == ["coffee", "morning"]
    big = post(b"\0" * 2_100_000, name="big.wav")  # refused by its declared length
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    streamed = post(b"\0" * 2_030_000, name="big.wav")  # by counting the bytes streamed in
    assert streamed.status_code == 413 and "limit" in streamed.json()["detail"]
    junk = post(b"<html>not audio</html>" * 100, name="ad.mp3")
    assert junk.status_code == 415 and "not audio" in junk.json()["detail"]
    window = post(clip, start="2027-01-02", end="2027-01-01")
    assert window.status_code == 422 and "no active window" in window.json()["detail"]
    cap = post(clip, cap_per_hour="0")
    assert cap.status_code == 422 and "allows no ads" in cap.json()["detail"]
    assert post(clip, cap_per_hour="many").status_code == 422
    assert [s["id"] for s in client.get("/sponsors", headers=auth).json()] == [sid]
    assert client.post(f"/sponsors/{sid}/pause", headers=auth).json()["status"] == "paused"
    rep = client.get(f"/sponsors/{sid}/report", headers=auth)
    assert rep.status_code == 200 and rep.json()["impressions"] == 0
    assert client.delete(f"/sponsors/{sid}", headers=auth).json()["status"] == "deleted"
    assert client.delete(f"/sponsors/{sid}", headers=auth).status_code == 404
    assert client.get("/sponsors/999/report", headers=auth).status_code == 404
    assert client.get("/sponsors", headers=auth).json() == []
    uploads = [p for p in (tmp_path / "home" / "sponsors").iterdir()
               if p.name.startswith(".upload")]
    assert uploads == []  # temporary uploads never stay behind
