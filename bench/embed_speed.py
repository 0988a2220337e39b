"""How long it takes to embed one track's cues: decode at the model's rate, cut the cue clips,
run both towers (and keep the seam frames), on one core.

    .venv/bin/python bench/embed_speed.py --home radio-data-dev [--n 8]

Picks the library's tracks closest to 4 minutes and reports, per track, wall and CPU seconds
(this process plus ffmpeg) for decode and for embedding, then the medians. Target: a 4-minute
track's cues in <= 0.5 s on one core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from radio.audio import decode  # noqa: E402
from radio.config import Settings  # noqa: E402
from radio.modeling import cue_clips, resolve_model  # noqa: E402
from radio.store import Store  # noqa: E402


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    settings = Settings(home=args.home)
    model = resolve_model(settings)
    cfg = model.config
    with Store(settings) as store:
        tracks = sorted(store.tracks(), key=lambda t: abs(t.duration - 240.0))[: args.n]
        cues = {t.id: store.cue_rows(t.id) for t in tracks}
    model.features([torch.zeros(cfg.clip_samples).numpy()], cfg.sr, "exit")  # warm-up
    rows = []
    for t in tracks:
        w0, c0 = time.perf_counter(), _cpu()
        y = decode(t.path, sr=cfg.sr, channels=1)[0]
        w1, c1 = time.perf_counter(), _cpu()
        exits, entries, _, _ = cue_clips(y, cfg.sr, cues[t.id], seconds=cfg.clip_seconds)
        model.features(exits, cfg.sr, "exit")
        model.features(entries, cfg.sr, "entry")
        w2, c2 = time.perf_counter(), _cpu()
        rows.append((t.duration, len(cues[t.id]), w1 - w0, c1 - c0, w2 - w1, c2 - c1))
        print(f"{Path(t.path).name[:30]:<30} {t.duration:6.1f} s {len(cues[t.id]):3d} cues  "
              f"decode {w1 - w0:.3f} s wall {c1 - c0:.3f} s cpu  "
              f"embed {w2 - w1:.3f} s wall {c2 - c1:.3f} s cpu")
    med = [statistics.median(r[i] for r in rows) for i in range(6)]
    print(f"median over {len(rows)} tracks of {med[0]:.0f} s with {med[1]:.0f} cues: "
          f"decode {med[2]:.3f} s wall / {med[3]:.3f} s cpu, embed {med[4]:.3f} s wall / "
          f"{med[5]:.3f} s cpu, total {med[2] + med[4]:.3f} s wall / {med[3] + med[5]:.3f} s "
          "cpu (target <= 0.5 s)")


if __name__ == "__main__":
    main()
