"""``radio render PLAN.json -o mix.mp3``: render a plan to a file with a progress bar.

Registered on the `radio.cli` group. The output format follows the file name: ``.mp3`` (MP3,
192 kbps by default), ``.ogg``/``.opus`` (Opus in Ogg) or ``.wav`` (16-bit PCM). Beats come from
the library in ``--home``; items whose features are missing get smooth crossfades.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from radio.cli_common import echo_json, home_option, json_option, settings_from, stderr_console

__all__ = ["render_cmd"]


@click.command("render")
@click.argument("plan_file", metavar="PLAN.json",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file: .mp3, .ogg/.opus or .wav.")
@click.option("--lufs", type=float, default=-14.0, show_default=True,
              help="Target loudness of every song.")
@click.option("--bitrate", type=click.IntRange(min=32, max=320), default=None,
              help="kbit/s (default 192 for MP3, 128 for Opus).")
@click.option("--no-bass-swap", is_flag=True, help="Fade the low end instead of swapping it.")
@click.option("--hq-stretch", is_flag=True,
              help="Rubber Band's finer (R3) engine for tempo matching: 3.5x the stretch CPU.")
@json_option
@home_option
@click.pass_context
def render_cmd(ctx: click.Context, plan_file: Path, out: Path, lufs: float, bitrate: int | None,
               no_bass_swap: bool, hq_stretch: bool, as_json: bool) -> None:
    """Render PLAN.json (from `radio plan --json`) into one continuous, beat-matched mix."""
    import soundfile as sf

    from radio.encode import Encoder
    from radio.errors import RadioError
    from radio.plan import Plan
    from radio.render import Marker, RenderConfig, beats_from_store, render
    from radio.sponsor_plans import with_sponsor_beats
    from radio.store import Store

    suffix = out.suffix.lower()
    if suffix not in (".mp3", ".ogg", ".opus", ".wav"):
        raise RadioError(f"cannot write {out.name}: use a .mp3, .ogg, .opus or .wav file name")
    plan = Plan.load(plan_file)
    cfg = RenderConfig(target_lufs=lufs, bass_swap=not no_bass_swap, stretch_hq=hq_stretch)
    expected = sum(max(i.exit_time - i.entry_time, 0.0) for i in plan.items)
    junctions: list[Marker] = []
    console = stderr_console()
    start = time.perf_counter()
    frames = 0
    tmp = out.with_name(f".{out.name}.part")
    with Store(settings_from(ctx)) as store, Progress(
        TextColumn("render"), BarColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal, transient=True,
    ) as bar:
        task = bar.add_task("render", total=expected, info="")
        beats_for = with_sponsor_beats(settings_from(ctx), beats_from_store(store))
        chunks = render(plan, beats_for=beats_for, config=cfg,
                        on_marker=lambda m: junctions.append(m) if m.kind == "junction" else None)

        def tick(n: int) -> None:
            nonlocal frames
            frames += n
            secs = frames / cfg.sr
            speed = secs / max(time.perf_counter() - start, 1e-6)
            bar.update(task, completed=min(secs, expected), info=f"{speed:.0f}x real time")

        if suffix == ".wav":
            with sf.SoundFile(tmp, "w", samplerate=cfg.sr, channels=2, subtype="PCM_16",
                              format="WAV") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    tick(chunk.shape[0])
        else:
            with open(tmp, "wb") as fh, Encoder("mp3" if suffix == ".mp3" else "opus",
                                                bitrate=bitrate, sr=cfg.sr) as enc:
                for chunk in chunks:
                    fh.write(enc.feed(chunk))
                    tick(chunk.shape[0])
                fh.write(enc.close())
    tmp.replace(out)
    wall = time.perf_counter() - start
    seconds = frames / cfg.sr
    styles = [m.style for m in junctions]
    kinds = {s: styles.count(s) for s in sorted(set(styles))}
    report = {"out": str(out), "seconds": round(seconds, 2), "wall_seconds": round(wall, 2),
              "x_real_time": round(seconds / max(wall, 1e-6), 1), "items": len(plan.items),
              "junctions": kinds}
    if as_json:
        echo_json(report)
        return
    told = ", ".join(f"{n} {s}" for s, n in kinds.items()) or "none"
    click.echo(f"{out}: {seconds / 60:.1f} min, {len(plan.items)} songs, junctions: {told}; "
               f"rendered in {wall:.1f} s ({report['x_real_time']}x real time)")
