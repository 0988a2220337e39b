"""The renderer on plans that grow while they play (``on_item``) and on plans with sponsor clips,
measured on the output of generated songs with known beat grids."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

import radio.render as render_mod
from radio.audio import decode
from radio.loudness import loudness
from radio.plan import Plan, PlanItem, Transition
from radio.render import Marker, RenderConfig, render
from tests.conftest import SR as GEN_SR
from tests.conftest import beat_track, write_audio

SR = 44100
SECONDS = 40.0


def _track(path: Path, bpm: float, *, ref: int, lufs: float = -14.0) -> PlanItem:
    return PlanItem(kind="track", ref=ref, path=str(path), title=path.stem, artist=None,
                    entry_time=0.0, exit_time=SECONDS - 4, tempo=bpm, beat_confidence=0.9,
                    lufs=lufs)


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> list[PlanItem]:
    root = tmp_path_factory.mktemp("plans")
    out = []
    for k, (bpm, gain) in enumerate(((120.0, 0.9), (124.0, 0.4), (120.0, 0.7), (118.0, 0.5))):
        y = beat_track(seconds=SECONDS, bpm=bpm, seed=10 + k) * gain
        path = write_audio(root / f"song{k}.wav", y)
        out.append(_track(path, bpm, ref=k, lufs=loudness(y=y, sr=SR)[0]))
    return out


def _beats_for(item: PlanItem) -> np.ndarray | None:
    if item.kind != "track":
        return None
    return np.arange(0.0, SECONDS, 60.0 / item.tempo)


def _join(a: PlanItem, b: PlanItem, index: int) -> tuple[PlanItem, Transition]:
    """B entering on its 8th beat, on A's beat 56."""
    exit_ = 56 * 60.0 / a.tempo
    entry = 8 * 60.0 / b.tempo
    return (replace(b, entry_time=entry),
            Transition(index, exit_, entry, 16, b.tempo / a.tempo, 0.5))


def _collect(plan: Plan, **kw: object) -> tuple[np.ndarray, list[Marker]]:
    marks: list[Marker] = []
    chunks = list(render(plan, beats_for=_beats_for, on_marker=marks.append, **kw))  # type: ignore[arg-type]
    return np.concatenate(chunks).T, marks


