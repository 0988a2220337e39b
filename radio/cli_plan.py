"""``radio plan --seed TRACK | --prompt TEXT``: plan a station's songs and print or save them.

Registered on the `radio.cli` group. ``--json`` prints the `radio.plan.Plan` that ``radio render``
reads; ``-o FILE`` saves it. ``--explain`` adds each junction's terms: the model's log P and the
musical penalties (tempo, key, loudness) the sequencer weighed against it.
"""

from __future__ import annotations

from pathlib import Path

import click

from radio.cli_common import echo_json, format_clock, home_option, json_option, settings_from

__all__ = ["plan_cmd"]


@click.command("plan")
@click.option("--seed", default=None, help="Start from this track (id or title).")
@click.option("--prompt", default=None, help="Describe the station in words.")
@click.option("--minutes", type=click.FloatRange(min=1, max=1440), default=60.0,
              show_default=True, help="Length of the plan.")
@click.option("--listener", default=None, help="Bend the pool to this listener's likes/skips.")
@click.option("--pool", "pool_size", type=click.IntRange(min=2, max=1000), default=50,
              show_default=True, help="Candidate songs the sequencer chooses from.")
@click.option("--diverse", type=click.FloatRange(min=0, max=1), default=0.7, show_default=True,
              help="MMR lambda of the pool: 1 = most similar, lower = more variety.")
@click.option("--explain", is_flag=True, help="Show the terms of every junction.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan as JSON (for `radio render`).")
@json_option
@home_option
@click.pass_context
def plan_cmd(ctx: click.Context, seed: str | None, prompt: str | None, minutes: float,
             listener: str | None, pool_size: int, diverse: float, explain: bool,
             out: Path | None, as_json: bool) -> None:
    """Plan a station: which songs, in what order, and at which beats each hands over."""
    from radio.pools import StationRequest
    from radio.stations import plan_station

    request = StationRequest(seed=seed, prompt=prompt, listener=listener, minutes=minutes,
                             pool_size=pool_size, diverse=diverse)
    plan = plan_station(settings_from(ctx), request, station_id="cli")
    if out is not None:
        plan.save(out)
    if as_json:
        data = plan.to_dict()
        if not explain:
            data["meta"].pop("junctions", None)
        echo_json(data)
        return
    terms = plan.meta.get("junctions", [])
    clock = 0.0
    for k, item in enumerate(plan.items):
        artist = f" - {item.artist}" if item.artist else ""
        click.echo(f"{format_clock(clock):>6}  #{item.ref:<5} {item.title}{artist}  "
                   f"[{format_clock(item.entry_time)}-{format_clock(item.exit_time)}, "
                   f"{item.tempo:.0f} BPM]")
        clock += item.exit_time - item.entry_time
        if k < len(plan.transitions):
            tr = plan.transitions[k]
            line = (f"        -> P={tr.probability:.2f}  tempo x{tr.tempo_ratio:.3f}  "
                    f"{tr.key_relation or 'key unknown'}  {tr.overlap_beats} beats")
            if explain and k < len(terms):
                t = terms[k]
                line += (f"  (log P {t['log_p']:+.2f}, tempo {t['tempo']:+.2f}, "
                         f"key {t['key']:+.2f}, loudness {t['loudness']:+.2f} "
                         f"= {t['score']:+.2f})")
            click.echo(line)
    click.echo(f"{len(plan.items)} songs, {format_clock(clock)}; total log P "
               f"{plan.log_probability:.2f}" + (f"; saved {out}" if out else ""))
