"""``radio search``, ``similar``, ``compare`` and ``tag-votes``: find and relate music.

Registered on the `radio.cli` group; each calls `radio.search` and prints a table for people or
JSON (``--json``) for scripts. The first search embeds the whole library (a progress bar shows);
later ones embed only new or changed tracks.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from radio.cli_common import echo_json, home_option, json_option, settings_from

__all__ = ["compare_cmd", "search_cmd", "similar_cmd", "tag_votes_cmd"]


@click.command("search")
@click.argument("prompt")
@click.option("-n", "n", type=click.IntRange(min=1, max=1000), default=10, show_default=True,
              help="How many tracks to list.")
@json_option
@home_option
@click.pass_context
def search_cmd(ctx: click.Context, prompt: str, n: int, as_json: bool) -> None:
    """List the tracks whose tags, titles, lyrics and sound best match PROMPT.

    Example: radio search "calm ambient soundscape" -n 5
    """
    from radio.search import search_prompt

    result = search_prompt(settings_from(ctx), prompt, n=n)
    if result.truncated:
        click.echo("note: the prompt is longer than the text model reads (256 word pieces); "
                   "only its start was used", err=True)
    if as_json:
        echo_json(result.to_dict())
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
@json_option
@home_option
@click.pass_context
def similar_cmd(ctx: click.Context, track: str, n: int, diverse: float | None,
                as_json: bool) -> None:
    """List the tracks that sound most like TRACK (an id or the start of a title)."""
    from radio.search import similar_tracks

    result = similar_tracks(settings_from(ctx), track, n=n, diverse=diverse)
    if as_json:
        echo_json(result.to_dict())
        return
    console = Console()
    console.print(f"like {result.seed.id} {result.seed.title} (by {result.kind} vectors)",
                  markup=False, highlight=False)
    table = Table("#", "id", "score", "title", "artist", "album", box=None, pad_edge=False)
    for rank, (t, score) in enumerate(result.hits, 1):
        table.add_row(str(rank), str(t.id), f"{score:.3f}", t.title, t.artist or "",
                      t.album or "")
    console.print(table, markup=False, highlight=False)


@click.command("compare")
@click.argument("track_a")
@click.argument("track_b")
@json_option
@home_option
@click.pass_context
def compare_cmd(ctx: click.Context, track_a: str, track_b: str, as_json: bool) -> None:
    """Say how alike TRACK_A and TRACK_B are in timbre, harmony, rhythm, loudness and text.

    Each facet is 0..1 (1 = the same) with the values behind it.
    """
    from radio.compare import compare_tracks

    result = compare_tracks(settings_from(ctx), track_a, track_b)
    if as_json:
        echo_json(result.to_dict())
        return
    console = Console()
    console.print(f"{result.a.id} {result.a.title}  vs  {result.b.id} {result.b.title}",
                  markup=False, highlight=False)
    table = Table("facet", "score", "values", box=None, pad_edge=False)
    for f in result.facets:
        values = "; ".join(f"{k} {v}" for k, v in f.values.items())
        table.add_row(f.name, "-" if f.score is None else f"{f.score:.2f}", values)
    if result.overall is not None:
        table.add_row("overall", f"{result.overall:.2f}", "song-vector cosine (radio similar)")
    console.print(table, markup=False, highlight=False)


@click.command("tag-votes")
@click.option("--force", is_flag=True, help="Recompute even if nothing changed.")
@json_option
@home_option
@click.pass_context
def tag_votes_cmd(ctx: click.Context, force: bool, as_json: bool) -> None:
    """Guess tags for untagged tracks from their tagged audio neighbours, and list them.

    Prompt search does this by itself; this command shows the votes and their evidence.
    """
    from dataclasses import asdict

    from radio.tagvote import update_tag_votes

    votes = update_tag_votes(settings_from(ctx), force=force)
    if as_json:
        echo_json({"votes": [asdict(v) for v in votes.values()]})
        return
    if not votes:
        click.echo("every track has tags or a genre of its own; nothing to vote")
    for v in votes.values():
        click.echo(f"{v.track_id}: {v.explain()}")
