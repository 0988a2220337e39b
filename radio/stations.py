"""Stations: from a request to an endless plan (the orchestration; no HTTP, no audio output).

    request --candidate_pool--> Pool --candidates--> ranking Candidates --score_tensor-->
    TransitionScores --ranking.sequencer--> Solution --to_plan--> radio.plan.Plan

`radio.sequencing` translates between the library and the sequencer (`candidates`: cue vectors
in; `to_plan`: plan items and transitions out); this module decides what is sequenced and when.

`plan_station` makes one finite plan (``radio plan``). `Station` is an endless one: it plans a
few songs at creation (fast, so the stream starts at once) and `Station.ensure_ahead` extends
the plan while the renderer plays it, never changing what has been rendered: the song being
rendered may get a new exit, and everything after it is replanned with `ranking.sequencer.extend`.
`Station.replan_after` serves a skip: it leaves the song on air at the first downbeat after the
playhead (a fresh exit cue, embedded on the spot), into the best continuation of that moment.
When the pool runs low, a new pool is drawn around the same request, without what was played.

`Plan.items` and `Plan.transitions` are list objects that are extended and truncated in place,
under the station's lock, so a renderer holding ``station.plan`` sees the plan grow.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from radio.audio import decode
from radio.config import Settings
from radio.errors import RadioError
from radio.listeners import FeedbackKind, record_feedback
from radio.modeling import resolve_model
from radio.plan import Plan, PlanItem
from radio.pools import Pool, StationRequest, candidate_pool
from radio.records import Track
from radio.sequencing import candidates, load_cue_index, to_plan
from radio.store import Store
from ranking import ContinuationModel
from ranking.errors import PlanError
from ranking.objective import Constraints, Solution
from ranking.sequencer import GAConfig, extend, sequence
from ranking.transitions import SoftWeights, score_tensor, soft_components

__all__ = ["Station", "plan_station"]

FIRST_SONGS = 3  # songs planned when a station starts (the rest follow while it plays)
AHEAD = 3  # songs planned past the one being rendered by `ensure_ahead`
REFILL_AT = 8  # draw a new pool when fewer playable candidates than this remain
REPEAT_GAP = 30  # songs before one may return (fewer in a pool too small for that)


def _lead(pool: Pool) -> dict[str, object]:
    return {"seed": pool.seed.id if pool.seed else None, "prompt": pool.prompt,
            "pool": [{"id": t.id, "title": t.title, "relevance": round(r, 4), "why": why}
                     for t, r, why in zip(pool.tracks, pool.relevance, pool.reasons,
                                          strict=True)]}


@contextlib.contextmanager
def _plan_errors(what: str) -> Iterator[None]:
    """A plan the constraints cannot meet is the request's failure (RadioError, prefixed by
    ``what``); any other error is a bug, and reaches the server's log as one."""
    try:
        yield
    except PlanError as exc:
        raise RadioError(f"{what}: {exc}") from exc


def plan_station(settings: Settings, request: StationRequest, *,
                 model: ContinuationModel | None = None, station_id: str = "",
                 config: GAConfig | None = None) -> Plan:
    """One plan of about ``request.minutes`` minutes (the seed first when there is one)."""
    model = model or resolve_model(settings)
    pool = candidate_pool(settings, request)
    lib = candidates(settings, pool.tracks, model=model)
    if len(lib.tracks) < 2:
        raise RadioError(f"only {len(lib.tracks)} of the pool's songs have cue embeddings; "
                         "run `radio embed` first")
    scores = score_tensor(lib.candidates, scale=model.scale, bias=model.bias)
    first = 0 if pool.seed is not None and lib.tracks[0].id == pool.seed.id else None
    with _plan_errors(f"cannot plan station {station_id or '(new)'}"):
        sol = sequence(scores, Constraints(minutes=request.minutes, first=first),
                       config or GAConfig(time_budget_s=2.0))
    items, transitions = to_plan(sol, lib, station=station_id)
    terms = soft_components(lib.candidates, SoftWeights())
    explain = [{"log_p": round(sol.junction_logp[k], 4),
                **{name: round(float(v[i, j]), 4) for name, v in terms.items()},
                "score": round(sol.junction_scores[k], 4)}
               for k, (i, j) in enumerate(zip(sol.order, sol.order[1:], strict=False))]
    meta = {**_lead(pool), "duration_s": sol.duration_s, "violations": list(sol.violations),
            "search": {k: v for k, v in sol.stats.items() if isinstance(v, int | float | str)},
            "junctions": explain, "dropped_without_embeddings": [t.id for t in lib.dropped]}
    return Plan(station=station_id, items=items, transitions=transitions,
                log_probability=sol.log_probability, meta=meta)


