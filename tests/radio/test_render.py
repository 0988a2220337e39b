"""The mix renderer on generated beat tracks with known grids: junction quality measured on the
output (beat continuity, no gap, loudness step, no clipping), laziness, bounded chunks, the
streaming limiter, the incremental encoders and ``radio render``."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
from click.testing import CliRunner

import radio.render as render_mod
from radio.audio import decode
from radio.cli import cli
from radio.dsp import Limiter, stretch
from radio.encode import Encoder
from radio.loudness import loudness
from radio.plan import Plan, PlanItem, Transition
from radio.render import Marker, RenderConfig, render
from tests.conftest import beat_track, write_audio

SR = 44100
CEILING = 10 ** (-0.5 / 20)


def _item(path: Path, *, bpm: float, entry: float, exit_: float, conf: float = 0.9,
          ref: int = 0) -> PlanItem:
    y = decode(path, sr=SR)
    return PlanItem(kind="track", ref=ref, path=str(path), title=path.stem, artist=None,
                    entry_time=entry, exit_time=exit_, tempo=bpm, beat_confidence=conf,
                    lufs=loudness(y=y, sr=SR)[0])


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    root = tmp_path_factory.mktemp("render")
    out = {}
    for name, bpm, seed, gain in (("a", 120.0, 1, 1.0), ("b", 126.0, 2, 0.3),
                                  ("c", 120.0, 3, 0.6)):
        y = beat_track(seconds=40.0, bpm=bpm, seed=seed) * gain
        out[name] = (write_audio(root / f"{name}.wav", y), bpm)
    return out


def _beats(plan: Plan) -> render_mod.BeatsFor:
    bpm = {it.path: it.tempo for it in plan.items}

    def beats_for(item: PlanItem) -> np.ndarray:
        return np.arange(0.0, 40.0, 60.0 / bpm[item.path])

    return beats_for


def _plan(tracks: dict[str, tuple[Path, float]], *, conf_b: float = 0.9) -> Plan:
    (pa, ba), (pb, bb), (pc, bc) = tracks["a"], tracks["b"], tracks["c"]
    ex_a, en_b = 64 * 60 / ba, 16 * 60 / bb
    ex_b, en_c = 64 * 60 / bb, 16 * 60 / bc
    items = [_item(pa, bpm=ba, entry=0.0, exit_=ex_a),
             _item(pb, bpm=bb, entry=en_b, exit_=ex_b, conf=conf_b),
             _item(pc, bpm=bc, entry=en_c, exit_=36.0)]
    trs = [Transition(0, ex_a, en_b, 16, bb / ba, 0.5), Transition(1, ex_b, en_c, 16, bc / bb, 0.5)]
    return Plan(station="test", items=items, transitions=trs)


def _render(plan: Plan, **kw: object) -> tuple[np.ndarray, list[Marker]]:
    marks: list[Marker] = []
    chunks = list(render(plan, beats_for=_beats(plan), config=RenderConfig(**kw),  # type: ignore[arg-type]
                         on_marker=marks.append))
    assert all(c.dtype == np.float32 and c.shape[1] == 2 for c in chunks)
    assert max(c.shape[0] for c in chunks) <= RenderConfig().chunk_frames
    return np.concatenate(chunks).T, marks


def _ibi_deviation_ms(y: np.ndarray, m: Marker) -> float:
    mono = y.mean(axis=0)
    w0, w1 = max(0, m.start - 10 * SR), min(mono.size, m.end + 10 * SR)
    seg = librosa.resample(mono[w0:w1], orig_sr=SR, target_sr=22050)
    _, frames = librosa.beat.beat_track(y=seg, sr=22050, hop_length=256)
    bt = librosa.frames_to_time(frames, sr=22050, hop_length=256) + w0 / SR
    ibi = np.diff(bt)
    z0, z1 = m.start / SR - 1, m.end / SR + 1
    dev = [abs(ibi[k] - np.median(ibi[max(0, k - 4) : k + 5])) for k in range(ibi.size)
           if bt[k + 1] >= z0 and bt[k] <= z1]
    return float(np.median(dev) * 1000)


@pytest.fixture(scope="module")
def rendered(tracks: dict[str, tuple[Path, float]]) -> tuple[Plan, np.ndarray, list[Marker]]:
    plan = _plan(tracks)
    y, marks = _render(plan)
    return plan, y, marks


def test_junctions_are_beat_matched_gapless_and_even(
    rendered: tuple[Plan, np.ndarray, list[Marker]],
) -> None:
    _, y, marks = rendered
    junctions = [m for m in marks if m.kind == "junction"]
    assert [m.style for m in junctions] == ["beat", "beat"]
    assert 20 * np.log10(np.max(np.abs(y))) <= -0.5
    for m in junctions:
        assert 4 * SR < m.end - m.start < 10 * SR  # 16 beats near 120 BPM
        assert _ibi_deviation_ms(y, m) <= 20.0
        zone = y.mean(axis=0)[m.start - SR : m.end + SR]
        hop = SR // 20
        rms = np.sqrt(np.mean(zone[: zone.size // hop * hop].reshape(-1, hop) ** 2, axis=1))
        assert np.all(20 * np.log10(rms + 1e-12) > -45)
        before = loudness(y=y[:, m.start - 3 * SR : m.start], sr=SR)[0]
        after = loudness(y=y[:, m.end : m.end + 3 * SR], sr=SR)[0]
        assert abs(before - after) <= 2.0


def test_kicks_of_both_songs_coincide_in_the_overlap(
    rendered: tuple[Plan, np.ndarray, list[Marker]],
) -> None:
    # Onsets in the overlap fall on one grid: no flams (two kicks 30-200 ms apart).
    _, y, marks = rendered
    m = next(k for k in marks if k.kind == "junction")
    seg = y.mean(axis=0)[m.start : m.end]
    on = librosa.onset.onset_detect(y=seg, sr=SR, units="time", backtrack=False, delta=0.2)
    gaps = np.diff(on)
    assert np.sum((gaps > 0.03) & (gaps < 0.2)) <= 2


def test_ambient_items_get_a_long_smooth_crossfade(tracks: dict[str, tuple[Path, float]]) -> None:
    y, marks = _render(_plan(tracks, conf_b=0.05), ambient_fade_s=8.0)
    styles = [m.style for m in marks if m.kind == "junction"]
    assert styles == ["smooth", "smooth"]
    m = next(k for k in marks if k.kind == "junction")
    assert m.end - m.start == pytest.approx(8 * SR, abs=2)
    assert 20 * np.log10(np.max(np.abs(y))) <= -0.5


def test_first_chunk_comes_before_the_plan_is_decoded(
    tracks: dict[str, tuple[Path, float]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = _plan(tracks)
    calls: list[str] = []
    real = decode

    def counting(path: Path | str, **kw: object) -> np.ndarray:
        calls.append(str(path))
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(render_mod, "decode", counting)
    stream = render(plan, beats_for=_beats(plan))
    first = next(stream)
    assert first.shape == (RenderConfig().chunk_frames, 2)
    assert set(calls) == {plan.items[0].path}  # only the first song, only its start
    assert len(calls) == 1
    for _ in stream:
        pass
    assert {plan.items[2].path} <= set(calls)


def test_limiter_streams_like_one_block_and_never_clips(rng: np.random.Generator) -> None:
    x = (0.5 * np.sin(np.arange(SR) * 0.05) + 0.05 * rng.standard_normal((2, SR)))
    x = x.astype(np.float32)
    x[:, 1000:1010] = 3.0  # one overload; the rest sits below the ceiling
    one = Limiter(sr=SR)
    whole = np.concatenate([one.process(x), one.flush()], axis=1)
    parts = Limiter(sr=SR)
    pieces = [parts.process(x[:, i : i + 777]) for i in range(0, SR, 777)] + [parts.flush()]
    streamed = np.concatenate(pieces, axis=1)
    assert whole.shape == x.shape == streamed.shape
    np.testing.assert_allclose(whole, streamed, atol=1e-6)
    assert np.max(np.abs(whole)) <= 10 ** (-1 / 20) + 1e-6
    np.testing.assert_allclose(whole[:, 5000:], x[:, 5000:], atol=1e-6)  # untouched after


def test_stretch_keeps_the_length_the_factor_implies() -> None:
    y = np.zeros((2, SR * 4), np.float32)
    f = np.linspace(1.0, 0.95, y.shape[1])
    assert stretch(y, sr=SR, factor=f).shape[1] == round(float(np.sum(1 / f)))


@pytest.mark.parametrize(("fmt", "suffix"), [("mp3", ".mp3"), ("opus", ".ogg")])
def test_encoder_output_decodes(rendered: tuple[Plan, np.ndarray, list[Marker]], tmp_path: Path,
                                fmt: str, suffix: str) -> None:
    _, y, _ = rendered
    pcm = y[:, : 10 * SR].T.copy()
    out = tmp_path / f"mix{suffix}"
    pieces = []
    with Encoder(fmt) as enc:  # type: ignore[arg-type]
        for i in range(0, pcm.shape[0], 4410):
            pieces.append(enc.feed(pcm[i : i + 4410]))
        pieces.append(enc.close())
    if fmt == "mp3":
        for p in pieces[:-1]:  # whole frames only: each chunk starts with a frame header
            assert not p or (p[0] == 0xFF and p[1] & 0xE0 == 0xE0)
    else:
        assert all(not p or p[:4] == b"OggS" for p in pieces)
    out.write_bytes(b"".join(pieces))
    back = decode(out, sr=SR)
    assert abs(back.shape[1] / SR - 10.0) < 0.1


def test_render_command_writes_a_mix(tracks: dict[str, tuple[Path, float]], tmp_path: Path) -> None:
    plan = _plan(tracks)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.to_dict()))
    out = tmp_path / "mix.mp3"
    result = CliRunner().invoke(cli, ["render", str(plan_file), "-o", str(out),
                                      "--home", str(tmp_path / "home"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["junctions"] == {"smooth": 2}  # no library features: smooth crossfades
    assert abs(decode(out, sr=SR).shape[1] / SR - report["seconds"]) < 0.2
    bad = CliRunner().invoke(cli, ["render", str(plan_file), "-o", str(tmp_path / "x.flac")])
    assert bad.exit_code == 1 and "use a .mp3" in bad.output
