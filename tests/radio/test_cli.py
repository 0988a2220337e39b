"""The `radio` command line through click's CliRunner: output, --json, --home, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import radio
import radio.fetch
from radio.cli import cli
from radio.errors import FetchError
from tests.conftest import MakeTrack

_REPO = Path(__file__).resolve().parents[2]
_CLI_MODULES = sorted(f"radio.{p.stem}" for p in Path(radio.__file__).parent.glob("cli_*.py"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def ingested(runner: CliRunner, settings, tmp_path: Path, make_track: MakeTrack) -> Path:
    music = tmp_path / "music"
    make_track(music / "Night_Drive.wav", seconds=9, bpm=120, seed=1)
    make_track(music / "dawn.ogg", seconds=8, bpm=100, seed=2)
    (music / "dawn.tags.json").write_text(json.dumps({"artist": "Ana", "tags": ["calm"]}))
    (music / "broken.mp3").write_bytes(b"not audio at all" * 64)
    result = runner.invoke(cli, ["ingest", str(music), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return music


@pytest.mark.parametrize("args", [[], ["ingest"], ["tracks"], ["show"], ["failures"],
                                  ["fetch-demo"], ["fetch-ci"], ["fetch-dev"]])
def test_help_everywhere(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, [*args, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output


def test_ingest_prints_a_summary(runner: CliRunner, settings, ingested: Path) -> None:
    result = runner.invoke(cli, ["ingest", str(ingested), "-w", "1"])
    assert result.exit_code == 0
    assert "3 files" in result.stdout and "2 unchanged" in result.stdout
    assert "failures: not-audio 1 (see `radio failures`)" in result.stdout
    assert "library: 2 tracks" in result.stdout


def test_ingest_json(runner: CliRunner, settings, tmp_path: Path, make_track: MakeTrack) -> None:
    make_track(tmp_path / "m" / "a.flac", seconds=6, seed=3)
    result = runner.invoke(cli, ["ingest", "--json", "--workers", "1", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["failed"], summary["library_tracks"]) == (1, 0, 1)
    assert summary["x_real_time"] > 0


def test_tracks_table_and_json(runner: CliRunner, ingested: Path) -> None:
    table = runner.invoke(cli, ["tracks"])
    assert table.exit_code == 0
    assert "Night Drive" in table.stdout and "2 tracks" in table.stdout
    rows = json.loads(runner.invoke(cli, ["tracks", "--json"]).stdout)
    assert sorted(r["title"] for r in rows) == ["Night Drive", "dawn"]
    dawn = next(r for r in rows if r["title"] == "dawn")
    assert dawn["artist"] == "Ana" and dawn["tags"] == ["calm"]


def test_show_by_title_prefix(runner: CliRunner, ingested: Path) -> None:
    result = runner.invoke(cli, ["show", "night"])
    assert result.exit_code == 0, result.output
    for word in ("Night Drive", "tempo", "BPM", "Camelot", "LUFS", "cues"):
        assert word in result.stdout
    data = json.loads(runner.invoke(cli, ["show", "dawn", "--json"]).stdout)
    assert data["title"] == "dawn" and data["tempo"] > 0 and data["camelot"]
    assert isinstance(data["cues"], list) and data["failures"] == []


def test_failures_table_and_json(runner: CliRunner, ingested: Path) -> None:
    assert "not-audio" in runner.invoke(cli, ["failures"]).stdout
    rows = json.loads(runner.invoke(cli, ["failures", "--json"]).stdout)
    assert [(Path(r["path"]).name, r["reason"]) for r in rows] == [("broken.mp3", "not-audio")]


def test_home_on_group_or_command_overrides_env(runner: CliRunner, settings, tmp_path: Path,
                                                make_track: MakeTrack) -> None:
    make_track(tmp_path / "m" / "a.wav", seconds=6, seed=5)
    other = tmp_path / "other-home"
    assert runner.invoke(cli, ["--home", str(other), "ingest", "-w", "1",
                               str(tmp_path / "m")]).exit_code == 0
    assert (other / "library.db").exists() and not settings.db_path.exists()
    listed = runner.invoke(cli, ["tracks", "--json", "--home", str(other)]).stdout
    assert len(json.loads(listed)) == 1
    assert json.loads(runner.invoke(cli, ["tracks", "--json"]).stdout) == []  # RADIO_HOME


def test_errors_are_one_line_and_exit_1(runner: CliRunner, settings, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli, ["show", "nothing"])
    assert result.exit_code == 1
    assert result.stderr == "Error: no track 'nothing'; list them with `radio tracks`\n"
    result = runner.invoke(cli, ["ingest", str(tmp_path / "absent")])
    assert result.exit_code == 1 and "no such file or folder" in result.stderr
    monkeypatch.setenv("RADIO_DECODE_TIMEOUT_S", "-1")
    result = runner.invoke(cli, ["tracks"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: invalid setting RADIO_DECODE_TIMEOUT_S")
    assert runner.invoke(cli, ["ingest"]).exit_code == 2  # usage error: no PATH


def test_fetch_commands_call_fetch_corpus(runner: CliRunner, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(name, *, cache, dest, progress):
        calls.append((name, cache, dest))
        progress(f"fetching {name}")
        return radio.fetch.FetchReport(dest=dest, packages=[])

    monkeypatch.setattr(radio.fetch, "fetch_corpus", fake)
    result = runner.invoke(cli, ["fetch-demo", "--cache", str(tmp_path / "c"),
                                 "--dest", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "fetching demo" in result.stderr and "0 tracks" in result.stdout
    assert runner.invoke(cli, ["fetch-ci", "--cache", str(tmp_path / "c")]).exit_code == 0
    assert runner.invoke(cli, ["fetch-dev"]).exit_code == 0
    assert runner.invoke(cli, ["fetch-gm", "--cache", str(tmp_path / "c")]).exit_code == 0
    assert calls == [("demo", tmp_path / "c", tmp_path / "d"),
                     ("ci", tmp_path / "c", tmp_path / "c" / "ci"),
                     ("dev", Path("music-cache"), Path("music-cache") / "dev"),
                     ("gm", tmp_path / "c", tmp_path / "c" / "gm")]

    def broken(name, **kw):
        raise FetchError("apt-get download failed: no network")

    monkeypatch.setattr(radio.fetch, "fetch_corpus", broken)
    result = runner.invoke(cli, ["fetch-ci"])
    assert (result.exit_code, result.stderr) == (1, "Error: apt-get download failed: no network\n")


def test_titles_that_look_like_markup_print_as_they_are(runner: CliRunner, settings,
                                                       tmp_path: Path,
                                                       make_track: MakeTrack) -> None:
    make_track(tmp_path / "m" / "a.wav", seconds=6, seed=8)
    (tmp_path / "m" / "a.tags.json").write_text(json.dumps({"title": "[/]odd [red]x",
                                                            "lyrics": " \n"}))
    assert runner.invoke(cli, ["ingest", "-w", "1", str(tmp_path / "m")]).exit_code == 0
    for args in (["tracks"], ["show", "[/]odd"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "[/]odd [red]x" in result.stdout


def test_there_are_cli_modules_to_import() -> None:
    assert "radio.cli_plan" in _CLI_MODULES  # the glob below found the modules


@pytest.mark.parametrize("module", _CLI_MODULES)
def test_each_cli_module_imports_on_its_own(module: str) -> None:
    # A fresh interpreter, so that nothing has imported `radio.cli` first: a module that needs
    # the group's module half-built fails here with a circular-import error.
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=_REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