class Station:
    """An endless station (see the module docstring). Public methods hold one lock."""

    def __init__(self, settings: Settings, request: StationRequest, *,
                 model: ContinuationModel, station_id: str | None = None,
                 config: GAConfig | None = None, sponsors: bool = True) -> None:
        self.id = station_id or uuid.uuid4().hex[:12]
        self.sponsors = sponsors  # place sponsor clips as the plan grows
        self.started_at = time.time()  # wall clock of the plan's first item (caps, windows)
        self.settings, self.request, self.model = settings, request, model
        self.config = config or GAConfig(time_budget_s=0.5, patience=8)
        self._lock = threading.RLock()
        self._index = load_cue_index(settings, model)
        self._banned: set[int] = set()  # track ids: skipped or blocked on this station
        self.plan = Plan(station=self.id, items=[], transitions=[])
        self._base = 0  # plan index of the solution's first song
        self._new_pool(exclude=())
        first = 0 if self._seeded else None
        n = min(FIRST_SONGS, len(self._lib.tracks))
        with _plan_errors(f"cannot plan station {self.id}"):
            sol = sequence(self._scores, Constraints(n_songs=n, first=first), self.config)
        self._set(sol, from_pos=0)

    @classmethod
    def create(cls, settings: Settings, request: StationRequest, *,
               model: ContinuationModel | None = None, station_id: str | None = None,
               sponsors: bool = True) -> Station:
        """Plan a new station's first songs; RadioError/NotFound for a bad request."""
        return cls(settings, request, model=model or resolve_model(settings),
                   station_id=station_id, sponsors=sponsors)

    # -- pool and scores ---------------------------------------------------------------------
    def _new_pool(self, *, exclude: Sequence[int], keep: Track | None = None) -> None:
        """Draw the pool for the request; ``keep`` (the song on air) stays in it, first."""
        self.pool = candidate_pool(self.settings, self.request,
                                   exclude=set(exclude) | self._banned)
        tracks = [t for t in self.pool.tracks if keep is None or t.id != keep.id]
        lib = candidates(self.settings, [*([keep] if keep else []), *tracks],
                         model=self.model, index=self._index)
        if len(lib.tracks) < 2:
            raise RadioError(f"only {len(lib.tracks)} of the station's songs have cue "
                             "embeddings; run `radio embed` first")
        self._lib = lib
        self._seeded = self.pool.seed is not None and lib.tracks[0].id == self.pool.seed.id
        self._rescore()

    def _rescore(self) -> None:
        self._scores = score_tensor(self._lib.candidates, scale=self.model.scale,
                                    bias=self.model.bias)

    def _row_of(self, track_id: int) -> int:
        for r, t in enumerate(self._lib.tracks):
            if t.id == track_id:
                return r
        raise RadioError(f"track {track_id} is not in station {self.id}'s pool")

    def _set(self, sol: Solution, *, from_pos: int) -> None:
        """Adopt ``sol`` (over the current pool) and rewrite the plan from solution position
        ``from_pos`` on (earlier items and their transitions are kept as they are)."""
        self._sol = sol
        at = self._base + from_pos
        first_time = self.plan.items[at].entry_time if at < len(self.plan.items) else None
        sub = Solution(order=sol.order[from_pos:], exit_cues=sol.exit_cues[from_pos:],
                       entry_cues=sol.entry_cues[from_pos:],
                       first_entry=sol.first_entry if from_pos == 0 else None,
                       junction_logp=sol.junction_logp[from_pos:], junction_scores=(),
                       total=0.0, duration_s=0.0)
        items, transitions = to_plan(sub, self._lib, station=self.id, first_time=first_time)
        transitions = [replace(t, index=t.index + at) for t in transitions]
        # Slice assignment replaces a tail in one step: a renderer reading the lists from
        # another thread sees the old tail or the new one, never a truncated plan.
        self.plan.items[at:] = items
        self.plan.transitions[at:] = transitions
        self.plan.log_probability = float(sum(math.log(max(t.probability, 1e-12))
                                              for t in self.plan.transitions))

    def _memory(self) -> int:
        """How many songs back a song may not return: long in a big pool, short in a tiny one."""
        return max(0, min(REPEAT_GAP, len(self._lib.tracks) - AHEAD - 2))

    def _rebase(self, index: int) -> None:
        """Make the song at plan ``index`` the solution's first (what came before is history,
        kept out by `_constraints`); draws a new pool when this one has run dry."""
        item = self.plan.items[index]
        recent = [it.ref for it in self.plan.items[max(0, index - REPEAT_GAP) : index]
                  if it.kind == "track"]
        memory = self._memory()
        kept_out = set(recent[len(recent) - memory :] if memory else []) | self._banned
        free = len({t.id for t in self._lib.tracks} - kept_out)
        if free < REFILL_AT and self.pool.library_size > len(self._lib.tracks):
            self._new_pool(exclude=recent, keep=self._lib.tracks[self._row_of(item.ref)])
        row = self._row_of(item.ref)
        hit = np.flatnonzero(np.isclose(self._lib.candidates[row].entry_times, item.entry_time))
        self._base = index
        self._sol = Solution(order=(row,), exit_cues=(), entry_cues=(),
                             first_entry=int(hit[0]) if hit.size else None, junction_logp=(),
                             junction_scores=(), total=0.0,
                             duration_s=item.exit_time - item.entry_time)

    def _constraints(self, index: int) -> Constraints:
        """No song from the last `_memory` songs or banned; artists spaced across history."""
        memory = self._memory()
        recent = {it.ref for it in self.plan.items[max(0, index - memory) : index]
                  if it.kind == "track"} if memory else set()
        rows = frozenset(r for r, t in enumerate(self._lib.tracks)
                         if t.id in self._banned or t.id in recent)
        codes = {t.artist.casefold(): int(self._scores.artists[r])
                 for r, t in enumerate(self._lib.tracks) if t.artist}
        gap = Constraints().artist_gap
        artists = tuple(codes.get((it.artist or "").casefold(), -1)
                        for it in self.plan.items[max(0, index - gap + 1) : index]
                        if it.kind == "track")
        return Constraints(exclude=rows - {self._row_of(self.plan.items[index].ref)},
                           recent_artists=artists)

    # -- the live surface ---------------------------------------------------------------------
    def ensure_ahead(self, index: int, n: int = 2) -> None:
        """Item ``index`` starts rendering: make sure ``n`` songs are planned after it.

        A sponsor clip's next song is already fixed by the clip's placement, so at a clip the
        plan is extended from that song on."""
        with self._lock:
            items = self.plan.items
            if sum(it.kind == "track" for it in items[index + 1 :]) >= n:
                return
            if items[index].kind != "track":
                index += 1  # a clip is always followed by a song
            self._extend(index, not_before=0.0)

    def _extend(self, index: int, *, not_before: float,
                patch: tuple[float, np.ndarray] | None = None) -> None:
        if not 0 <= index < len(self.plan.items):
            raise RadioError(f"item {index} is not in the station's current plan")
        self._rebase(index)
        if patch is not None:  # a fresh exit cue for the song at ``index`` (a skip)
            row = self._sol.order[0]
            self._lib.candidates[row] = replace(self._lib.candidates[row],
                                                exit_vectors=patch[1],
                                                exit_times=np.array([patch[0]]))
            self._rescore()
        c = self._constraints(index)
        n_more = min(AHEAD, len(self._lib.tracks) - 1 - len(c.exclude))
        if n_more <= 0:
            raise RadioError("the station has no song left that it may play")
        with _plan_errors(f"cannot extend station {self.id}"):
            sol = extend(self._scores, self._sol, streamed=1, n_more=n_more, constraints=c,
                         not_before=not_before, config=self.config)
        self._set(sol, from_pos=0)
        if self.sponsors:
            self._place_sponsors(index)

    def _place_sponsors(self, index: int) -> None:
        """Sponsor clips at the least noticeable junctions of the newly planned tail (never the
        junction out of the song at ``index``, which may be a skip). A failure costs the ads,
        never the station."""
        from radio.sponsor_plans import place_sponsors

        try:
            placed, _ = place_sponsors(
                self.settings, self.plan, station=self.id, started_at=self.started_at,
                listener=self.request.listener, description=self._description(),
                from_junction=index + 1, model=self.model, index=self._index)
        except RadioError as exc:
            self.plan.meta["sponsor_error"] = str(exc)
            return
        if placed is self.plan:
            return  # nothing placed (no active sponsor)
        notes = [n for n in self.plan.meta.get("sponsors", []) if int(n["item"]) <= index]
        notes += [n for n in placed.meta.get("sponsors", []) if int(n["item"]) > index]
        self.plan.items[index + 1 :] = placed.items[index + 1 :]
        self.plan.transitions[index:] = placed.transitions[index:]
        self.plan.meta["sponsors"] = notes

    def _description(self) -> str:
        """What the station is about, for sponsor targeting: its prompt or its seed song."""
        if self.request.prompt:
            return self.request.prompt
        seed = self.pool.seed
        if seed is None:
            return ""
        return " ".join(x for x in (seed.title, seed.artist, seed.album, seed.genre,
                                    *seed.tags) if x)

    def replan_after(self, index: int, *, not_before: float) -> None:
        """A skip: leave item ``index`` at its first downbeat after ``not_before`` s (into its
        file) and replan what follows. Does nothing when the song ends before that anyway."""
        with self._lock:
            if not 0 <= index < len(self.plan.items):
                raise RadioError(f"item {index} is not in the station's current plan")
            item = self.plan.items[index]
            not_before = max(not_before, item.entry_time + Constraints().min_play_s)
            if item.kind != "track" or not_before >= item.exit_time - 1.0:
                return
            t = self._skip_exit(item, not_before)
            if t is None:
                return
            vec = self.model.embed_exits([self._exit_clip(item, t)], self.model.config.sr)
            self._extend(index, not_before=t - 0.01, patch=(t, vec))

    def _skip_exit(self, item: PlanItem, not_before: float) -> float | None:
        with Store(self.settings) as store:
            f = store.features(store.track(item.ref))
        grid = f.downbeats if f.downbeats.size else f.beats
        if grid.size == 0:
            return not_before  # no beat: any moment will do (the renderer crossfades smoothly)
        ok = grid[(grid >= not_before) & (grid < item.exit_time)]
        return float(ok[0]) if ok.size else None

    def _exit_clip(self, item: PlanItem, t: float) -> np.ndarray:
        cfg = self.model.config
        start = max(0.0, t - cfg.clip_seconds)
        y = decode(item.path, sr=cfg.sr, channels=1, offset=start, duration=t - start,
                   timeout=self.settings.decode_timeout_s)[0]
        n = round(cfg.clip_seconds * cfg.sr)
        return np.pad(y, (max(0, n - y.size), 0))[-n:].astype(np.float32)

    def feedback(self, kind: FeedbackKind, track_id: int) -> None:
        """Record a like/skip/block (for the listener, when known) and bend what comes next:
        a skipped or blocked song is not planned again on this station."""
        with self._lock:
            if self.request.listener:
                record_feedback(self.settings, listener=self.request.listener,
                                track_id=track_id, kind=kind, station=self.id)
            elif kind not in ("like", "skip", "block"):
                raise RadioError(f"feedback must be like, skip or block, not {kind!r}")
            if kind in ("skip", "block"):
                self._banned.add(int(track_id))

    def upcoming(self, index: int) -> list[PlanItem]:
        """The planned items after ``index``."""
        with self._lock:
            return list(self.plan.items[index + 1 :])

    def snapshot(self) -> Plan:
        """A copy of the plan as it stands (safe to serialise while the station plays)."""
        with self._lock:
            return Plan(station=self.id, items=list(self.plan.items),
                        transitions=list(self.plan.transitions),
                        log_probability=self.plan.log_probability,
                        meta={**_lead(self.pool),
                              "sponsors": list(self.plan.meta.get("sponsors", []))})

