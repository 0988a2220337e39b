"""Text-prompt search quality and speed on the demo library, and speed on a 10,000-track index.

Quality: precision@10 of fixed prompts, each mapped to the style it asks for (written before any
result was seen), where a track's style is `radio.fetch.STYLES` of its Debian package. Three
document variants, because the demo's sidecar tags contain the style word itself:

* ``tags``: documents as an operator gets them (style and package tags included);
* ``no-style``: the same without any tag that is a package name or a style label;
* ``bare``: title and analysis descriptors only (no album, artist, comment, tags).

Speed: text vectors built per second (documents through the encoder, torch on the cores this
process may use), ms per prompt query end to end (prompt checks + encoding + index search) on
the demo library and on a synthetic 10,000-track index of random unit vectors, and ms per
``similar`` query.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/search.py [--home radio-data-demo]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.config import Settings
from radio.fetch import STYLES
from radio.records import Track
from radio.search import similar_tracks, song_fields
from radio.store import Store
from text.documents import SongFields, document, document_hash
from text.encoder import Encoder
from text.index import TextIndex
from text.search import search

# Written before looking at any result; each asks for one of the demo's four styles.
PROMPTS: list[tuple[str, str]] = [
    ("orchestral fantasy battle music", "orchestral"),
    ("fast electronic techno", "electronic"),
    ("calm ambient soundscape", "ambient"),
    ("retro MIDI adventure game tune", "retro"),
    ("epic strings and timpani for a heroic quest", "orchestral"),
    ("pounding drum machine and synth bass for a club", "electronic"),
    ("dark slow atmospheric drones for a sci-fi wasteland", "ambient"),
    ("old-school 90s computer game music with cheesy synths", "retro"),
    ("gentle magical town theme with flutes", "orchestral"),
    ("hard industrial drum and bass", "electronic"),
]
_LABELS = set(STYLES) | set(STYLES.values())


def _style(track: Track) -> str | None:
    for part in Path(track.path).parts:
        if part in STYLES:
            return STYLES[part]
    return next((STYLES[t] for t in track.tags if t in STYLES), None)


def _variant(fields: SongFields, name: str) -> SongFields:
    if name == "tags":
        return fields
    kept = tuple(t for t in fields.tags if t.casefold() not in _LABELS)
    if name == "no-style":
        return replace(fields, tags=kept)
    return SongFields(title=fields.title, lyrics=fields.lyrics, tempo=fields.tempo,
                      key=fields.key, mode=fields.mode, lufs=fields.lufs,
                      centroid_hz=fields.centroid_hz, duration=fields.duration)


def _ms(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("radio-data-demo"))
    ap.add_argument("--synthetic", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import torch

    settings = Settings(home=args.home)
    with Store(settings) as store:
        tracks = store.tracks()
        fields = {t.id: song_fields(t, store.features(t)) for t in tracks}
    styles = {t.id: _style(t) for t in tracks}
    counts = {s: list(styles.values()).count(s) for s in sorted(set(filter(None, styles.values())))}
    print(f"library {args.home}: {len(tracks)} tracks, styles {counts}")
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")

    t0 = time.perf_counter()
    enc = Encoder()
    enc.encode(["warm up"])
    print(f"model load {time.perf_counter() - t0:.1f} s")

    # -- quality ----------------------------------------------------------------------------
    variants = ("tags", "no-style", "bare")
    table: dict[str, list[float]] = {}
    for name in variants:
        docs = {i: document(_variant(f, name)) for i, f in fields.items()}
        with tempfile.TemporaryDirectory() as tmp:
            index = TextIndex.open(Path(tmp), model=enc.name, dim=enc.dim)
            index.sync({i: "" for i in docs}, docs.__getitem__, enc)
            for prompt, want in PROMPTS:
                hits = search(prompt, index=index, embedder=enc, k=10).hits
                table.setdefault(prompt, []).append(
                    sum(styles[i] == want for i, _ in hits) / max(len(hits), 1))
    print("\nprecision@10 per prompt (tags = operator's documents; no-style = style/package "
          "tags removed; bare = title + descriptors only)")
    print(f"| prompt | expected | {' | '.join(variants)} |")
    print(f"|---|---|{'---|' * len(variants)}")
    for prompt, want in PROMPTS:
        cells = " | ".join(f"{p:.1f}" for p in table[prompt])
        print(f"| {prompt} | {want} | {cells} |")
    means = [statistics.mean(table[p][k] for p, _ in PROMPTS) for k in range(len(variants))]
    print(f"| **mean** | | {' | '.join(f'**{m:.2f}**' for m in means)} |")

    # -- speed ------------------------------------------------------------------------------
    demo_docs = [document(f) for f in fields.values()]
    batch = [f"{d} ({k})" for k in range(6) for d in demo_docs][:512]
    t0 = time.perf_counter()
    enc.encode(batch)
    per_s = len(batch) / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        index = TextIndex.open(Path(tmp), model=enc.name, dim=enc.dim)
        docs = {i: document(f) for i, f in fields.items()}
        index.sync({i: "" for i in docs}, docs.__getitem__, enc)
        demo_ms = statistics.median(
            _ms(lambda p=p: search(p, index=index, embedder=enc, k=10), args.repeats)
            for p, _ in PROMPTS)
        encode_ms = statistics.median(
            _ms(lambda p=p: enc.encode([p]), args.repeats) for p, _ in PROMPTS)

        rng = np.random.default_rng(0)
        big = TextIndex(Path(tmp) / "big", model=enc.name, dim=enc.dim)
        vecs = rng.standard_normal((args.synthetic, enc.dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ids = list(range(1, args.synthetic + 1))
        big.add(ids, vecs, [document_hash(str(i)) for i in ids])
        q = enc.encode(["calm ambient soundscape"])[0]
        big_search_ms = _ms(lambda: big.search(q, 10), 50)
        big_ms = statistics.median(
            _ms(lambda p=p: search(p, index=big, embedder=enc, k=10), args.repeats)
            for p, _ in PROMPTS)

    seed = str(tracks[0].id)
    similar_ms = _ms(lambda: similar_tracks(settings, seed, n=10), args.repeats)
    similar_mmr_ms = _ms(lambda: similar_tracks(settings, seed, n=10, diverse=0.7), args.repeats)
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((args.synthetic, 99)).astype(np.float32)
    audio /= np.linalg.norm(audio, axis=1, keepdims=True)
    audio_ms = _ms(lambda: np.argsort(-(audio @ audio[0]))[:10], 50)

    print("\n| measure | value | target |")
    print("|---|---|---|")
    print(f"| text vectors built per second ({len(batch)} demo documents) | {per_s:.0f} | >= 100 |")
    print(f"| prompt query, demo library ({len(tracks)} tracks), end to end | "
          f"{demo_ms:.1f} ms | <= 20 ms |")
    print(f"|   of which encoding the prompt | {encode_ms:.1f} ms | |")
    print(f"| prompt query, synthetic {args.synthetic:,}-track index, end to end | "
          f"{big_ms:.1f} ms | <= 20 ms |")
    print(f"|   of which index search | {big_search_ms:.2f} ms | |")
    print(f"| similar, demo library (loads every summary) | {similar_ms:.1f} ms | |")
    print(f"| similar --diverse 0.7, demo library | {similar_mmr_ms:.1f} ms | |")
    print(f"| similar ranking step, synthetic {args.synthetic:,} x 99 | {audio_ms:.2f} ms | |")


if __name__ == "__main__":
    main()
