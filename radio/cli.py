"""The ``radio`` command line: a click group whose commands call `radio`'s modules.

Each command parses options, calls one library function and prints its result, as a table for
people or as JSON (``--json``) for scripts. A `RadioError` becomes one ``Error: ...`` line on
stderr and exit status 1; usage errors exit 2. Heavy modules (analysis, fetching) are imported
inside the commands that need them so that ``--help`` and listing stay fast.

Where state lives: ``--home DIR`` (on the group or on any command), else ``RADIO_HOME``, else
``./radio-data``; see `radio.config.Settings`.

The library commands are defined here; the rest live in ``radio.cli_*`` modules and are added
to the group below. The options and output helpers they all share are in `radio.cli_common`,
which imports none of them, so each module imports on its own.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from radio import __version__
from radio.cli_common import (
    echo_json,
    format_clock,
    home_option,
    json_option,
    settings_from,
    stderr_console,
)
from radio.cli_model import calibrate_cmd, embed_cmd, eval_cmd, train_cmd
from radio.cli_plan import plan_cmd
from radio.cli_render import render_cmd
from radio.cli_search import compare_cmd, search_cmd, similar_cmd, tag_votes_cmd
from radio.cli_serve import serve_cmd
from radio.cli_sponsors import sponsors_group
from radio.errors import RadioError
from radio.store import Store

__all__ = ["cli", "main"]


class _RadioGroup(click.Group):
    """Turns a `RadioError` (or the model's `RankingError`: a checkpoint that will not load, a
    clip too short, constraints no plan can meet) from any command into click's one-line error
    and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Looked up, not imported: importing `ranking` loads torch, which most commands
            # never need; if it was never imported, nothing raised one of its errors.
            ranking_errors = sys.modules.get("ranking.errors")
            if isinstance(exc, RadioError) or (
                    ranking_errors is not None and isinstance(exc, ranking_errors.RankingError)):
                raise click.ClickException(str(exc)) from exc
            raise


@click.group(cls=_RadioGroup, context_settings={"help_option_names": ["-h", "--help"]})
@home_option
@click.version_option(__version__, prog_name="radio")
def cli() -> None:
    """radio-jockey: an automated radio station built from your own music library."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--workers", "-w", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: every core; 1 analyses in this process).")
@json_option
@home_option
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], workers: int | None,
           as_json: bool) -> None:
    """Add the music under PATHS (folders or files) to the library, or bring it up to date.

    Unchanged files are skipped, moved files are followed, bad files are recorded
    (see `radio failures`) and skipped.
    """
    from radio.ingest import ingest as run_ingest

    settings = settings_from(ctx)
    console = stderr_console()
    with Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal, transient=True,
    ) as bar:
        task = bar.add_task("ingest", total=None, rate="scanning")
        start = time.perf_counter()

        def progress(done: int, total: int, audio_seconds: float) -> None:
            elapsed = max(time.perf_counter() - start, 1e-6)
            rate = f"{done / elapsed:.1f} tracks/s  {audio_seconds / elapsed:.0f}x real time"
            bar.update(task, completed=done, total=total, rate=rate)

        summary = run_ingest(paths, settings=settings, workers=workers, progress=progress)
    if as_json:
        echo_json(summary.to_dict())
        return
    s = summary
    click.echo(
        f"{s.scanned} files in {s.wall_seconds:.1f} s: {s.new} new, {s.updated} updated, "
        f"{s.skipped} unchanged, {s.moved} moved, {s.duplicate} duplicate, {s.missing} missing, "
        f"{s.failed} failed"
    )
    click.echo(
        f"analysed {s.audio_seconds / 3600:.2f} h of audio at {s.x_real_time:.0f}x real time "
        f"with {s.workers} worker{'s' if s.workers != 1 else ''}"
    )
    click.echo(f"library: {s.library_tracks} tracks, {s.library_seconds / 3600:.2f} h "
               f"in {settings.home}")
    if s.failures:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(s.failures.items()))
        click.echo(f"failures: {reasons} (see `radio failures`)")


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include tracks whose file is missing.")
@json_option
@home_option
@click.pass_context
def tracks(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the tracks in the library."""
    with Store(settings_from(ctx)) as store:
        rows = store.tracks(status=None if show_all else "ok")
    if as_json:
        echo_json([asdict(t) for t in rows])
        return
    table = Table("id", "title", "artist", "bpm", "key", "LUFS", "length", "status",
                  box=None, pad_edge=False)
    for t in rows:
        table.add_row(str(t.id), t.title, t.artist or "", f"{t.tempo:.1f}", t.camelot,
                      f"{t.lufs:.1f}", format_clock(t.duration), t.status)
    Console().print(table, markup=False, highlight=False)  # titles are user data, not markup
    click.echo(f"{len(rows)} tracks")


