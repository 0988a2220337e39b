"""A station's plan: which songs play, in what order, and where each hands over to the next.

The sequencer (`ranking.sequencer`) chooses order and cues over index arrays; `radio.sequencing`
turns its result into this record, and `radio.render` turns this record into audio. A plan is
JSON-serialisable so that `radio plan --json > p.json` and `radio render p.json` compose.

Times are seconds from the start of each file. Item ``i`` plays from its ``entry_time`` (the
beat where it was joined; 0 or the audible start for the first song) to its ``exit_time`` (the
beat where it leaves; the audible end for the last song). Transition ``i`` joins item ``i`` to item
``i + 1``: the exit beat of one lies on the entry beat of the next, and the overlap **starts** on
those beats and lasts ``overlap_beats`` beats of the outgoing song: A plays on past its exit cue,
fading out, while B plays from its entry cue, fading in. So the listener hears A up to its exit
and B from its entry (the clips the continuation model scored), and `radio.phrases` keeps 8 beats
of audio after every exit cue for the overlap. `radio.render_geometry` reaches back before the
cues only when A has fewer beats left than the overlap needs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from radio.errors import RadioError

__all__ = ["Plan", "PlanItem", "Transition"]

ItemKind = Literal["track", "sponsor"]


@dataclass(frozen=True)
class PlanItem:
    """One song (or sponsor clip) of a plan."""

    kind: ItemKind
    ref: int  # track id (or sponsor id)
    path: str
    title: str
    artist: str | None
    entry_time: float  # s: where playback of this item starts
    exit_time: float  # s: where it hands over (or ends)
    tempo: float  # BPM, 0 when it has no reliable beat
    beat_confidence: float  # 0..1
    lufs: float  # integrated loudness of the file


@dataclass(frozen=True)
class Transition:
    """The junction between item ``index`` and item ``index + 1``."""

    index: int
    exit_time: float  # s in the outgoing item: the beat where the incoming one lands
    entry_time: float  # s in the incoming item: its beat that lands there
    overlap_beats: int  # length of the crossfade, in beats of the outgoing item
    tempo_ratio: float  # incoming tempo / outgoing tempo (after octave folding: near 1)
    probability: float  # the model's P(incoming continues outgoing) at these cues
    key_relation: str = ""  # e.g. "same key", "relative", "+1 fifth", "clash"


@dataclass
class Plan:
    """An ordered mix: ``len(transitions) == len(items) - 1``."""

    station: str
    items: list[PlanItem]
    transitions: list[Transition]
    log_probability: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.items and len(self.transitions) != len(self.items) - 1:
            raise RadioError(
                f"a plan of {len(self.items)} items needs {len(self.items) - 1} transitions, "
                f"got {len(self.transitions)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        try:
            return cls(
                station=str(data.get("station", "")),
                items=[PlanItem(**i) for i in data["items"]],
                transitions=[Transition(**t) for t in data["transitions"]],
                log_probability=float(data.get("log_probability", 0.0)),
                meta=dict(data.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RadioError(f"not a radio-jockey plan: {exc}") from exc

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise RadioError(f"cannot read plan {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise RadioError(f"not a radio-jockey plan: {path} holds no JSON object")
        return cls.from_dict(data)
