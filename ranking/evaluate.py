"""Evaluation of continuation scorers on held-out tracks: the model beside two baselines.

For each anchor cut of a held-out track, the true continuation B competes with

- 9 clips from other songs (``other``): recall@1 of 10 and ROC-AUC;
- up to 9 clips of the same song at least ``min_gap_s`` away (``same``): recall@1 and ROC-AUC;

and the expected calibration error is measured on positives against an equal number of
negatives (half from other songs, half from the same song), the mix the model is calibrated on.
Scorers see raw audio clips at the model's rate, exactly as the public API does.

Baselines: (a) cosine of standardised handcrafted summaries (MFCC mean/std, chroma, RMS,
spectral centroid) of A and B; (b) rules: tempo ratio near 1, 2 or 1/2 plus Camelot key
compatibility, each estimated on the clip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ranking.inference import ContinuationModel, TermLogits
from ranking.pairs import TrackMel
from ranking.transitions import keys_compatible

__all__ = ["EvalDraws", "EvalSet", "build_eval_set", "draw_eval_clips", "evaluate",
           "expected_calibration_error", "roc_auc", "score_structure"]

# A scorer maps (A clips, B clips) at sr to one score per pair (higher = more likely).
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class EvalSet:
    """Clips (rows of ``clips``) and the anchor/candidate structure over them."""

    clips: np.ndarray  # (n_clips, clip_samples) float32
    anchors: np.ndarray  # (n,) clip row of each A
    truth: np.ndarray  # (n,) clip row of each true B
    other: np.ndarray  # (n, 9) clip rows of other-song Bs
    same: np.ndarray  # (n, 9) clip rows of same-song Bs, -1 where missing
    sr: int


@dataclass
class EvalDraws:
    """Which clips an evaluation scores, before any audio is cut: ``keys`` names each clip by
    (track index, first frame), and the anchor/candidate structure holds rows of ``keys``
    (as in `EvalSet`)."""

    keys: list[tuple[int, int]]
    anchors: np.ndarray
    truth: np.ndarray
    other: np.ndarray
    same: np.ndarray


def draw_eval_clips(tracks: Sequence[TrackMel], *, clip_hops: int, gap_frames: int,
                    n_anchors: int = 500, n_cand: int = 9, seed: int = 0) -> EvalDraws:
    """Draw anchor cuts of ``tracks`` and, for each, ``n_cand`` cuts of other songs and up to
    ``n_cand`` of the same song at least ``gap_frames`` away; each clip is kept once."""
    if len(tracks) < 2:
        raise ValueError("evaluation needs at least two held-out tracks")
    rng = np.random.default_rng(seed)
    keys: list[tuple[int, int]] = []
    index: dict[tuple[int, int], int] = {}

    def clip(i: int, start_frame: int) -> int:
        key = (i, start_frame)
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        return index[key]

    anchors, truth, other, same = [], [], [], []
    for _ in range(n_anchors):
        i = int(rng.integers(len(tracks)))
        t = tracks[i]
        cut = int(t.cuts[rng.integers(t.cuts.size)])
        anchors.append(clip(i, cut - clip_hops))
        truth.append(clip(i, cut))
        o = []
        for _ in range(n_cand):
            k = int(rng.integers(len(tracks) - 1))
            k = k + 1 if k >= i else k
            u = tracks[k]
            o.append(clip(k, int(u.cuts[rng.integers(u.cuts.size)])))
        other.append(o)
        far = t.cuts[np.abs(t.cuts - cut) >= gap_frames]
        picks = rng.choice(far, size=min(n_cand, far.size), replace=False) if far.size else []
        s_rows = [clip(i, int(j)) for j in picks] + [-1] * (n_cand - len(picks))
        same.append(s_rows)
    return EvalDraws(keys=keys, anchors=np.array(anchors), truth=np.array(truth),
                     other=np.array(other), same=np.array(same))


def build_eval_set(tracks: Sequence[TrackMel], *, clip_hops: int, hop: int, sr: int,
                   n_anchors: int = 500, n_cand: int = 9, min_gap_s: float = 8.0,
                   seed: int = 0) -> EvalSet:
    """Sample anchors and candidates from tracks that carry ``audio`` (`draw_eval_clips`)."""
    clip_samples = clip_hops * hop
    usable = []
    for t in tracks:
        if t.audio is None:
            continue
        # Frames end a little before the audio does: keep cuts whose B clip has its samples.
        cuts = t.cuts[t.cuts * hop + clip_samples <= t.audio.size]
        if cuts.size:
            usable.append(replace(t, cuts=cuts))
    if len(usable) < 2:
        raise ValueError("evaluation needs at least two held-out tracks with audio")
    d = draw_eval_clips(usable, clip_hops=clip_hops, gap_frames=round(min_gap_s * sr / hop),
                        n_anchors=n_anchors, n_cand=n_cand, seed=seed)
    rows = []
    for i, start_frame in d.keys:
        audio = usable[i].audio
        assert audio is not None
        rows.append(audio[start_frame * hop : start_frame * hop + clip_samples])
    return EvalSet(clips=np.stack(rows).astype(np.float32), anchors=d.anchors, truth=d.truth,
                   other=d.other, same=d.same, sr=sr)


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv), dtype=np.float64)
    sorted_v = allv[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def expected_calibration_error(p: np.ndarray, y: np.ndarray, *, bins: int = 10) -> float:
    """Weighted mean |accuracy - confidence| over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(err)