@cli.command()
@click.argument("track")
@json_option
@home_option
@click.pass_context
def show(ctx: click.Context, track: str, as_json: bool) -> None:
    """Show one track's analysis: tempo, key, Camelot code, loudness, cues, tags.

    TRACK is an id or the start of a title, file name or path.
    """
    with Store(settings_from(ctx)) as store:
        t = store.find_track(track)
        cues = store.cues(t.id)
        failures = store.failures(path=t.path)
    if as_json:
        from radio.tagvote import vote_of

        found = vote_of(settings_from(ctx), t.id)
        echo_json({**asdict(t), "cues": [asdict(c) for c in cues],
                   "failures": [asdict(f) for f in failures],
                   "voted": asdict(found) if found is not None else None})
        return
    console = Console()
    console.print(Text(f"{t.id}  {t.title}", style="bold"))
    fields: list[tuple[str, str | None]] = [
        ("artist", t.artist), ("album", t.album), ("genre", t.genre),
        ("tags", ", ".join(t.tags) or None), ("comment", t.comment), ("path", t.path),
        ("status", t.status),
        ("length", f"{format_clock(t.duration)} "
                   f"(audible {t.audible_start:.2f}-{t.audible_end:.2f} s)"),
        ("tempo", f"{t.tempo:.2f} BPM (confidence {t.tempo_confidence:.2f})"),
        ("key", f"{t.key} {t.mode}, Camelot {t.camelot} (confidence {t.key_confidence:.2f})"),
        ("loudness", f"{t.lufs:.1f} LUFS"),
        ("analysis", f"version {t.analysis_version}, updated {t.updated_at}"),
    ]
    for name, value in fields:
        if value:
            console.print(f"  {name:<9} {value}", highlight=False, markup=False)
    table = Table("cue", "time", "beat", "phrase", box=None, pad_edge=False)
    for c in cues:
        table.add_row(c.kind, f"{c.time:.2f}", str(c.beat_index), str(c.phrase))
    console.print(f"  cues      {len(cues)}")
    if cues:
        console.print(table)
    from radio.tagvote import show_vote  # guessed tags and their evidence, if any

    show_vote(settings_from(ctx), t.id, lambda line: console.print(line, markup=False,
                                                                   highlight=False))
    if t.lyrics:
        first = (t.lyrics.strip().splitlines() or [""])[0]
        console.print(f"  lyrics    {first} ...", highlight=False, markup=False)
    for f in failures:
        console.print(f"  failure   {f.reason}: {f.detail} ({f.time})", markup=False,
                      highlight=False)


@cli.command()
@json_option
@home_option
@click.pass_context
def failures(ctx: click.Context, as_json: bool) -> None:
    """List files that could not be added, and why."""
    with Store(settings_from(ctx)) as store:
        rows = store.failures()
    if as_json:
        echo_json([asdict(f) for f in rows])
        return
    table = Table("reason", "path", "detail", "time", box=None, pad_edge=False)
    for f in rows:
        table.add_row(f.reason, f.path, f.detail, f.time)
    Console().print(table, markup=False, highlight=False)
    click.echo(f"{len(rows)} failures")


def _fetch_command(name: Literal["demo", "ci", "dev", "gm"], what: str) -> click.Command:
    @click.option("--cache", type=click.Path(file_okay=False, path_type=Path),
                  default=Path("music-cache"), show_default=True,
                  help="Where downloaded packages are kept between runs.")
    @click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help=f"Where the tracks are laid out (default: CACHE/{name}).")
    def command(cache: Path, dest: Path | None) -> None:
        from radio.fetch import fetch_corpus

        def say(message: str) -> None:
            click.echo(message, err=True)

        report = fetch_corpus(name, cache=cache, dest=dest or cache / name, progress=say)
        click.echo(f"{report.tracks} tracks, {report.seconds / 3600:.2f} h, "
                   f"{report.bytes / 1e6:.0f} MB in {report.dest}")

    command.__doc__ = f"Fetch the {what} from Debian's archive into DEST, ready to ingest."
    return click.command(f"fetch-{name}", short_help=f"Fetch the {what}.")(command)


cli.add_command(_fetch_command("demo", "demo library"))
cli.add_command(_fetch_command("ci", "CI test corpus"))
cli.add_command(_fetch_command("dev", "development corpus"))
cli.add_command(_fetch_command("gm", "General MIDI game music, rendered (training material)"))


for _command in (train_cmd, calibrate_cmd, eval_cmd, embed_cmd, render_cmd, search_cmd,
                 similar_cmd, compare_cmd, tag_votes_cmd, plan_cmd, serve_cmd, sponsors_group):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point (``radio``)."""
    cli(prog_name="radio")


if __name__ == "__main__":
    main()
