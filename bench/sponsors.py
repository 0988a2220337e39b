"""Sponsor placement benchmark: how much an ad break costs the mix, ours against two baselines.

    nice -n 10 .venv/bin/python bench/sponsors.py --home radio-data-dev [--stations 8]

Stations: `radio.stations.plan_station` over the library at ``--home`` (half from text prompts,
half from random seed songs, 60 minutes each). Three sponsor clips from audio that is not in that
library: a 20 s excerpt of xmoto's "foxrun", a 25 s excerpt of neverball's "track3" (both from
``music-cache/ci``) and a 15 s generated speech-like clip (voiced formants with a syllable
envelope and pauses, no beat). They are added through `radio.sponsor_clips.add_sponsor` into a
throw-away home, so the library's own operator data is untouched.

Per station, with the same rules for all (caps 2, 1, 1 plays per listener-hour, 10 minutes
between ads), in one run:
- ours: `radio.placement.choose` (exact DP; targeting on, and once with targeting off);
- random: the same number of ads at random junctions that respect the spacing, sponsors drawn
  at random among those with cap left (``--draws`` draws per station);
- every N songs: the broadcast-automation rule, one ad after every N-th song with N chosen so
  that it places the same number of ads, sponsors in turn.
The figure is the mean drop in junction log-probability per ad, log P(i->j) - log P(i->s) -
log P(s->j) (nats, lower = less noticeable), with the model's calibrated two-tower P at the
plan's cues. Then each clip is rendered (`radio.render.render`) between two songs of a station
and its integrated loudness compared with the music 10 s before and after it (target: never
louder, within 1 LU).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings  # noqa: E402
from radio.placement import (  # noqa: E402
    Junction,
    Placement,
    Rules,
    SponsorSpec,
    choose,
    costs,
)
from radio.placement_splice import insert_sponsors  # noqa: E402
from radio.plan import Plan  # noqa: E402
from radio.sponsor_clips import add_sponsor  # noqa: E402
from radio.sponsor_plans import junction_times, junction_vectors, sponsor_similarity  # noqa: E402
from radio.sponsors import Sponsor, sponsor_item  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["dark synth for a night drive", "calm ambient soundscape", "epic orchestral battle",
           "upbeat electronic dance", "medieval folk", "melancholic piano"]
CLIPS = [("Night Owl Coffee", "fresh roasted coffee for late night drives", "coffee,night",
          2, "music-cache/ci/xmoto-data/Textures/Musics/foxrun.ogg", 30.0, 20.0),
         ("Pixel Arcade", "retro video game bar with chiptune and synth nights",
          "games,arcade,synth", 1, "music-cache/ci/neverball-common/bgm/track3.ogg", 20.0, 25.0),
         ("City Bank", "savings accounts and mortgages, spoken announcement", "finance,voice",
          1, "", 0.0, 15.0)]


def _spoken(path: Path, seconds: float, sr: int = 22050) -> Path:
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 25 * np.sin(2 * np.pi * 0.25 * t) + 8 * np.sin(2 * np.pi * 2.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) * np.exp(-((k * 120 - 700) / 900) ** 2) for k in range(1, 25))
    syll = np.clip(np.sin(2 * np.pi * 3.3 * t + rng.uniform(0, 6)), 0, None) ** 0.6
    pauses = (np.sin(2 * np.pi * 0.35 * t) > -0.7).astype(float)  # a breath every ~3 s
    y = voiced * syll * pauses + 0.01 * rng.standard_normal(t.size) * syll
    y = 0.5 * y / np.max(np.abs(y))
    sf.write(path, np.stack([y, y], 1), sr)
    return path


def make_sponsors(home: Path, model: object) -> list[Sponsor]:
    out = []
    for name, text, tags, cap, src, at, dur in CLIPS:
        clip = home / f"{name.split()[0].lower()}.wav"
        if src:
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", str(at),
                            "-t", str(dur), "-i", f"file:{ROOT / src}", "-af",
                            "afade=t=in:d=0.3,areverse,afade=t=in:d=0.8,areverse",
                            str(clip)], check=True)
        else:
            _spoken(clip, dur)
        out.append(add_sponsor(Settings(home=home), clip, name=name, text=text,
                               tags=tuple(tags.split(",")), cap_per_hour=cap,
                               min_gap_minutes=0.0, model=model))  # type: ignore[arg-type]
    return out


def drops(junctions: list[Junction], specs: list[SponsorSpec], chosen: dict[int, int],
          *, scale: float, bias: float) -> list[float]:
    m = costs(junctions, specs, scale=scale, bias=bias, targeting=0.0)
    return [float(m["drop"][j, s]) for j, s in chosen.items()]


def random_placement(times: list[float], specs: list[SponsorSpec], k: int, gap: float,
                     rng: np.random.Generator) -> dict[int, int]:
    for _ in range(10_000):
        pick = np.sort(rng.choice(len(times), size=k, replace=False))
        if all(times[b] - times[a] >= gap for a, b in itertools.pairwise(pick)):
            break
    left = [s.cap_per_hour for s in specs]
    out = {}
    for j in pick:
        s = int(rng.choice([q for q in range(len(specs)) if left[q] > 0]))
        left[s] -= 1
        out[int(j)] = s
    return out


def every_n(n_junctions: int, specs: list[SponsorSpec], k: int) -> dict[int, int]:
    n = max(1, n_junctions // k)
    slots = [j for j in range(n - 1, n_junctions, n)][:k]
    left = [s.cap_per_hour for s in specs]
    out, s = {}, 0
    for j in slots:
        while left[s % len(specs)] == 0:
            s += 1
        out[j] = s % len(specs)
        left[s % len(specs)] -= 1
        s += 1
    return out


def station_rows(dev: Settings, model: object, sponsors: list[Sponsor], args: argparse.Namespace
                 ) -> tuple[dict[str, list[float]], list[tuple[Plan, list[Junction]]]]:
    from radio.pools import StationRequest
    from radio.stations import plan_station
    from radio.store import Store

    rng = np.random.default_rng(args.seed)
    with Store(dev) as store:
        ids = [t.id for t in store.tracks()]
    requests = [StationRequest(prompt=PROMPTS[(k // 2) % len(PROMPTS)], minutes=60.0)
                if k % 2 == 0 else StationRequest(seed=str(int(rng.choice(ids))), minutes=60.0)
                for k in range(args.stations)]
    res: dict[str, list[float]] = {"ours": [], "ours, no targeting": [], "random": [],
                                   "every N songs": [], "junctions": [], "ads": [],
                                   "dp ms": []}
    kept = []
    rules = Rules(min_gap_s=600.0, targeting=2.0)
    scale, bias = model.scale, model.bias  # type: ignore[attr-defined]
    for k, req in enumerate(requests):
        plan = plan_station(dev, req, model=model, station_id=f"bench-{k}")  # type: ignore
        times = junction_times(plan)
        vecs = junction_vectors(dev, plan, range(len(plan.transitions)),
                                model=model)  # type: ignore[arg-type]
        js = [Junction(index=j, time_s=times[j], exit_vector=vecs[j][0],
                       entry_vector=vecs[j][1],
                       logp=-math.log1p(math.exp(-(scale * float(vecs[j][0] @ vecs[j][1])
                                                   + bias))))
              for j in range(len(plan.transitions))]
        desc = req.prompt or _seed_text(dev, plan)
        sims = sponsor_similarity(sponsors, desc)
        specs = [SponsorSpec(id=s.id, entry_vector=s.entry_vector, exit_vector=s.exit_vector,
                             cap_per_hour=s.cap_per_hour, similarity=sim)
                 for s, sim in zip(sponsors, sims, strict=True)]
        t0 = time.perf_counter()
        ours = choose(js, specs, rules, scale=scale, bias=bias)
        res["dp ms"].append(1000 * (time.perf_counter() - t0))
        plain = choose(js, specs, replace(rules, targeting=0.0), scale=scale, bias=bias)
        pos = {s.id: q for q, s in enumerate(specs)}
        chosen = {p.junction: pos[p.sponsor] for p in ours.placements}
        n_ads = len(chosen)
        res["ours"] += drops(js, specs, chosen, scale=scale, bias=bias)
        res["ours, no targeting"] += drops(
            js, specs, {p.junction: pos[p.sponsor] for p in plain.placements},
            scale=scale, bias=bias)
        for _ in range(args.draws):
            res["random"] += drops(js, specs, random_placement(times, specs, n_ads,
                                                               rules.min_gap_s, rng),
                                   scale=scale, bias=bias)
        res["every N songs"] += drops(js, specs, every_n(len(js), specs, n_ads),
                                      scale=scale, bias=bias)
        res["junctions"].append(len(js))
        res["ads"].append(n_ads)
        print(f"station {k}: {req.prompt or 'seed ' + str(req.seed)!s}: {len(js)} junctions, "
              f"{n_ads} ads, ours {statistics.mean(res['ours'][-n_ads:]):+.2f} nats/ad",
              file=sys.stderr)
        kept.append((plan, js))
    return res, kept


def _seed_text(dev: Settings, plan: Plan) -> str:
    from radio.search import song_fields
    from radio.store import Store
    from text.documents import document

    with Store(dev) as store:
        t = store.track(plan.items[0].ref)
        return document(song_fields(t, store.features(t)))


def loudness_rows(dev: Settings, model: object, sponsors: list[Sponsor],
                  kept: list[tuple[Plan, list[Junction]]], scale: float, bias: float
                  ) -> list[tuple[str, float, float, float, float]]:
    """(sponsor, ad LUFS, music LUFS 10 s each side, the same 3 s each side, ad LUFS) from
    real renders; the renderer matches a clip to the music's level just before it."""
    from radio.loudness import loudness
    from radio.render import Marker, beats_from_store, render
    from radio.store import Store

    out = []
    sr = 44100
    for q, sp in enumerate(sponsors):
        plan, js = kept[q % len(kept)]
        j = 1  # between the plan's 2nd and 3rd songs
        items = list(plan.items[1:3])
        tr = plan.transitions[1]
        # Play 40 s of music on each side, not the whole songs.
        items[0] = replace(items[0], entry_time=max(items[0].entry_time, tr.exit_time - 40))
        items[1] = replace(items[1], exit_time=min(items[1].exit_time, tr.entry_time + 40))
        short = Plan(station="loud", items=items, transitions=[replace(tr, index=0)])
        spec = SponsorSpec(id=sp.id, entry_vector=sp.entry_vector, exit_vector=sp.exit_vector)
        m = costs([js[j]], [spec], scale=scale, bias=bias)
        p = Placement(junction=0, sponsor=sp.id, time_s=0.0, drop=float(m["drop"][0, 0]),
                      logp_in=float(m["logp_in"][0, 0]), logp_out=float(m["logp_out"][0, 0]),
                      similarity=0.0, cost=0.0)
        with_ad = insert_sponsors(short, [p], {sp.id: sponsor_item(sp)})
        marks: list[Marker] = []
        with Store(dev) as store:
            audio = np.concatenate(list(render(with_ad, beats_for=beats_from_store(store),
                                               on_marker=marks.append)))
        junction = {mk.index: (mk.start, mk.end) for mk in marks if mk.kind == "junction"}
        a0, a1 = junction[0][1], junction[1][0]  # the ad alone, between its two ducks
        ad = loudness(y=audio[a0:a1].T, sr=sr)[0]
        before = loudness(y=audio[max(0, junction[0][0] - 10 * sr) : junction[0][0]].T,
                          sr=sr)[0]
        after = loudness(y=audio[junction[1][1] : junction[1][1] + 10 * sr].T, sr=sr)[0]
        near_b = loudness(y=audio[max(0, junction[0][0] - 3 * sr) : junction[0][0]].T,
                          sr=sr)[0]
        near_a = loudness(y=audio[junction[1][1] : junction[1][1] + 3 * sr].T, sr=sr)[0]
        out.append((sp.name, ad, _mean_db(before, after), _mean_db(near_b, near_a), ad))
    return out


