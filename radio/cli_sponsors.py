"""``radio sponsors ...``: add sponsor clips, list, pause, resume, delete, and report on them.

Registered on the `radio.cli` group. Each command calls `radio.sponsors` (``add``:
`radio.sponsor_clips`) and prints a table for people or JSON (``--json``) for scripts; a bad clip
or field is one ``Error:`` line and exit 1.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from radio.cli_common import echo_json, home_option, json_option, settings_from
from radio.sponsors import Sponsor, SponsorStatus, SponsorStore

__all__ = ["sponsors_group"]


@click.group("sponsors")
def sponsors_group() -> None:
    """Sponsor clips: played at the junctions where they are least noticeable."""


@sponsors_group.command("add")
@click.argument("clip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The sponsor's name, as reports show it.")
@click.option("--text", default="", help="What the ad is about (matched to stations' prompts).")
@click.option("--tags", default="", help="Comma-separated targeting tags, e.g. 'coffee,morning'.")
@click.option("--cap-per-hour", type=int, default=4, show_default=True,
              help="Most plays one listener hears in any hour.")
@click.option("--min-gap-minutes", type=float, default=10.0, show_default=True,
              help="Least time between this ad and any other ad on a station.")
@click.option("--start", default=None, help="Active from (ISO 8601, no zone = UTC).")
@click.option("--end", default=None, help="Active until (ISO 8601, no zone = UTC).")
@click.option("--weight", type=float, default=1.0, show_default=True,
              help="Preference over other sponsors at equal noticeability.")
@json_option
@home_option
@click.pass_context
def add_cmd(ctx: click.Context, clip: Path, name: str, text: str, tags: str, cap_per_hour: int,
            min_gap_minutes: float, start: str | None, end: str | None, weight: float,
            as_json: bool) -> None:
    """Analyse CLIP (any audio format) and add it as a sponsor.

    Example: radio sponsors add ad.mp3 --name "Acme Coffee" --text "fresh roasted coffee"
    --tags coffee,morning --cap-per-hour 2
    """
    from radio.sponsor_clips import add_sponsor, parse_time

    sponsor = add_sponsor(settings_from(ctx), clip, name=name, text=text,
                          tags=tuple(tags.split(",")), cap_per_hour=cap_per_hour,
                          min_gap_minutes=min_gap_minutes,
                          starts_at=parse_time(start, what="--start"),
                          ends_at=parse_time(end, what="--end"), weight=weight)
    if as_json:
        echo_json(sponsor.to_dict())
        return
    click.echo(f"added sponsor {sponsor.id} {sponsor.name!r}: {sponsor.duration:.1f} s, "
               f"{sponsor.lufs:.1f} LUFS")


def _table(rows: list[Sponsor]) -> Table:
    table = Table("id", "name", "status", "seconds", "LUFS", "cap/h", "gap min", "weight",
                  "window", "tags", box=None, pad_edge=False)
    for s in rows:
        d = s.to_dict()
        window = f"{d['start'] or '-'} .. {d['end'] or '-'}"
        table.add_row(str(s.id), s.name, s.status, f"{s.duration:.1f}", f"{s.lufs:.1f}",
                      str(s.cap_per_hour), f"{s.min_gap_minutes:g}", f"{s.weight:g}", window,
                      ", ".join(s.tags))
    return table


@sponsors_group.command("list")
@click.option("--deleted", is_flag=True, help="Show deleted sponsors too.")
@json_option
@home_option
@click.pass_context
def list_cmd(ctx: click.Context, deleted: bool, as_json: bool) -> None:
    """List the sponsors."""
    with SponsorStore(settings_from(ctx)) as store:
        rows = store.sponsors(include_deleted=deleted)
    if as_json:
        echo_json([s.to_dict() for s in rows])
        return
    Console().print(_table(rows), markup=False, highlight=False)


def _status_cmd(name: str, new: SponsorStatus, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("sponsor_id", type=int)
    @home_option
    @click.pass_context
    def cmd(ctx: click.Context, sponsor_id: int) -> None:
        with SponsorStore(settings_from(ctx)) as store:
            s = store.set_status(sponsor_id, new)
        click.echo(f"sponsor {s.id} {s.name!r} is {s.status}")

    return cmd


sponsors_group.add_command(_status_cmd("pause", "paused", "Stop placing SPONSOR_ID."))
sponsors_group.add_command(_status_cmd("resume", "active", "Place SPONSOR_ID again."))
sponsors_group.add_command(_status_cmd(
    "delete", "deleted", "Delete SPONSOR_ID: never placed again; its report stays."))


@sponsors_group.command("report")
@click.argument("sponsor_id", type=int)
@json_option
@home_option
@click.pass_context
def report_cmd(ctx: click.Context, sponsor_id: int, as_json: bool) -> None:
    """Impressions of SPONSOR_ID: total, last hour and day, by station, junction scores."""
    with SponsorStore(settings_from(ctx)) as store:
        rep = store.report(sponsor_id)
    data = rep.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(f"sponsor {rep.sponsor.id} {rep.sponsor.name!r} ({rep.sponsor.status})")
    click.echo(f"impressions: {rep.impressions} (last hour {rep.last_hour}, last day "
               f"{rep.last_day}), listeners: {rep.listeners}")
    if rep.impressions:
        click.echo(f"first {data['first']}, last {data['last']}")
        click.echo(f"mean junction drop: {data['mean_drop']} nats; mean P in/out: "
                   f"{data['mean_probability_in']} / {data['mean_probability_out']}")
        for station, n in rep.by_station.items():
            click.echo(f"  {station}: {n}")
