"""Candidate pools: the songs a station may play, before the sequencer orders them.

A pool blends relevance with variety and with the listener's taste:

- relevance: for a seed song, audio similarity to it (`radio.search.audio_vectors`); for a
  prompt, the text score (`radio.search.search_prompt`); a prompt that names a song by its exact
  title also takes that song as the seed; with both, the mean of the two;
- taste: the cosine to the listener's taste vector (the mean audio vector of the songs they like
  minus half the mean of those they skipped), weighted by `PoolConfig.taste_weight`;
- variety: maximal marginal relevance over the audio vectors (``diverse`` is MMR's lambda);
- exclusions: songs the listener blocked or skipped recently (`radio.listeners.taste`), and any
  the caller names (already played).

The seed, when there is one, is always the pool's first entry. Pure ranking over arrays once
the vectors are read; the store and indexes are touched only in `candidate_pool`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from radio.config import Settings
from radio.errors import NotFound, RadioError
from radio.listeners import Taste, taste
from radio.records import Track
from radio.search import audio_vectors, search_prompt
from radio.store import Store

__all__ = ["Pool", "PoolConfig", "StationRequest", "candidate_pool", "rank_pool", "taste_vector"]

MAX_PROMPT_CHARS = 10_000


@dataclass(frozen=True)
class StationRequest:
    """What a listener asked for. At least one of ``seed`` and ``prompt``."""

    seed: str | None = None  # track id or title (`Store.find_track`)
    prompt: str | None = None
    listener: str | None = None
    minutes: float = 60.0
    pool_size: int = 50
    diverse: float = 0.7  # MMR lambda: 1 = pure relevance

    def __post_init__(self) -> None:
        seed = (self.seed or "").strip() or None
        prompt = (self.prompt or "").strip() or None
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "prompt", prompt)
        if seed is None and prompt is None:
            raise RadioError("a station needs a seed song or a prompt")
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            raise RadioError(f"a prompt has at most {MAX_PROMPT_CHARS} characters, "
                             f"got {len(prompt)}")
        if not 1.0 <= self.minutes <= 24 * 60:
            raise RadioError(f"minutes must be between 1 and 1440, got {self.minutes}")
        if not 2 <= self.pool_size <= 1000:
            raise RadioError(f"pool_size must be between 2 and 1000, got {self.pool_size}")
        if not 0.0 <= self.diverse <= 1.0:
            raise RadioError(f"diverse is MMR's lambda in 0..1, got {self.diverse}")


@dataclass(frozen=True)
class PoolConfig:
    taste_weight: float = 0.5  # cosine to the taste vector, added to relevance
    prompt_depth: int = 400  # text hits read per prompt (the rest score the lowest hit's score)
    mmr_depth: int = 4  # MMR picks from the top ``mmr_depth * size`` by relevance


@dataclass(frozen=True)
class Pool:
    """Candidates for one station, best first; ``reasons`` say why each is there."""

    seed: Track | None
    prompt: str | None
    tracks: list[Track]
    relevance: list[float]
    reasons: list[str]
    taste: Taste | None = None
    excluded: frozenset[int] = field(default_factory=frozenset)
    library_size: int = 0  # analysed tracks the pool was drawn from


def taste_vector(vectors: np.ndarray, likes: np.ndarray, skips: np.ndarray) -> np.ndarray | None:
    """Unit taste vector from boolean masks over ``vectors`` rows; None without likes."""
    if not likes.any():
        return None
    v = vectors[likes].mean(axis=0)
    if skips.any():
        v = v - 0.5 * vectors[skips].mean(axis=0)
    norm = float(np.linalg.norm(v))
    return None if norm < 1e-9 else (v / norm).astype(np.float32)


def rank_pool(vectors: np.ndarray, relevance: np.ndarray, *, size: int, diverse: float,
              allowed: np.ndarray, first: int | None = None,
              taste: np.ndarray | None = None, taste_weight: float = 0.3,
              mmr_depth: int = 4) -> list[int]:
    """Rows of a pool: ``first`` (if any), then MMR over the best allowed rows.

    ``relevance`` (n,) is blended with ``taste_weight`` times the cosine to ``taste``; rows
    where ``allowed`` is False never appear (``first`` excepted).
    """
    score = relevance.astype(np.float64).copy()
    if taste is not None:
        score += taste_weight * (vectors @ taste)
    score[~allowed] = -np.inf
    if first is not None:
        score[first] = -np.inf
    order = np.argsort(-score, kind="stable")
    order = order[np.isfinite(score[order])]
    want = size - (first is not None)
    top = order[: max(want * mmr_depth, want)]
    if len(top) == 0 or want <= 0:
        return [first] if first is not None else []
    if diverse >= 1.0:
        picked = list(range(min(want, len(top))))
    else:
        picked = _mmr(score[top], vectors[top], k=min(want, len(top)), lam=diverse)
    rows = [int(top[i]) for i in picked]
    return ([first] if first is not None else []) + rows


def _mmr(relevance: np.ndarray, vectors: np.ndarray, *, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance over given relevances (the blend of seed, prompt and taste,
    not one query's cosine): each pick maximises ``lam`` x relevance (rescaled to 0..1 over
    the candidates) minus ``1 - lam`` x its largest cosine to what was already picked."""
    span = float(relevance.max() - relevance.min())
    rel = (relevance - relevance.min()) / span if span > 1e-12 else np.ones_like(relevance)
    sims = vectors @ vectors.T
    near = np.full(len(rel), -1.0)
    picked: list[int] = []
    free = np.ones(len(rel), bool)
    for _ in range(k):
        gain = np.where(free, lam * rel - (1 - lam) * near, -np.inf)
        i = int(np.argmax(gain))
        picked.append(i)
        free[i] = False
        near = np.maximum(near, sims[i])
    return picked


