"""Generators of known-answer audio for the analysis tests and benches.

Every generator returns float32 samples together with the answer it was built to have (beat
times, downbeat times, key), so a test compares `radio.analysis.analyse` against ground truth
rather than against itself. Everything is seeded and deterministic. The only I/O here is
`render_score`, which writes a music21 score to MIDI and renders it with fluidsynth (through
`radio.fetch_midi.render_midi`, as the fetched General MIDI music is); analysis code never
imports this module.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from radio.fetch_midi import render_midi

SR = 22050
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
PITCH_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

Style = Literal["rock", "four", "hiphop", "dnb", "click"]


@dataclass(frozen=True)
class Beat:
    """Audio with the beat grid it was built on."""

    y: np.ndarray  # float32 (n,) or (channels, n)
    beats: np.ndarray  # seconds
    downbeats: np.ndarray  # seconds, every 4th beat starting with beats[0]
    bpm: float


# -- percussion voices -------------------------------------------------------------------------


def _env(n: int, *, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * sr))


def _kick(*, sr: int) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    f = 45.0 + 90.0 * np.exp(-t / 0.03)  # pitch sweep 135 -> 45 Hz
    phase = 2 * np.pi * np.cumsum(f) / sr
    return np.asarray(np.sin(phase) * _env(n, sr=sr, tau=0.12), dtype=np.float64)


def _snare(*, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = np.diff(rng.standard_normal(n + 1))  # tilted towards highs
    body = np.sin(2 * np.pi * 190.0 * t) * _env(n, sr=sr, tau=0.04)
    return np.asarray(0.35 * noise * _env(n, sr=sr, tau=0.06) + 0.6 * body, dtype=np.float64)


def _hat(*, sr: int, rng: np.random.Generator, tau: float = 0.025) -> np.ndarray:
    n = int(6 * tau * sr)
    noise = np.diff(np.diff(rng.standard_normal(n + 2)))  # second difference: a high-pass
    return np.asarray(0.25 * noise * _env(n, sr=sr, tau=tau), dtype=np.float64)


def _click(*, sr: int, freq: float = 1000.0) -> np.ndarray:
    n = int(0.03 * sr)
    t = np.arange(n) / sr
    return np.asarray(np.sin(2 * np.pi * freq * t) * _env(n, sr=sr, tau=0.006), dtype=np.float64)


def _add(out: np.ndarray, sound: np.ndarray, at: int, gain: float) -> None:
    if at < 0 or at >= out.shape[-1]:
        return
    m = min(sound.shape[-1], out.shape[-1] - at)
    out[at : at + m] += gain * sound[:m]


# Per bar of sixteenths: (step, voice, gain). Accents: beat 1 of every bar is louder, and the
# hats on the beat are louder than those between beats, as a drummer plays them.
_PATTERNS: dict[str, list[tuple[int, str, float]]] = {
    "rock": [(0, "kick", 1.0), (4, "snare", 0.8), (8, "kick", 0.8), (10, "kick", 0.5),
             (12, "snare", 0.8)]
    + [(s, "hat", 0.5 if s % 4 == 0 else 0.3) for s in range(0, 16, 2)],
    "four": [(s, "kick", 1.0 if s == 0 else 0.85) for s in (0, 4, 8, 12)]
    + [(4, "snare", 0.5), (12, "snare", 0.5)]
    + [(s, "open", 0.35) for s in (2, 6, 10, 14)]
    + [(s, "hat", 0.15) for s in (1, 3, 5, 7, 9, 11, 13, 15)],
    "hiphop": [(0, "kick", 1.0), (7, "kick", 0.5), (10, "kick", 0.7), (4, "snare", 0.85),
               (12, "snare", 0.85)] + [(s, "hat", 0.45 if s % 4 == 0 else 0.25)
                                       for s in range(0, 16, 2)],
    "dnb": [(0, "kick", 1.0), (10, "kick", 0.8), (4, "snare", 0.9), (12, "snare", 0.9)]
    + [(s, "hat", 0.4 if s % 4 == 0 else 0.25) for s in range(0, 16, 2)],
    "click": [(s, "click", 1.0) for s in (0, 4, 8, 12)],
}


def drum_pattern(
    *,
    bpm: float,
    duration: float,
    style: Style = "rock",
    sr: int = SR,
    seed: int = 0,
    accent: float = 1.6,
    bed: bool = True,
    jitter: float = 0.003,
) -> Beat:
    """A drum loop at ``bpm`` in 4/4 with a louder bar start, over a quiet chord bed.

    Parameters
    ----------
    bpm : float
        Quarter notes per minute.
    duration : float
        Seconds.
    style : str
        ``rock`` (kick 1+3, snare 2+4, eighth hats), ``four`` (four-on-the-floor, off-beat open
        hats), ``hiphop`` (syncopated kick, backbeat), ``dnb`` (two-step), ``click`` (one click
        per beat and nothing else).
    accent : float
        Gain of every voice on beat 1 of a bar relative to elsewhere, plus a crash there.
    bed : bool
        Add a soft sustained chord and bass so the background is not digital silence.
    jitter : float
        Standard deviation of the humanised hit timing, seconds.
    """
    rng = np.random.default_rng(seed)
    n = int(duration * sr)
    out = np.zeros(n)
    voices = {
        "kick": _kick(sr=sr),
        "snare": _snare(sr=sr, rng=rng),
        "hat": _hat(sr=sr, rng=rng),
        "open": _hat(sr=sr, rng=rng, tau=0.09),
        "click": _click(sr=sr, freq=1500.0),
        "crash": _hat(sr=sr, rng=rng, tau=0.5),
    }
    beat_s = 60.0 / bpm
    n_bars = int(np.ceil(duration / (4 * beat_s)))
    for bar in range(n_bars):
        t_bar = bar * 4 * beat_s
        for step, voice, gain in _PATTERNS[style]:
            t = t_bar + step * beat_s / 4 + (rng.normal(0, jitter) if jitter else 0.0)
            g = gain * (accent if step == 0 else 1.0) * rng.uniform(0.9, 1.1)
            _add(out, voices[voice], round(t * sr), g)
        if style != "click":
            _add(out, voices["crash"], round(t_bar * sr), 0.25 * (accent - 1.0))
    if bed and style != "click":
        out += 0.08 * _chord_bed(n=n, sr=sr, bpm=bpm)
    out *= 0.5 / max(float(np.max(np.abs(out))), 1e-9)
    beats = np.arange(0.0, duration - 1e-9, beat_s)
    return Beat(y=out.astype(np.float32), beats=beats, downbeats=beats[::4], bpm=bpm)


def click_track(*, bpm: float, duration: float, sr: int = SR, accent_every: int = 0) -> Beat:
    """Plain clicks on every beat; with ``accent_every`` > 0 every n-th click is 4x louder."""
    n = int(duration * sr)
    out = np.zeros(n)
    click = _click(sr=sr)
    beats = np.arange(0.0, duration - 1e-9, 60.0 / bpm)
    for i, t in enumerate(beats):
        gain = 1.0 if accent_every and i % accent_every == 0 else 0.25
        _add(out, click, round(t * sr), gain)
    every = accent_every or 4
    return Beat(y=out.astype(np.float32), beats=beats, downbeats=beats[::every], bpm=bpm)


# -- harmony -----------------------------------------------------------------------------------


def _tone(*, midi: float, n: int, sr: int, partials: int = 8, tau: float = 1.5) -> np.ndarray:
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k in range(1, partials + 1):
        if k * f0 < sr / 2:
            out += np.sin(2 * np.pi * k * f0 * t) / k
    return np.asarray(out * _env(n, sr=sr, tau=tau), dtype=np.float64)


def _chord_bed(*, n: int, sr: int, bpm: float) -> np.ndarray:
    """C major then A minor, two bars each, sustained: a harmonic background for drums."""
    bar = int(4 * 60.0 / bpm * sr)
    out = np.zeros(n)
    chords = [(48, 60, 64, 67), (45, 57, 60, 64)]
    for i, at in enumerate(range(0, n, 2 * bar)):
        m = min(2 * bar, n - at)
        for note in chords[i % 2]:
            out[at : at + m] += _tone(midi=note, n=m, sr=sr, partials=4, tau=4.0)
    return out


def pitch_class(name: str) -> int:
    """Index 0..11 of a pitch name such as ``F#`` or ``Eb`` (C = 0)."""
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[name[0].upper()]
    return (base + name.count("#") - name[1:].count("b") - name.count("-")) % 12


