"""Getting a package's ``.deb`` and unpacking it: the one place that runs apt-get and dpkg.

A ``.deb`` already in the cache is used as it is; otherwise ``apt-get download`` fetches it (no
installation, no root needed once the package lists exist). ``apt-get update`` runs at most once
per fetch, and only when a package was not found. ``dpkg -x`` unpacks into the cache, and a
half-finished extraction is never reused. Every command runs with ``LC_ALL=C`` so that its
messages can be matched; every failure becomes a `FetchError` that says what to do.

This module never looks inside a package's files: which of them are music is
`radio.fetch_sources`' business.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from radio.errors import FetchError

if TYPE_CHECKING:
    from radio.fetch import Progress

__all__ = ["AptUpdater", "deb_field", "extract_deb", "find_or_download"]


class AptUpdater:
    """Runs ``apt-get update`` at most once per fetch, and only when a package was not found."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, say: Progress) -> None:
        if self.done:
            return
        self.done = True
        if os.geteuid() != 0:
            raise FetchError("apt-get cannot find the package: its lists are missing or stale; "
                             "run `sudo apt-get update` once, then fetch again")
        say("apt-get update (package lists are missing or stale)")
        proc = _run(["apt-get", "update"], timeout=600)
        if proc.returncode != 0:
            raise FetchError(f"`apt-get update` failed: {_tail(proc.stderr)}")


def find_or_download(package: str, debs: Path, update: AptUpdater,
                     say: Progress) -> tuple[Path, bool]:
    """The cached ``.deb`` of ``package`` (newest if several), downloading it if absent."""
    found = sorted(debs.glob(f"{_glob_escape(package)}_*.deb"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1], False
    for attempt in (1, 2):
        say(f"{package}: downloading")
        proc = _run(["apt-get", "download", package], cwd=debs, timeout=1800)
        found = sorted(debs.glob(f"{_glob_escape(package)}_*.deb"))
        if proc.returncode == 0 and found:
            return found[-1], True
        not_found = re.search(r"Unable to locate|no installation candidate|Can't select",
                              proc.stderr)
        if attempt == 1 and not_found:
            update(say)
            continue
        raise FetchError(f"`apt-get download {package}` failed: {_tail(proc.stderr)}; "
                         f"check the network and /etc/apt/sources.list (Debian main), or put "
                         f"the .deb into {debs}")
    raise AssertionError("unreachable")


def _glob_escape(text: str) -> str:
    """``text`` with glob metacharacters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _run(cmd: list[str], *, cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    if shutil.which(cmd[0]) is None:
        raise FetchError(f"`{cmd[0]}` is not installed; fetching needs a Debian or Ubuntu system "
                         "(apt-get, dpkg)")
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              check=False, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`{' '.join(cmd)}` took more than {timeout:g} s; try again") from exc


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[-2:])[:300] or "no message"


def deb_field(deb: Path, name: str) -> str:
    """The control field ``name`` (``Version``, ...) of the ``.deb`` at ``deb``, from dpkg-deb."""
    proc = _run(["dpkg-deb", "--field", str(deb), name])
    if proc.returncode != 0 or not proc.stdout.strip():
        raise FetchError(f"{deb} is not a readable .deb ({_tail(proc.stderr)}); delete it and "
                         "fetch again")
    return proc.stdout.strip()


def extract_deb(deb: Path, target: Path, say: Progress) -> Path:
    """``dpkg -x`` into ``target`` once; a half-finished extraction is never reused."""
    if (target / ".complete").is_file():
        return target
    say(f"{deb.name}: unpacking")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        proc = _run(["dpkg", "-x", str(deb), str(tmp)], timeout=1200)
        if proc.returncode != 0:
            raise FetchError(f"dpkg -x {deb} failed ({_tail(proc.stderr)}); delete the file and "
                             "fetch again")
        (tmp / ".complete").write_text(deb.name, "utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