def _title_seed(store: Store, prompt: str) -> Track | None:
    """The track whose title the prompt names exactly (case-insensitive), if exactly one."""
    key = prompt.strip().casefold().strip("\"'")
    hits = [t for t in store.tracks() if t.title.casefold() == key and len(key) >= 3]
    return hits[0] if len(hits) == 1 else None


def candidate_pool(settings: Settings, request: StationRequest, *,
                   exclude: Collection[int] = (), config: PoolConfig | None = None) -> Pool:
    """The ``request.pool_size`` candidates of a station (see the module docstring)."""
    cfg = config or PoolConfig()
    with Store(settings) as store:
        seed = store.find_track(request.seed) if request.seed else None
        if seed is None and request.prompt:
            seed = _title_seed(store, request.prompt)
        tracks, vecs = audio_vectors(store, store.tracks(), settings=settings, kind="auto")
    if not tracks:
        raise RadioError(f"the library in {settings.home} has no analysed tracks; "
                         "run `radio ingest FOLDER` first")
    pos = {t.id: i for i, t in enumerate(tracks)}
    if seed is not None and seed.id not in pos:
        raise NotFound("track", request.seed or seed.id)
    first = pos[seed.id] if seed is not None else None
    reasons = [""] * len(tracks)
    audio_rel = np.zeros(len(tracks))
    if first is not None:
        audio_rel = vecs @ vecs[first]
        for i in range(len(tracks)):
            reasons[i] = f"sounds like the seed ({audio_rel[i]:.2f})"
    relevance = audio_rel
    if request.prompt:
        result = search_prompt(settings, request.prompt, n=min(cfg.prompt_depth, len(tracks)))
        floor = min((h.score for h in result.hits), default=0.0)
        text_rel = np.full(len(tracks), floor)
        for h in result.hits:
            if h.track.id in pos:
                i = pos[h.track.id]
                text_rel[i] = h.score
                words = sorted({w for ws in h.matched.values() for w in ws})
                matched = f": {', '.join(words[:4])}" if words else ""
                reasons[i] = f"matches the prompt ({h.score:.2f}{matched})"
        # A text cosine spans a narrower range than an audio one; standardise both.
        relevance = _z(text_rel) if first is None else 0.5 * (_z(text_rel) + _z(audio_rel))
    listener_taste = taste(settings, request.listener) if request.listener else None
    banned = set(exclude) | (set(listener_taste.excluded) if listener_taste else set())
    allowed = np.array([t.id not in banned for t in tracks])
    tv = None
    if listener_taste is not None:
        tv = taste_vector(vecs, np.array([t.id in listener_taste.likes for t in tracks]),
                          np.array([t.id in listener_taste.skips for t in tracks]))
    rows = rank_pool(vecs, relevance, size=request.pool_size, diverse=request.diverse,
                     allowed=allowed, first=first, taste=tv, taste_weight=cfg.taste_weight,
                     mmr_depth=cfg.mmr_depth)
    if first is not None:
        reasons[first] = "the seed"
    if tv is not None:
        for i in rows:
            if float(vecs[i] @ tv) > 0.3:
                reasons[i] += "; close to what the listener likes"
    return Pool(seed=seed, prompt=request.prompt, tracks=[tracks[i] for i in rows],
                relevance=[float(relevance[i]) for i in rows], reasons=[reasons[i] for i in rows],
                taste=listener_taste, excluded=frozenset(banned), library_size=len(tracks))


def _z(x: np.ndarray) -> np.ndarray:
    return np.asarray((x - x.mean()) / (x.std() + 1e-9))