def _quietest_ms(y: np.ndarray, m: Marker) -> float:
    """Longest run (ms) of 50 ms windows under -45 dBFS within 1 s of the junction."""
    z = y.mean(axis=0)[max(0, m.start - SR) : m.end + SR]
    hop = SR // 20
    rms = np.sqrt(np.mean(z[: z.size // hop * hop].reshape(-1, hop) ** 2, axis=1) + 1e-20)
    run = best = 0
    for quiet in 20 * np.log10(rms) < -45:
        run = run + 1 if quiet else 0
        best = max(best, run)
    return best * 50.0


def _st(y: np.ndarray, a: int, b: int) -> float:
    return loudness(y=y[:, a:b], sr=SR)[0]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A log that the renderer's decoder writes ``decode <file stem>`` into."""
    log: list[str] = []

    def logged(path: Path | str, **kw: object) -> np.ndarray:
        log.append(f"decode {Path(path).stem}")
        return decode(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(render_mod, "decode", logged)
    return log


def test_a_plan_of_one_item_grows_through_on_item(songs: list[PlanItem], events: list[str]) -> None:
    plan = Plan(station="grow", items=[songs[0]], transitions=[])

    def on_item(i: int) -> None:
        events.append(f"on_item {i}")
        if i == len(plan.items) - 1 and len(plan.items) < 4:  # ensure one item ahead
            item, tr = _join(plan.items[-1], songs[len(plan.items)], i)
            plan.items.append(item)
            plan.transitions.append(tr)

    y, marks = _collect(plan, on_item=on_item)
    assert [e for e in events if e.startswith("on_item")] == [f"on_item {i}" for i in range(4)]
    for i in range(1, 4):  # item i is read only after on_item(i - 1) added it
        assert events.index(f"on_item {i - 1}") < events.index(f"decode song{i}")
    junctions = [m for m in marks if m.kind == "junction"]
    assert [m.style for m in junctions] == ["beat"] * 3
    items = [m for m in marks if m.kind == "item"]
    assert [m.index for m in items] == [0, 1, 2, 3]
    # Each item starts on its entry beat, with the overlap (the plan's convention).
    assert [m.offset for m in items] == pytest.approx([s.entry_time for s in plan.items])
    for m in junctions:
        assert _quietest_ms(y, m) < 200
        assert abs(_st(y, m.start - 3 * SR, m.start) - _st(y, m.end, m.end + 3 * SR)) <= 2.0
    # Length: each song from its entry to its exit; a 16-beat overlap starts on each exit.
    exits = [t.exit_time for t in plan.transitions] + [plan.items[-1].exit_time]
    expected = sum(x - s.entry_time for s, x in zip(plan.items, exits, strict=True))
    assert abs(y.shape[1] / SR - expected) < 0.5
    assert 20 * np.log10(np.max(np.abs(y))) <= -0.5


def test_a_replaced_tail_is_rendered_not_the_stale_one(
    songs: list[PlanItem], events: list[str],
) -> None:
    i1, t0 = _join(songs[0], songs[1], 0)
    i2, t1 = _join(i1, songs[2], 1)
    plan = Plan(station="swap", items=[songs[0], i1, i2], transitions=[t0, t1])

    def on_item(i: int) -> None:
        if i == 1:  # a skip-like replan: item 1 leaves earlier, into another song
            new, tr = _join(plan.items[1], songs[3], 1)
            tr = replace(tr, exit_time=48 * 60.0 / plan.items[1].tempo)
            plan.items[2:] = [new]
            plan.transitions[1:] = [tr]

    y, marks = _collect(plan, on_item=on_item)
    assert "decode song2" not in events and "decode song3" in events
    j = [m for m in marks if m.kind == "junction"]
    item1 = next(m for m in marks if m.kind == "item" and m.index == 1)
    # Item 1 played from its entry beat to the new exit (beat 48 at 124 BPM), then song 3.
    assert (j[1].start - item1.start) / SR == pytest.approx((48 - 8) * 60 / 124, abs=0.3)
    assert _quietest_ms(y, j[1]) < 200


def _speech_like(seconds: float, *, seed: int) -> np.ndarray:
    """Band-limited noise in syllables (80-250 ms) and words, with short pauses: an ad voice."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    noise = rng.standard_normal(n)
    sos = scipy.signal.butter(4, (250, 3500), btype="bandpass", fs=SR, output="sos")
    voice = scipy.signal.sosfilt(sos, noise)
    env = np.zeros(n)
    t = 0.05
    while t < seconds - 0.3:
        length = rng.uniform(0.08, 0.25)
        a, b = int(t * SR), int((t + length) * SR)
        env[a:b] = np.hanning(b - a) * rng.uniform(0.6, 1.0)
        t += length + (rng.uniform(0.08, 0.12) if rng.random() < 0.2 else rng.uniform(0.01, 0.04))
    y = voice * env
    y = 0.95 * y / np.max(np.abs(y))  # a loud, dense clip: louder than the music if left alone
    return np.stack([y, y]).astype(np.float32)


@pytest.fixture(scope="module")
def sponsor(tmp_path_factory: pytest.TempPathFactory) -> PlanItem:
    y = _speech_like(12.0, seed=5)
    path = write_audio(tmp_path_factory.mktemp("ad") / "ad.wav", y, sr=SR)
    return PlanItem(kind="sponsor", ref=1, path=str(path), title="ad", artist=None,
                    entry_time=0.0, exit_time=12.0, tempo=0.0, beat_confidence=0.0,
                    lufs=loudness(y=y, sr=SR)[0])


@pytest.fixture(scope="module")
def outro_song(tmp_path_factory: pytest.TempPathFactory) -> PlanItem:
    """A 120 BPM song whose outro (from 24 s) is 8 dB under the rest."""
    y = beat_track(seconds=SECONDS, bpm=120.0, seed=21)
    t = np.arange(y.shape[1]) / GEN_SR
    y = y * np.interp(t, [0.0, 20.0, 24.0, SECONDS], [1.0, 1.0, 0.4, 0.4]).astype(np.float32)
    path = write_audio(tmp_path_factory.mktemp("outro") / "outro.wav", y)
    return _track(path, 120.0, ref=9, lufs=loudness(y=y, sr=SR)[0])


def test_a_beatless_sponsor_is_ducked_in_at_the_music_level_and_never_louder(
    outro_song: PlanItem, songs: list[PlanItem], sponsor: PlanItem,
) -> None:
    a = replace(outro_song, exit_time=56 * 60 / 120)
    b = replace(songs[2], entry_time=8 * 60 / 120)
    trs = [Transition(0, a.exit_time, 0.0, 16, 1.0, 0.5),
           Transition(1, sponsor.exit_time, b.entry_time, 16, 1.0, 0.5)]
    y, marks = _collect(Plan(station="ad", items=[a, sponsor, b], transitions=trs))
    j0, j1 = (m for m in marks if m.kind == "junction")
    assert (j0.style, j1.style) == ("smooth", "smooth")
    assert j0.end - j0.start == pytest.approx(1.5 * SR, abs=2)  # a quick duck, both ways
    assert j1.end - j1.start == pytest.approx(1.5 * SR, abs=2)
    music = _st(y, j0.start - 3 * SR, j0.start)
    assert music < -18.0  # the outro: gained to -14 LUFS alone, the ad would be 4+ LU louder
    ad = y[:, j0.end : j1.start]
    assert ad.shape[1] == pytest.approx((12.0 - 1.5 - 1.5) * SR, abs=0.1 * SR)
    _, curve = loudness(y=ad, sr=SR, hop_s=0.5)
    inner = curve[3:-3]  # whole 3 s windows inside the clip
    assert inner.size >= 6
    assert np.all(inner <= music + 0.3)  # never louder than the music around it
    assert abs(loudness(y=ad, sr=SR)[0] - music) <= 1.0  # and just under it
    assert abs(float(np.median(inner)) - music) <= 1.0
    after = _st(y, j1.end, j1.end + 3 * SR)  # the next song picks up at the music's level
    assert abs(after - music) <= 1.0
    for m in (j0, j1):
        assert _quietest_ms(y, m) < 200
    assert 20 * np.log10(np.max(np.abs(y))) <= -0.5


def test_sponsor_fades_fit_a_short_clip(songs: list[PlanItem], sponsor: PlanItem) -> None:
    short = replace(sponsor, exit_time=5.0)  # 5 s: fades of a fifth of it, 1 s each
    a = replace(songs[0], exit_time=56 * 60 / 120)
    b = replace(songs[2], entry_time=0.0)  # no audio before B's entry: B starts on it
    trs = [Transition(0, a.exit_time, 0.0, 16, 1.0, 0.5), Transition(1, 5.0, 0.0, 16, 1.0, 0.5)]
    y, marks = _collect(Plan(station="ad", items=[a, short, b], transitions=trs))
    j0, j1 = (m for m in marks if m.kind == "junction")
    assert j0.end - j0.start == pytest.approx(1.0 * SR, abs=2)
    assert j1.end - j1.start == pytest.approx(1.0 * SR, abs=2)
    assert (j1.start - j0.end) / SR == pytest.approx(3.0, abs=0.05)
    for m in (j0, j1):
        assert _quietest_ms(y, m) < 200


def test_a_jingle_with_a_beat_is_beat_matched_in_four_beats(
    outro_song: PlanItem, songs: list[PlanItem], tmp_path: Path,
) -> None:
    y = beat_track(seconds=10.0, bpm=120.0, seed=31)  # loud: peak 0.8, -12 LUFS or so
    path = write_audio(tmp_path / "jingle.wav", y)
    jingle = PlanItem(kind="sponsor", ref=2, path=str(path), title="jingle", artist=None,
                      entry_time=0.0, exit_time=8.0, tempo=120.0, beat_confidence=0.9,
                      lufs=loudness(y=y, sr=GEN_SR)[0])
    a = replace(outro_song, exit_time=56 * 60 / 120)
    b = replace(songs[2], entry_time=8 * 60 / 120)
    trs = [Transition(0, a.exit_time, 0.0, 16, 1.0, 0.5), Transition(1, 8.0, b.entry_time,
                                                                     16, 1.0, 0.5)]

    def beats_for(item: PlanItem) -> np.ndarray:
        return np.arange(0.0, 10.0 if item.kind == "sponsor" else SECONDS, 60.0 / item.tempo)

    marks: list[Marker] = []
    plan = Plan(station="jingle", items=[a, jingle, b], transitions=trs)
    out = np.concatenate(list(render(plan, beats_for=beats_for, on_marker=marks.append))).T
    j0, j1 = (m for m in marks if m.kind == "junction")
    assert (j0.style, j1.style) == ("beat", "beat")
    for m in (j0, j1):
        assert (m.end - m.start) / SR == pytest.approx(4 * 0.5, abs=0.02)  # four beats
        assert _quietest_ms(out, m) < 200
    music = _st(out, j0.start - 3 * SR, j0.start)
    clip = out[:, j0.end : j1.start]
    assert abs(loudness(y=clip, sr=SR)[0] - music) <= 1.0
    assert loudness(y=clip, sr=SR, hop_s=0.5)[1][3:-3].max() <= music + 0.3


def test_a_long_song_is_decoded_in_pieces_that_join_seamlessly(
    songs: list[PlanItem], events: list[str],
) -> None:
    i1, t0 = _join(songs[0], songs[1], 0)
    plan = Plan(station="pieces", items=[songs[0], i1], transitions=[t0])
    whole, marks_whole = _collect(plan, config=RenderConfig(block_s=1000.0))
    assert events == ["decode song0"] * 2 + ["decode song1"]  # first 4 s, then the rest
    events.clear()
    pieces, marks_pieces = _collect(plan, config=RenderConfig(block_s=5.0))
    # Song 0: 4 s, then 16 s up to its held-back tail (from 20 s) in four pieces, the last
    # of which runs on through the tail.
    assert events.count("decode song0") == 5
    # Song 1's first piece must hold the overlap, its short-term window and its 20 s ride: all
    # of its 32 s.
    assert events.count("decode song1") == 1
    assert marks_pieces == marks_whole
    assert pieces.shape == whole.shape
    np.testing.assert_allclose(pieces, whole, atol=1e-4)


def test_a_clip_with_a_soft_passage_is_levelled_to_sit_just_under_the_music() -> None:
    """Loud tag line, then a disclaimer 8 dB softer: one gain that keeps the loud part under
    the music would leave the whole clip 2+ LU under it; levelled, it sits within 1 LU."""
    from radio.loudness_match import clip_offset, level_clip

    y = _speech_like(14.0, seed=8)
    y[:, int(5 * SR) :] *= 10 ** (-8 / 20)
    music = -20.0

    def placed(clip: np.ndarray) -> tuple[float, float]:
        out = clip * 10 ** (clip_offset(clip, sr=SR, music_lufs=music) / 20)
        lufs, curve = loudness(y=out, sr=SR, hop_s=0.5)
        return lufs, float(curve[3:-3].max())

    plain, _ = placed(y)
    assert plain < music - 2.0  # the problem, as measured without the leveller
    levelled, loudest = placed(level_clip(y, sr=SR))
    assert music - 1.0 <= levelled <= music and loudest <= music + 1e-3
