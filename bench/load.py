"""Load benchmark of the radio service, on loopback only: N stations, M listeners, T seconds.

    .venv/bin/python bench/load.py --home radio-data-demo --stations 20 --listeners 200 \
        --seconds 180

Starts ``radio serve`` on a free loopback port over ``--home``, creates ``--stations`` stations
seeded by distinct tracks (one after another, timing each), then opens ``--listeners`` streaming
clients spread round-robin over them (started over ``--ramp`` seconds) and reads for
``--seconds``. Prints:

- time to first byte of the streams (p50, p95, max) and station creation time;
- underruns: a client underruns when the audio it has received falls behind a player that
  starts ``STARTUP_S`` after the first byte and plays in real time (it would run dry); the worst
  "cushion" (received audio minus what that player has played, in seconds) over all clients;
- the server's CPU (its process and its ffmpeg children, as a fraction of one core) and peak
  RSS (the server process; children separately), and the stations' clock stalls (`/stats`).

Bounded: at most 50 stations, 1000 listeners and 600 s; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TOKEN = "load-bench-token-0123456789"
BYTES_PER_S = 192_000 / 8  # the stream's CBR rate
STARTUP_S = 0.5  # a player starts this long after its first byte


@dataclass
class Client:
    station: str
    started: float = 0.0
    first: float | None = None
    received: int = 0
    worst_cushion: float = float("inf")  # received audio minus elapsed since the first byte
    error: str | None = None
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def ttfb(self) -> float | None:
        return None if self.first is None else self.first - self.started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Usage:
    """CPU seconds of the server and its children (live ones sampled, dead ones by rusage of
    the server's own accounting: cutime/cstime), and peak RSS."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0.0
        self.peak_children_rss = 0.0
        self._child_cpu: dict[int, float] = {}

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, _rss_mb(self.pid))
        kids = _children(self.pid)
        self.peak_children_rss = max(self.peak_children_rss, sum(_rss_mb(k) for k in kids))
        for k in kids:
            self._child_cpu[k] = _proc_cpu_s(k)

    def cpu_s(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            reaped = 0.0
        return _proc_cpu_s(self.pid) + max(reaped, 0.0) + sum(self._child_cpu.values())


async def listen(http: httpx.AsyncClient, client: Client, url: str, until: float) -> None:
    client.started = time.monotonic()
    try:
        async with http.stream("GET", url) as res:
            if res.status_code != 200:
                client.error = f"HTTP {res.status_code}"
                return
            async for chunk in res.aiter_raw():
                now = time.monotonic()
                if client.first is None:
                    client.first = now
                client.received += len(chunk)
                cushion = client.received / BYTES_PER_S - (now - client.first) + STARTUP_S
                client.worst_cushion = min(client.worst_cushion, cushion)
                if now >= until:
                    break
            else:
                client.error = "stream ended"
    except httpx.HTTPError as exc:
        client.error = f"{type(exc).__name__}: {exc}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _scratch_home(home: Path) -> Path:
    """A throw-away RADIO_HOME sharing ``home``'s features and indexes, with a copy of its
    database, so that the benchmark's play log never lands in the operator's data."""
    tmp = Path(tempfile.mkdtemp(prefix="radio-load-"))
    for name in ("features", "indexes", "models"):
        if (home / name).exists():
            (tmp / name).symlink_to((home / name).resolve())
    src = sqlite3.connect(home / "library.db")
    dst = sqlite3.connect(tmp / "library.db")
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return tmp


async def run(args: argparse.Namespace) -> None:
    port = _free_port()
    home = _scratch_home(args.home)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RADIO_ADMIN_TOKEN": TOKEN, "RADIO_MAX_STATIONS": str(args.stations),
           "RADIO_MAX_LISTENERS_PER_STATION": str(args.listeners), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    radio = Path(sys.executable).with_name("radio")
    log = open(args.log, "wb")  # noqa: SIM115  (closed at the end)
    server = subprocess.Popen([str(radio), "--home", str(home), "serve", "--port",
                               str(port), "--log-level", "warning"], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    usage = Usage(server.pid)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(240):
                try:
                    if (await http.get("/tracks?limit=1")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
            tracks = (await http.get("/tracks", params={"limit": 500})).json()["tracks"]
            step = max(1, len(tracks) // args.stations)
            seeds = [t["id"] for t in tracks[::step]][: args.stations]
            await asyncio.sleep(args.warmup)  # the model and text encoder preload
            stations, created = [], []
            for seed in seeds:
                t0 = time.monotonic()
                res = await http.post("/stations", json={"seed_track": seed})
                created.append(time.monotonic() - t0)
                if res.status_code != 201:
                    print(f"station for track {seed}: HTTP {res.status_code} {res.text}")
                    continue
                stations.append(res.json()["id"])
            print(f"{len(stations)} stations created: {statistics.median(created):.2f} s median, "
                  f"{max(created):.2f} s max")
            cpu0, t_start = usage.cpu_s(), time.monotonic()
            until = t_start + args.ramp + args.seconds
            clients = [Client(stations[i % len(stations)]) for i in range(args.listeners)]
            tasks = []
            streams = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0),
                                        limits=httpx.Limits(max_connections=None))
            for i, c in enumerate(clients):
                delay = args.ramp * i / max(len(clients), 1)
                tasks.append(asyncio.create_task(_delayed(delay, listen(
                    streams, c, f"{base}/stations/{c.station}/stream", until))))

            async def sampler() -> None:
                while time.monotonic() < until:
                    usage.sample()
                    await asyncio.sleep(5)

            await asyncio.gather(sampler(), *tasks)
            await streams.aclose()
            usage.sample()
            wall = time.monotonic() - t_start
            cpu = usage.cpu_s() - cpu0
            stats = (await http.get("/stats", headers={"Authorization": f"Bearer {TOKEN}"})).json()
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    ttfb = [c.ttfb for c in clients if c.ttfb is not None]
    cushions = [c.worst_cushion for c in clients if c.first is not None]
    errors = [c.error for c in clients if c.error]
    under = sum(1 for x in cushions if x < 0)
    rates = [c.received / BYTES_PER_S / max(until - c.first, 1e-9) for c in clients
             if c.first is not None]
    stalls = [s["stall_s"] for s in stats["stations"]]
    print(f"listeners: {len(clients)} over {len(stations)} stations, {args.seconds:.0f} s "
          f"(+{args.ramp:.0f} s ramp); errors: {len(errors)} {sorted(set(errors))[:3]}")
    print(f"time to first byte: p50 {pct(ttfb, .5) * 1000:.0f} ms, p95 {pct(ttfb, .95) * 1000:.0f}"
          f" ms, max {max(ttfb) * 1000:.0f} ms")
    print(f"underruns: {under} of {len(cushions)} clients; worst cushion "
          f"{min(cushions):.2f} s; received/elapsed rate min {min(rates):.3f}x, "
          f"median {statistics.median(rates):.3f}x real time")
    print(f"station clock stalls: total {sum(stalls):.1f} s, worst station {max(stalls):.1f} s; "
          f"dropped listeners {sum(s['dropped_listeners'] for s in stats['stations'])}")
    print(f"server CPU {cpu / wall:.2f} cores (process + ffmpeg children) over {wall:.0f} s; "
          f"peak RSS {usage.peak_rss:.0f} MB (+{usage.peak_children_rss:.0f} MB children)")


async def _delayed(delay: float, coro: object) -> None:
    await asyncio.sleep(delay)
    await coro  # type: ignore[misc]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--home", type=Path, default=Path("radio-data-demo"))
    p.add_argument("--stations", type=int, default=20)
    p.add_argument("--listeners", type=int, default=200)
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--ramp", type=float, default=10.0, help="listeners start over this long")
    p.add_argument("--warmup", type=float, default=8.0, help="wait for the model preload")
    p.add_argument("--log", type=Path, default=Path("/tmp/radio-load-serve.log"))
    args = p.parse_args()
    if not (1 <= args.stations <= 50 and 1 <= args.listeners <= 1000
            and 1 <= args.seconds <= 600):
        p.error("bounded: 1-50 stations, 1-1000 listeners, 1-600 s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