def _mean_db(a: float, b: float) -> float:
    return 10 * math.log10((10 ** (a / 10) + 10 ** (b / 10)) / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-dev"))
    ap.add_argument("--stations", type=int, default=8)
    ap.add_argument("--draws", type=int, default=50, help="random placements per station")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-render", action="store_true")
    args = ap.parse_args()
    from radio.modeling import resolve_model

    dev = Settings(home=args.home)
    model = resolve_model(dev)
    with tempfile.TemporaryDirectory() as tmp:
        sponsors = make_sponsors(Path(tmp), model)
        print(f"library {args.home}; sponsors: "
              + ", ".join(f"{s.name} ({s.duration:.0f} s, {s.lufs:.1f} LUFS, tempo "
                          f"{s.tempo:.0f}, beat conf {s.tempo_confidence:.2f})"
                          for s in sponsors)
              + f"; load avg {os.getloadavg()[0]:.1f}")
        res, kept = station_rows(dev, model, sponsors, args)
        print(f"\n{args.stations} stations x 60 min, {int(sum(res['junctions']))} junctions, "
              f"{int(sum(res['ads']))} ads (caps 2/1/1 per hour, 10 min apart); DP "
              f"{statistics.mean(res['dp ms']):.1f} ms mean, {max(res['dp ms']):.1f} ms max\n")
        print("| placement | ads | mean drop (nats/ad) | median | worst |\n|---|---|---|---|---|")
        for key in ("ours", "ours, no targeting", "random", "every N songs"):
            v = res[key]
            print(f"| {key} | {len(v)} | {statistics.mean(v):+.3f} | "
                  f"{statistics.median(v):+.3f} | {max(v):+.3f} |")
        if not args.no_render:
            rows = loudness_rows(dev, model, sponsors, kept, model.scale, model.bias)
            print("\n| sponsor | ad LUFS | music, 10 s each side | ad - music | music, 3 s "
                  "each side | ad - music |\n|---|---|---|---|---|---|")
            for name, ad, wide, near, _ in rows:
                print(f"| {name} | {ad:.2f} | {wide:.2f} | {ad - wide:+.2f} | {near:.2f} | "
                      f"{ad - near:+.2f} |")


if __name__ == "__main__":
    main()
