"""The library's side of the continuation model: turn analysed tracks into model inputs, train,
evaluate on held-out music, and embed every track's cues into the FAISS cue index.

`ranking` knows nothing of files or the store; this module decodes tracks (through
`radio.audio.decode`, at the model's rate), cuts them at their analysed beats, and hands arrays
over. Decoded log-mels are cached per content hash under ``RADIO_HOME/models/mel`` so that
retraining and re-evaluation do not decode the library again.

Held-out groups: a track belongs to the group named by its album, else its folder; a holdout
pattern selects every track whose album or any path component contains it (case-insensitive),
so ``--holdout nexuiz`` leaves a whole Debian package out.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from radio.audio import decode
from radio.config import Settings
from radio.errors import RadioError
from radio.records import Track
from radio.store import Store
from ranking.index import CueIndex
from ranking.inference import ContinuationModel
from ranking.model import CALIBRATION_STATE, ModelConfig
from ranking.pairs import TrackMel, beat_cut_frames

if TYPE_CHECKING:
    from radio.phrases import Cue

__all__ = ["ModelInputs", "embed_library", "group_of", "is_held_out", "load_model_inputs",
           "model_path", "resolve_model"]


def model_path(settings: Settings) -> Path:
    """Where `radio train` writes the library's own model."""
    return settings.models_dir / "continuation.pt"


def group_of(track: Track) -> str:
    """The unit of held-out evaluation: the album, else the containing folder."""
    return track.album or Path(track.path).parent.name


def is_held_out(track: Track, patterns: Sequence[str]) -> bool:
    """True when any pattern occurs in the track's album or a component of its path."""
    hay = [p.lower() for p in Path(track.path).parts] + [(track.album or "").lower()]
    return any(pat.lower() in h for pat in patterns for h in hay if pat)


@dataclass
class ModelInputs:
    train: list[TrackMel]
    test: list[TrackMel]


