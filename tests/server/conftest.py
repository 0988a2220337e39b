"""A small ingested, embedded library shared by the server tests, and a live `radio serve`.

Six generated 60 s songs by six artists in two moods (tagged by sidecar so that prompts find
them), ingested and embedded once per session through the CLI, as an operator would. `served` starts
``radio serve`` on a free loopback port over a copy of it and stops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.library import ingest_albums

MOODS = {"calm": ((84.0, 92.0), ["ambient", "calm", "piano"]),
         "drive": ((124.0, 132.0), ["techno", "electronic", "fast", "night", "drive"])}
ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RADIO_HOME of six songs ("Calm 0".."Calm 2", "Drive 0".."Drive 2")."""
    return ingest_albums(tmp_path_factory.mktemp("music"), tmp_path_factory.mktemp("home"),
                         MOODS, seed=7, per_album=3, seconds=60,
                         artist=lambda mood, i: f"{mood.title()} Artist {i}")


def copy_home(library: Path, dest: Path) -> Path:
    """A private copy of the library (each server writes its own plays and feedback)."""
    shutil.copytree(library, dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def served(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``radio serve`` on loopback over a copy of the library, ready to answer."""
    tmp = tmp_path_factory.mktemp("served")
    home = copy_home(library, tmp / "home")
    port = free_port()
    log = tmp / "serve.log"
    env = {**os.environ, "RADIO_ADMIN_TOKEN": ADMIN_TOKEN, "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    radio = Path(sys.executable).with_name("radio")
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(radio), "--home", str(home), "serve", "--port", str(port),
                                 "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/tracks?limit=1", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"radio serve did not start:\n{log.read_text()}")
        time.sleep(0.3)
    try:
        yield Served(url, home, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