def _recall_at_1(true_s: np.ndarray, cand_s: np.ndarray) -> float:
    """Expected recall@1 with random tie-breaking; NaN candidates are ignored."""
    better = np.nansum(cand_s > true_s[:, None], axis=1)
    ties = np.nansum(cand_s == true_s[:, None], axis=1)
    return float(np.mean(np.where(better > 0, 0.0, 1.0 / (1.0 + ties))))


def score_structure(ev: EvalSet, pair_score: Callable[[np.ndarray, np.ndarray], np.ndarray]
                     ) -> dict[str, float]:
    """Recall@1 and ROC-AUC against other songs and against the same song, for any scorer of
    (A rows, B rows) of ``ev.clips`` (higher = more likely to follow)."""
    n = len(ev.anchors)
    true_s = pair_score(ev.anchors, ev.truth)
    other_s = pair_score(np.repeat(ev.anchors, ev.other.shape[1]), ev.other.ravel()).reshape(n, -1)
    has = ev.same >= 0
    same_s = np.full(ev.same.shape, np.nan)
    same_s[has] = pair_score(np.repeat(ev.anchors, ev.same.shape[1])[has.ravel()],
                             ev.same[has])
    keep = has.any(1)
    return {
        "recall1_other": _recall_at_1(true_s, other_s),
        "recall1_same": _recall_at_1(true_s[keep], same_s[keep]),
        "auc_other": roc_auc(true_s, other_s.ravel()),
        "auc_same": roc_auc(true_s, same_s[has]),
    }


def _calibration_rows(ev: EvalSet, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A rows, B rows, labels): every positive, and as many negatives, half of each kind."""
    rng = np.random.default_rng(seed)
    n = len(ev.anchors)
    half = n // 2
    o = ev.other[np.arange(n), rng.integers(ev.other.shape[1], size=n)][:half]
    has = ev.same[:, 0] >= 0
    s_idx = np.flatnonzero(has)[: n - half]
    s = ev.same[s_idx, 0]
    a = np.concatenate([ev.anchors, ev.anchors[:half], ev.anchors[s_idx]])
    b = np.concatenate([ev.truth, o, s])
    y = np.concatenate([np.ones(n), np.zeros(half), np.zeros(len(s))])
    return a, b, y


def _pairs_scored(ev: EvalSet, extra: tuple[np.ndarray, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct (A row, B row) that `score_structure` and ``extra`` ask for."""
    has = ev.same >= 0
    a = np.concatenate([ev.anchors, np.repeat(ev.anchors, ev.other.shape[1]),
                        np.repeat(ev.anchors, ev.same.shape[1])[has.ravel()], extra[0]])
    b = np.concatenate([ev.truth, ev.other.ravel(), ev.same[has], extra[1]])
    keys = np.unique(a.astype(np.int64) * len(ev.clips) + b)
    return keys // len(ev.clips), keys % len(ev.clips)


