"""Junction quality of `radio.render`, measured on the rendered audio, against two baselines.

Plans are built from a real library (its tracks' exit/entry cues, tempo-compatible pairs, plus
pairs of tracks without a reliable beat) and rendered three ways in the same run:

- ``render``: `radio.render.render` (beat-aligned, stretched, equal-power, bass swap);
- ``xfade5``: the naive player: each song to its audible end, a fixed 5 s linear crossfade into
  the next song's audible start;
- ``cut``: a hard cut from the exit cue to the entry cue.

All three get the same loudness gain and limiter, so the comparison is about the junctions.
Each junction is measured on the output: beat continuity (librosa's beat tracker over +-10 s;
per inter-beat interval, the deviation from the median of its 9 neighbours, median and max over
the intervals in the junction zone = overlap +-1 s), the longest gap (50 ms RMS below -45 dBFS)
in the zone, the loudness step (short-term LUFS of the 3 s before vs the 3 s after the overlap),
the largest short-term jump anywhere from 10 s before to 25 s after the overlap (3 s windows
every 0.5 s, each against the one 3 s later: this also sees the overlap itself and the level
ride after it, not just the two windows the renderer matches) and the whole output's sample peak.

    nice -n 10 .venv/bin/python bench/transitions.py [--home radio-data-dev] [--pairs 12]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.audio import decode
from radio.config import Settings
from radio.dsp import Limiter, db_to_gain
from radio.loudness import loudness
from radio.plan import Plan, PlanItem, Transition
from radio.records import Track
from radio.render import Marker, RenderConfig, beats_from_store, render
from radio.store import Store

SR = 44100


@dataclass
class Junction:
    beat_med_ms: float
    beat_max_ms: float
    gap_ms: float
    step_lu: float
    jump_lu: float


def item_for(t: Track, entry: float, exit_: float) -> PlanItem:
    return PlanItem(kind="track", ref=t.id, path=t.path, title=t.title, artist=t.artist,
                    entry_time=entry, exit_time=exit_, tempo=t.tempo,
                    beat_confidence=t.tempo_confidence, lufs=t.lufs)


def _fold(a: float, b: float) -> float:
    r = b / a
    return float(r / 2.0 ** round(np.log2(r)))


def build_plans(store: Store, *, pairs: int, seed: int = 0) -> list[Plan]:
    """Two-track plans: ``pairs`` beat pairs (folded tempo within 6 %) and up to 3 ambient."""
    rng = np.random.default_rng(seed)
    tracks = [t for t in store.tracks() if t.audible_end - t.audible_start > 60]
    cues = {t.id: store.cues(t.id) for t in tracks}
    beat = [t for t in tracks if t.tempo_confidence >= 0.4 and cues[t.id]]
    calm = [t for t in tracks if t.tempo_confidence < 0.2]
    plans: list[Plan] = []
    order = rng.permutation(len(beat))
    used: set[int] = set()
    for i in order:
        a = beat[i]
        if a.id in used:
            continue
        for j in rng.permutation(len(beat)):
            b = beat[j]
            if b.id in used or b.id == a.id or abs(_fold(a.tempo, b.tempo) - 1) > 0.06:
                continue
            exits = [c for c in cues[a.id] if c.kind == "exit"]
            entries = [c for c in cues[b.id] if c.kind == "entry"]
            if not exits or not entries:
                continue
            ex = max(exits, key=lambda c: (c.phrase, -c.time))
            en = min(entries, key=lambda c: (-c.phrase, c.time))
            plans.append(_pair_plan(a, b, ex.time, en.time, a.tempo, b.tempo))
            used |= {a.id, b.id}
            break
        if len(plans) >= pairs:
            break
    for k in range(0, min(len(calm) - 1, 6), 2):
        a, b = calm[k], calm[k + 1]
        plans.append(_pair_plan(a, b, max(a.audible_end - 20, a.audible_start + 30),
                                b.audible_start + 10.0, a.tempo, b.tempo))
    return plans


def _pair_plan(a: Track, b: Track, exit_: float, entry: float, ta: float, tb: float) -> Plan:
    start = max(a.audible_start, exit_ - 45.0)
    items = [item_for(a, start, exit_), item_for(b, entry, min(b.audible_end, entry + 30.0))]
    ratio = _fold(ta, tb) if ta > 0 and tb > 0 else 1.0
    tr = Transition(index=0, exit_time=exit_, entry_time=entry, overlap_beats=16,
                    tempo_ratio=ratio, probability=0.5)
    return Plan(station="bench", items=items, transitions=[tr])


def collect(chunks: Iterator[np.ndarray]) -> np.ndarray:
    return np.concatenate(list(chunks), axis=0).T


def baseline(plan: Plan, store: Store, kind: str, cfg: RenderConfig) -> tuple[np.ndarray, Marker]:
    """The naive renders: (audio (2, n), the junction's marker)."""
    a, b = plan.items
    ta, tb = store.track(a.ref), store.track(b.ref)
    if kind == "cut":
        ya = decode(a.path, sr=SR, offset=a.entry_time, duration=a.exit_time - a.entry_time)
        yb = decode(b.path, sr=SR, offset=plan.transitions[0].entry_time,
                    duration=b.exit_time - plan.transitions[0].entry_time)
        fade = 0
    else:
        ya = decode(a.path, sr=SR, offset=a.entry_time, duration=ta.audible_end - a.entry_time)
        yb = decode(b.path, sr=SR, offset=tb.audible_start, duration=30.0)
        fade = 5 * SR
    ga = db_to_gain(cfg.target_lufs - a.lufs)
    gb = db_to_gain(cfg.target_lufs - b.lufs)
    ya, yb = ya * ga, yb * gb
    n = ya.shape[1] + yb.shape[1] - fade
    out = np.zeros((2, n), np.float32)
    ramp = np.linspace(1, 0, fade, dtype=np.float32)
    out[:, : ya.shape[1]] = ya
    if fade:
        out[:, ya.shape[1] - fade : ya.shape[1]] *= ramp
        yb[:, :fade] *= ramp[::-1]
    out[:, ya.shape[1] - fade :] += yb
    lim = Limiter(sr=SR, ceiling_db=cfg.ceiling_db)
    res = np.concatenate([lim.process(out), lim.flush()], axis=1)
    j0 = ya.shape[1] - fade
    return res, Marker("junction", 0, j0, ya.shape[1], "baseline")


def measure(y: np.ndarray, m: Marker) -> Junction:
    import librosa

    mono = y.mean(axis=0)
    w0 = max(0, m.start - 10 * SR)
    w1 = min(mono.size, m.end + 10 * SR)
    seg = librosa.resample(mono[w0:w1], orig_sr=SR, target_sr=22050)
    _, frames = librosa.beat.beat_track(y=seg, sr=22050, hop_length=256)
    bt = librosa.frames_to_time(frames, sr=22050, hop_length=256) + w0 / SR
    ibi = np.diff(bt)
    z0, z1 = m.start / SR - 1.0, m.end / SR + 1.0
    devs = []
    for k in range(ibi.size):
        if bt[k + 1] < z0 or bt[k] > z1:
            continue
        ref = np.median(ibi[max(0, k - 4) : k + 5])
        devs.append(abs(ibi[k] - ref))
    d = np.array(devs) * 1000 if devs else np.array([np.nan])
    hop = SR // 20
    z = mono[max(0, m.start - SR) : m.end + SR]
    rms = np.sqrt(np.mean(z[: z.size // hop * hop].reshape(-1, hop) ** 2, axis=1) + 1e-20)
    low = 20 * np.log10(rms) < -45
    run = best = 0
    for v in low:
        run = run + 1 if v else 0
        best = max(best, run)
    before = y[:, max(0, m.start - 3 * SR) : m.start]
    after = y[:, m.end : m.end + 3 * SR]
    step = abs(loudness(y=before, sr=SR)[0] - loudness(y=after, sr=SR)[0])
    zone = y[:, max(0, m.start - 10 * SR) : m.end + 25 * SR]
    _, curve = loudness(y=zone, sr=SR, hop_s=0.5)
    curve = curve[3 : curve.size - 3]  # whole 3 s windows only
    jump = float(np.max(np.abs(curve[6:] - curve[:-6]))) if curve.size > 6 else float("nan")
    return Junction(float(np.median(d)), float(np.max(d)), best * 50.0, float(step), jump)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--pairs", type=int, default=12)
    args = ap.parse_args()
    cfg = RenderConfig()
    rows: dict[str, list[Junction]] = {"render": [], "xfade5": [], "cut": []}
    styles: list[str] = []
    peaks: dict[str, float] = {k: -120.0 for k in rows}
    with Store(Settings(home=args.home)) as store:
        plans = build_plans(store, pairs=args.pairs)
        beats_for = beats_from_store(store)
        for plan in plans:
            marks: list[Marker] = []
            y = collect(render(plan, beats_for=beats_for, config=cfg, on_marker=marks.append))
            jm = next(m for m in marks if m.kind == "junction")
            styles.append(jm.style)
            outs = {"render": (y, jm)}
            outs["xfade5"] = baseline(plan, store, "xfade", cfg)
            outs["cut"] = baseline(plan, store, "cut", cfg)
            for name, (audio, mark) in outs.items():
                rows[name].append(measure(audio, mark))
                peak = 20 * np.log10(max(float(np.max(np.abs(audio))), 1e-9))
                peaks[name] = max(peaks[name], peak)
            r = rows["render"][-1]
            a, b = plan.items
            print(f"{a.title[:22]:22} -> {b.title[:22]:22} {jm.style:6} "
                  f"{a.tempo:5.1f}->{b.tempo:5.1f} BPM  beat med {r.beat_med_ms:5.1f} ms "
                  f"max {r.beat_max_ms:5.1f}  gap {r.gap_ms:4.0f} ms  step {r.step_lu:4.1f} LU "
                  f"(xfade5 {rows['xfade5'][-1].step_lu:4.1f}, cut {rows['cut'][-1].step_lu:4.1f})"
                  f"  jump {r.jump_lu:4.1f} LU (xfade5 {rows['xfade5'][-1].jump_lu:4.1f}, "
                  f"cut {rows['cut'][-1].jump_lu:4.1f})", flush=True)
    print(f"\n{len(plans)} junctions ({styles.count('beat')} beat, "
          f"{styles.count('smooth')} smooth, {styles.count('short')} short) from {args.home}")
    beat_idx = [i for i, s in enumerate(styles) if s == "beat"]
    print("renderer | beat dev median ms (beat junctions: median, worst) | gap>200ms | "
          "step LU (median, worst) | step>2LU | jump LU (median, worst) | peak dBFS")
    for name, js in rows.items():
        med = np.array([js[i].beat_med_ms for i in beat_idx])
        steps = np.array([j.step_lu for j in js])
        gaps = sum(j.gap_ms > 200 for j in js)
        jumps = np.array([j.jump_lu for j in js])
        print(f"{name:8} | {np.nanmedian(med):6.1f} {np.nanmax(med):6.1f} "
              f"({np.sum(med <= 20)}/{med.size} <= 20 ms) | {gaps:2d} | "
              f"{np.median(steps):4.2f} {np.max(steps):5.2f} | {np.sum(steps > 2):2d} | "
              f"{np.nanmedian(jumps):4.1f} {np.nanmax(jumps):5.1f} | {peaks[name]:6.2f}")


if __name__ == "__main__":
    main()