def chord_progression(
    *,
    tonic: str,
    mode: Literal["major", "minor"],
    bpm: float = 100.0,
    bars: int = 16,
    sr: int = SR,
) -> np.ndarray:
    """Block chords in one key: I-IV-V-I (major) or i-iv-V-i with a raised leading tone (minor).

    Each chord lasts a bar: a bass note, a root-position triad an octave up and the melody
    note on top, built from harmonic tones (1/k partials) with a piano-like decay.
    """
    root = 48 + pitch_class(tonic)
    third = 4 if mode == "major" else 3
    # (root offset, third, fifth) per chord; minor's V is major (harmonic minor).
    prog = [(0, third), (5, third), (7, 4), (0, third)]
    bar = int(4 * 60.0 / bpm * sr)
    out = np.zeros(bar * bars)
    for b in range(bars):
        off, th = prog[b % 4]
        notes = [root + off - 12, root + off, root + off + th, root + off + 7, root + off + 12]
        for beat in range(2):  # re-strike on beat 3 so onsets exist
            at = b * bar + beat * bar // 2
            for note in notes:
                out[at : at + bar // 2] += _tone(midi=note, n=bar // 2, sr=sr)
    return np.asarray(0.3 * out / np.max(np.abs(out)), dtype=np.float32)


# -- calibration and padding -------------------------------------------------------------------


def sine(
    *, freq: float, dbfs: float, duration: float, sr: int = SR, channels: int = 2
) -> np.ndarray:
    """A sine whose PEAK is ``dbfs`` dB below full scale, identical in every channel."""
    t = np.arange(int(duration * sr)) / sr
    y = (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([y] * channels) if channels > 1 else y


def pad(y: np.ndarray, *, before: float, after: float, sr: int = SR) -> np.ndarray:
    """Digital silence of ``before``/``after`` seconds around ``y`` (last axis)."""
    widths = [(0, 0)] * (y.ndim - 1) + [(int(before * sr), int(after * sr))]
    return np.pad(y, widths)


# -- music21 -> MIDI -> fluidsynth -------------------------------------------------------------


def render_score(
    score: Any, *, bpm: float, out_wav: Path, sr: int = SR, soundfont: Path = TIMGM,
    program: int | None = None,
) -> np.ndarray:
    """Render a music21 score at ``bpm`` quarter notes per minute; return stereo float32.

    Every existing tempo mark is removed and one MetronomeMark is put at the start, so the
    tempo is known exactly. ``program`` (General MIDI, 0-based) replaces every part's
    instrument when given. The WAV is kept at ``out_wav`` as a cache.
    """
    from music21 import bar, instrument, stream, tempo

    if not out_wav.exists():
        s = score.__deepcopy__()
        # Play every bar once: cut excerpts leave unbalanced repeats music21 cannot expand.
        for m in s.recurse().getElementsByClass(stream.Measure):
            for side in ("leftBarline", "rightBarline"):
                if isinstance(getattr(m, side), bar.Repeat):
                    setattr(m, side, None)
        for r in list(s.recurse().getElementsByClass(("RepeatExpression", "RepeatBracket"))):
            r.activeSite.remove(r)
        for mm in list(s.recurse().getElementsByClass(tempo.TempoIndication)):
            mm.activeSite.remove(mm)
        for part in s.parts:
            if program is not None:
                for ins in list(part.recurse().getElementsByClass(instrument.Instrument)):
                    ins.activeSite.remove(ins)
                ins = instrument.Instrument()
                ins.midiProgram = program
                part.insert(0, ins)
        s.parts[0].insert(0, tempo.MetronomeMark(number=bpm, referent=1.0))
        seconds = float(s.highestTime) * 60.0 / bpm + 3.0  # plus the release tail
        out_wav.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            mid = Path(tmp) / "in.mid"
            s.write("midi", fp=str(mid))
            pcm = render_midi(mid, soundfont=soundfont, sr=sr, max_seconds=seconds)
            sf.write(out_wav, pcm.T, sr, subtype="FLOAT")
    y, _ = sf.read(out_wav, dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T)


@dataclass(frozen=True)
class Piece:
    """A corpus piece rendered to audio, with the key its score declares."""

    name: str
    y: np.ndarray  # float32 (2, n)
    key: str  # mir_eval form, e.g. "Bb major"
    bpm: float
    bar_starts: np.ndarray  # seconds: where each notated bar begins (a pickup bar excluded)
    beats_per_bar: int  # quarter notes per bar of the first time signature (0 if unknown)


def declared_key(score: Any) -> str | None:
    """The first key signature the score declares, as "Tonic mode"; None if it has no mode.

    This is the composer's/editor's key (MusicXML <key> with <mode>), not music21's analysis.
    """
    from music21 import key

    for ks in score.recurse().getElementsByClass(key.KeySignature):
        if isinstance(ks, key.Key) and ks.mode in ("major", "minor"):
            return f"{ks.tonic.name.replace('-', 'b')} {ks.mode}"
        return None
    return None


def corpus_piece(
    path: str, *, bpm: float, cache: Path, bars: int = 0, program: int | None = 0
) -> Piece | None:
    """Render music21 corpus piece ``path`` (first ``bars`` bars, 0 = all) at ``bpm``.

    Returns None when the piece is missing or declares no key with a mode. Renders are
    cached in ``cache`` by path, bars, tempo and program.
    """
    from music21 import corpus

    try:
        score = corpus.parse(path)
    except Exception:  # music21 raises several unrelated types for a missing/odd file
        return None
    if bars:
        score = score.measures(1, bars)
    truth = declared_key(score)
    if truth is None:
        return None
    wav = cache / f"{path.replace('/', '_')}-{bars}-{bpm:g}-p{program}.wav"
    y = render_score(score, bpm=bpm, out_wav=wav, program=program)
    measures = score.parts[0].getElementsByClass("Measure")
    bar = float(measures[-1].barDuration.quarterLength) if len(measures) else 0.0
    starts = [float(m.offset) for m in measures
              if abs(float(m.duration.quarterLength) - bar) < 1e-6 or m is not measures[0]]
    return Piece(name=path, y=y, key=truth, bpm=bpm,
                 bar_starts=np.array(starts) * 60.0 / bpm,
                 beats_per_bar=round(bar) if float(bar).is_integer() else 0)
