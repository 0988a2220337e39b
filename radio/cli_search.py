"""``radio search "PROMPT"`` and ``radio similar TRACK``: find music by words or by sound.

Registered on the `radio.cli` group; each calls `radio.search` and prints a table for people or
JSON (``--json``) for scripts. The first search embeds the whole library (a progress bar shows);
later ones embed only new or changed tracks.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from radio.cli import _echo_json, _home_option, _json_option, _settings

__all__ = ["search_cmd", "similar_cmd"]


@click.command("search")
@click.argument("prompt")
@click.option("-n", "n", type=click.IntRange(min=1, max=1000), default=10, show_default=True,
              help="How many tracks to list.")
@_json_option
@_home_option
@click.pass_context
def search_cmd(ctx: click.Context, prompt: str, n: int, as_json: bool) -> None:
    """List the tracks whose tags, titles, lyrics and sound best match PROMPT.

    Example: radio search "calm ambient soundscape" -n 5
    """
    from radio.search import search_prompt

    result = search_prompt(_settings(ctx), prompt, n=n)
    if result.truncated:
        click.echo("note: the prompt is longer than the text model reads (256 word pieces); "
                   "only its start was used", err=True)
    if as_json:
        _echo_json(result.to_dict())
        return
    table = Table("#", "id", "score", "title", "artist", "album", "matched",
                  box=None, pad_edge=False)
    for rank, hit in enumerate(result.hits, 1):
        t = hit.track
        matched = "; ".join(f"{k}: {', '.join(v)}" for k, v in hit.matched.items())
        table.add_row(str(rank), str(t.id), f"{hit.score:.3f}", t.title, t.artist or "",
                      t.album or "", matched)
    Console().print(table, markup=False, highlight=False)  # titles are user data
    if result.index.embedded:
        click.echo(f"({result.index.embedded} tracks embedded in "
                   f"{result.index.seconds:.1f} s)", err=True)


@click.command("similar")
@click.argument("track")
@click.option("-n", "n", type=click.IntRange(min=1, max=1000), default=10, show_default=True,
              help="How many tracks to list.")
@click.option("--diverse", type=click.FloatRange(0.0, 1.0), default=None, metavar="LAMBDA",
              help="Re-rank for variety by maximal marginal relevance: 1 = most similar "
                   "only, lower = more variety (0.7 is a good start).")
@_json_option
@_home_option
@click.pass_context
def similar_cmd(ctx: click.Context, track: str, n: int, diverse: float | None,
                as_json: bool) -> None:
    """List the tracks that sound most like TRACK (an id or the start of a title)."""
    from radio.search import similar_tracks

    result = similar_tracks(_settings(ctx), track, n=n, diverse=diverse)
    if as_json:
        _echo_json(result.to_dict())
        return
    console = Console()
    console.print(f"like {result.seed.id} {result.seed.title}", markup=False, highlight=False)
    table = Table("#", "id", "score", "title", "artist", "album", box=None, pad_edge=False)
    for rank, (t, score) in enumerate(result.hits, 1):
        table.add_row(str(rank), str(t.id), f"{score:.3f}", t.title, t.artist or "",
                      t.album or "")
    console.print(table, markup=False, highlight=False)