def evaluate(model: ContinuationModel, ev: EvalSet, *, baselines: bool = True,
             seed: int = 0) -> dict[str, dict[str, float]]:
    """Metrics for the model (and baselines) on one evaluation set."""
    out: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    e_exit, s_exit = model.features(list(ev.clips), ev.sr, "exit")
    e_entry, s_entry = model.features(list(ev.clips), ev.sr, "entry")
    embed_s = time.perf_counter() - t0

    # Every term of every pair once; each scorer below sums a choice of them.
    a, b, y = _calibration_rows(ev, seed)
    pa, pb = _pairs_scored(ev, (a, b))
    keys = pa * len(ev.clips) + pb
    terms = model.term_logits(e_exit[pa], s_exit[pa], e_entry[pb], s_entry[pb])

    def cached(a: np.ndarray, b: np.ndarray) -> TermLogits:
        return terms.take(np.searchsorted(keys, a.astype(np.int64) * len(ev.clips) + b))

    def ablation(**without: bool) -> Scorer:
        return lambda a, b: model.combine(cached(a, b), **without).astype(float)

    scorers = [("model", ablation())]
    if model.has_seam:
        scorers.append(("model_two_tower",
                        lambda a, b: model.probability(cached(a, b).dots).astype(float)))
    for name, fn in scorers:
        m = score_structure(ev, fn)
        m["ece"] = expected_calibration_error(fn(a, b), y)
        out[name] = m
    if model.net.fine is not None:  # what the fine seam adds: the re-ranker without it
        out["model_without_fine_seam"] = score_structure(
            ev, lambda a, b: cached(a, b).coarse.astype(float))
    if model.config.splice_size:  # what the splice term adds, and what it does alone
        out["model_without_splice"] = score_structure(ev, ablation(splice=False))
        out["splice_alone"] = score_structure(ev, lambda a, b: cached(a, b).splice.sum(1))
    if model.net.tone is not None:  # what the learned tone term adds, and what it does alone
        out["model_without_tone_net"] = score_structure(ev, ablation(tone=False))
        out["tone_net_alone"] = score_structure(
            ev, lambda a, b: cached(a, b).tone.astype(float))
    if model.net.lag is not None:  # what the lag term adds, and what it does alone
        out["model_without_lag"] = score_structure(ev, ablation(lag=False))
        out["lag_alone"] = score_structure(ev, lambda a, b: cached(a, b).lag.astype(float))

    def tower_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return model.probability(np.einsum("ij,ij->i", e_exit[a], e_entry[b])).astype(float)

    def full_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return model.score_features(e_exit[a], s_exit[a], e_entry[b], s_entry[b]).astype(float)

    # Speed: pairs scored from stored embeddings (two-tower) and from stored features (full),
    # and clips embedded from raw audio.
    rng = np.random.default_rng(seed)
    ia = rng.integers(len(ev.clips), size=10_000)
    ib = rng.integers(len(ev.clips), size=10_000)
    for label, fn in (("ms_per_10k_pairs_from_embeddings", tower_score),
                      ("ms_per_10k_pairs_full", full_score)):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn(ia, ib)
            times.append(time.perf_counter() - t)
        out["model"][label] = 1000 * float(np.median(times))
    out["model"]["clips_embedded_per_s"] = 2 * len(ev.clips) / embed_s
    if baselines:
        feats = handcrafted_features(ev.clips, sr=ev.sr)
        z = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
        z /= np.linalg.norm(z, axis=1, keepdims=True) + 1e-9
        out["handcrafted_cosine"] = score_structure(ev, lambda a, b: (z[a] * z[b]).sum(1))
        tempo, camelot = clip_tempo_key(ev.clips, sr=ev.sr)

        def rules(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            ratio = tempo[b] / np.maximum(tempo[a], 1e-6)
            dev = np.min(np.abs(np.log2(ratio)[:, None] - np.array([-1.0, 0.0, 1.0])), axis=1)
            pairs = zip(a, b, strict=True)
            key = np.array([keys_compatible(camelot[i], camelot[j]) for i, j in pairs])
            score: np.ndarray = key.astype(np.float64) - 4.0 * dev
            return score

        out["tempo_key_rules"] = score_structure(ev, rules)
    return out


def handcrafted_features(clips: np.ndarray, *, sr: int) -> np.ndarray:
    """Per clip: MFCC mean/std (20+20), chroma mean (12), RMS mean/std, centroid mean/std."""
    import librosa

    rows = []
    for y in clips:
        s = np.abs(librosa.stft(y, n_fft=1024, hop_length=320)) ** 2
        mel = librosa.feature.melspectrogram(S=s, sr=sr, n_mels=64)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
        chroma = librosa.feature.chroma_stft(S=s, sr=sr)
        rms = librosa.feature.rms(S=np.sqrt(s), frame_length=1024)[0]
        cent = librosa.feature.spectral_centroid(S=np.sqrt(s), sr=sr)[0]
        rows.append(np.concatenate([mfcc.mean(1), mfcc.std(1), chroma.mean(1),
                                    [rms.mean(), rms.std(), cent.mean(), cent.std()]]))
    return np.asarray(rows, dtype=np.float64)


_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Camelot numbers by pitch class (C=0): major keys are "B", minor keys "A".
_CAMELOT_MAJOR = [8, 3, 10, 5, 12, 7, 2, 9, 4, 11, 6, 1]
_CAMELOT_MINOR = [5, 12, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10]


def clip_tempo_key(clips: np.ndarray, *, sr: int) -> tuple[np.ndarray, list[str]]:
    """Per clip: a tempo estimate (BPM) and a Camelot key (Krumhansl-Kessler profiles)."""
    import librosa

    tempos, keys = [], []
    for y in clips:
        onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=320)
        tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr, hop_length=320)
        tempos.append(float(tempo[0]) if tempo.size else 120.0)
        chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=2048, hop_length=512).mean(1)
        best, code = -np.inf, ""
        for pc in range(12):
            for prof, table, letter in ((_MAJOR, _CAMELOT_MAJOR, "B"),
                                        (_MINOR, _CAMELOT_MINOR, "A")):
                r = float(np.corrcoef(chroma, np.roll(prof, pc))[0, 1])
                if r > best:
                    best, code = r, f"{table[pc]}{letter}"
        keys.append(code)
    return np.asarray(tempos), keys
