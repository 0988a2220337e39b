"""A small real library for end-to-end tests: generated songs in albums, with sidecar tags,
ingested and embedded through the CLI (`radio ingest`, `radio embed`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from click.testing import CliRunner

from radio.cli import cli
from tests.ranking.music import song

Albums = Mapping[str, tuple[tuple[float, float], Sequence[str]]]  # name -> (BPM range, tags)
Shape = Callable[[str, np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def ingest_albums(root: Path, home: Path, albums: Albums, *, seed: int, per_album: int,
                  seconds: float, artist: Callable[[str, int], str],
                  shape: Shape | None = None) -> Path:
    """Write ``per_album`` songs per album under ``root`` (titles "<Album> <i>"), ingest and
    embed them into ``home``; ``shape(album, y, beats, rng)`` may colour each album's sound."""
    rng = np.random.default_rng(seed)
    for album, ((lo, hi), tags) in albums.items():
        (root / album).mkdir(exist_ok=True)
        for i in range(per_album):
            y, beats = song(rng, seconds=seconds, sr=22050, bpm=float(rng.uniform(lo, hi)))
            if shape is not None:
                y = shape(album, y, beats, rng)
            path = root / album / f"{album}-{i}.wav"
            sf.write(path, np.stack([y, y], 1), 22050)
            path.with_name(f"{path.stem}.tags.json").write_text(json.dumps(
                {"title": f"{album.title()} {i}", "artist": artist(album, i), "album": album,
                 "tags": list(tags)}))
    runner = CliRunner()
    for args in (["ingest", str(root), "-w", "1"], ["embed"]):
        res = runner.invoke(cli, ["--home", str(home), *args])
        assert res.exit_code == 0, res.output
    return home