def _mel_job(args: tuple[str, str, Path, ModelConfig, float, bool]
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Worker: (log-mel, audio or None) for one file, cached by content hash."""
    path, content_hash, cache, cfg, timeout, want_audio = args
    from ranking.train import track_logmel

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cached = cache / f"{content_hash}.npy"
    if cached.exists() and not want_audio:
        return np.load(cached), None
    try:
        y = decode(path, sr=cfg.sr, channels=1, timeout=timeout)[0]
    except RadioError:  # moved or damaged since ingestion: it simply gives no pairs
        return np.zeros((cfg.n_mels, 0), dtype=np.float16), None
    if cached.exists():  # only the audio was wanted: the log-mel is already on disk
        return np.load(cached), y
    mel = track_logmel(y, cfg)
    tmp = cache / f".{content_hash}.{os.getpid()}.npy"
    np.save(tmp, mel)
    tmp.replace(cached)
    return mel, (y if want_audio else None)


def load_model_inputs(settings: Settings, *, cfg: ModelConfig, holdout: Sequence[str] = (),
                      keep_audio: bool = False, workers: int | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      only: Callable[[Sequence[Track]], Sequence[Track]] | None = None
                      ) -> ModelInputs:
    """Every ok track of the store as a `TrackMel` (keyed by content hash), split into train
    and held-out test; with ``only``, the tracks it picks from the store's list.

    Test tracks keep their audio (evaluation scores raw clips, as the public API does);
    ``keep_audio`` keeps every track's.
    """
    cache = settings.models_dir / "mel"
    cache.mkdir(parents=True, exist_ok=True)
    with Store(settings) as store:
        tracks = store.tracks()
        if not tracks:
            raise RadioError("the library is empty; run `radio ingest PATH` first")
        tracks = list(only(tracks)) if only is not None else tracks
        beats = {t.id: store.features(t).beats for t in tracks}
    held = {t.id for t in tracks if is_held_out(t, holdout)}
    if holdout and not held:
        raise RadioError(f"no track matches --holdout {list(holdout)}; see `radio tracks`")
    jobs = [(t.path, t.content_hash, cache, cfg, settings.decode_timeout_s,
             keep_audio or t.id in held) for t in tracks]
    n_workers = workers or os.cpu_count() or 1
    out = ModelInputs(train=[], test=[])
    hop_s = cfg.hop / cfg.sr

    def consume(results: Iterable[tuple[np.ndarray, np.ndarray | None]]) -> None:
        for k, (t, (mel, audio)) in enumerate(zip(tracks, results, strict=True)):
            b = beats[t.id]
            b = b[(b >= t.audible_start) & (b <= t.audible_end)]
            cuts = beat_cut_frames(b, n_frames=mel.shape[1], hop_s=hop_s,
                                   clip_hops=cfg.clip_hops, clip_frames=cfg.clip_frames)
            tm = TrackMel(track_id=t.content_hash, group=group_of(t), mel=mel, cuts=cuts,
                          tempo=t.tempo, camelot=t.camelot, audio=audio)
            (out.test if t.id in held else out.train).append(tm)
            if progress:
                progress(k + 1, len(tracks))

    if n_workers <= 1:
        consume(map(_mel_job, jobs))
    else:
        # Spawned, not forked: a parent that already ran torch (a server, a test) has OpenMP
        # threads, and forking those deadlocks the children.
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            consume(pool.map(_mel_job, jobs, chunksize=2))
    return out


def resolve_model(settings: Settings, model_file: Path | None = None) -> ContinuationModel:
    """The model a library uses: an explicit file, else its own trained one, else the shipped."""
    if model_file is not None:
        return ContinuationModel.load(model_file)
    own = model_path(settings)
    return ContinuationModel.load(own if own.exists() else None)


def model_id(model: ContinuationModel) -> str:
    """A fingerprint of the weights the vectors come from: indexes (and sponsor vectors) built
    by another model are rebuilt. Recalibrating leaves it as it is (`CALIBRATION_STATE`)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.net.state_dict().items()):
        if name in CALIBRATION_STATE:
            continue
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def cue_clips(y: np.ndarray, sr: int, cues: Sequence[tuple[int, Cue]], *, seconds: float,
              offset: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray], list[int],
                                            list[int]]:
    """Exit clips (ending at the cue) and entry clips (starting at it) from mono ``y``.

    ``y`` starts at ``offset`` seconds into the track; clips that run past its edges are
    padded with silence, which is what lies beyond a track's ends.
    """
    n = round(seconds * sr)
    exits: list[np.ndarray] = []
    entries: list[np.ndarray] = []
    exit_ids: list[int] = []
    entry_ids: list[int] = []
    for cue_id, cue in cues:
        c = round((cue.time - offset) * sr)
        lo, hi = (c - n, c) if cue.kind == "exit" else (c, c + n)
        clip = np.zeros(n, dtype=np.float32)
        a, b = max(lo, 0), min(hi, y.size)
        if b > a:
            clip[a - lo : b - lo] = y[a:b]
        (exits if cue.kind == "exit" else entries).append(clip)
        (exit_ids if cue.kind == "exit" else entry_ids).append(cue_id)
    return exits, entries, exit_ids, entry_ids


def embed_library(settings: Settings, *, model_file: Path | None = None,
                  model: ContinuationModel | None = None) -> dict[str, float]:
    """Bring the cue index up to date: embed new tracks' cues, drop cues that are gone."""
    t0 = time.perf_counter()
    model = model or resolve_model(settings, model_file)
    cfg = model.config
    index = CueIndex.load(settings.indexes_dir, dim=cfg.dim, model_id=model_id(model))
    have = set(index.ids("exit").tolist()) | set(index.ids("entry").tolist())
    with Store(settings) as store:
        rows = {t.id: (t, store.cue_rows(t.id)) for t in store.tracks()}
    wanted = {cid for _, cues in rows.values() for cid, _ in cues}
    stale = np.array(sorted(have - wanted), dtype=np.int64)
    if stale.size:
        index.remove(stale)
    todo = [(t, cues) for t, cues in rows.values()
            if cues and any(cid not in have for cid, _ in cues)]
    n_cues = 0
    for track, cues in todo:
        try:
            y = decode(track.path, sr=cfg.sr, channels=1, timeout=settings.decode_timeout_s)[0]
        except RadioError:
            continue  # vanished since ingestion; the next ingest marks it missing
        exits, entries, exit_ids, entry_ids = cue_clips(y, cfg.sr, cues,
                                                        seconds=cfg.clip_seconds)
        if exits:
            index.add("exit", np.array(exit_ids), model.embed_exits(exits, cfg.sr))
        if entries:
            index.add("entry", np.array(entry_ids), model.embed_entries(entries, cfg.sr))
        n_cues += len(cues)
    index.save(settings.indexes_dir)
    return {"tracks_embedded": float(len(todo)), "cues_embedded": float(n_cues),
            "stale_removed": float(stale.size), "index_vectors": float(len(index)),
            "seconds": time.perf_counter() - t0}
