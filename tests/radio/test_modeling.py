"""The library side of the model: ingest generated songs, train, evaluate held out, embed cues."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from radio.cli import cli
from radio.config import Settings
from radio.modeling import cue_clips, is_held_out, load_model_inputs, model_path
from radio.store import Store
from ranking.index import CueIndex
from ranking.model import ContinuationNet, ModelConfig
from tests.ranking.music import song


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three albums of generated songs, ingested: (music root, RADIO_HOME)."""
    root = tmp_path_factory.mktemp("music")
    home = tmp_path_factory.mktemp("home")
    rng = np.random.default_rng(11)
    for album in ("alpha", "beta", "gamma"):
        (root / album).mkdir()
        for i in range(4):
            y, _ = song(rng, seconds=45, sr=22050, bpm=float(rng.uniform(95, 135)))
            sf.write(root / album / f"{album}-{i}.wav", np.stack([y, y], 1), 22050)
    res = CliRunner().invoke(cli, ["--home", str(home), "ingest", str(root), "-w", "1"])
    assert res.exit_code == 0, res.output
    return root, home


def test_inputs_split_whole_albums_and_cut_on_beats(library: tuple[Path, Path]):
    _, home = library
    cfg = ModelConfig()
    inputs = load_model_inputs(Settings(home=home), cfg=cfg, holdout=["gamma"], workers=1)
    assert len(inputs.test) == 4 and {t.group for t in inputs.test} == {"gamma"}
    assert len(inputs.train) == 8 and "gamma" not in {t.group for t in inputs.train}
    assert all(t.audio is not None for t in inputs.test)
    assert all(t.audio is None for t in inputs.train)
    for t in inputs.train:
        assert t.cuts.size > 10  # beats every ~0.5 s over ~37 s of usable song
        assert t.cuts.min() >= cfg.clip_hops and t.cuts.max() + cfg.clip_frames <= t.mel.shape[1]


def test_radio_train_defaults_to_the_shipped_recipe():
    """A plain `radio train` trains what ships: the command's defaults are TrainConfig's, and
    those are the recipe recorded in the shipped checkpoint."""
    from radio.cli_model import train_cmd
    from ranking.inference import ContinuationModel
    from ranking.train import TrainConfig

    shipped = ContinuationModel.load().meta["train_config"]
    defaults = {p.name: p.default for p in train_cmd.params}
    for field in ("epochs", "steps_per_epoch", "batch_size", "fine_steps", "tone_steps",
                  "lag_steps", "seed", "precision"):
        assert defaults[field] == getattr(TrainConfig(), field) == shipped[field], field


def test_runs_repeated_from_a_model_record_keep_its_arithmetic():
    """`radio calibrate` and `radio train --extend` repeat a run as it was recorded; models from
    before the precision setting were trained in float32, whatever today's default."""
    from radio.cli_model import _train_config
    from ranking.inference import ContinuationModel

    net = ContinuationNet(ModelConfig())
    old = ContinuationModel(net=net, meta={"train_config": {"seed": 3, "tone_steps": 7}})
    assert (_train_config(old).precision, _train_config(old).seed) == ("float32", 3)
    new = ContinuationModel(net=net, meta={"train_config": {"precision": "bfloat16"}})
    assert _train_config(new).precision == "bfloat16"


def test_train_eval_embed_through_the_cli(library: tuple[Path, Path]):
    _, home = library
    runner = CliRunner()
    res = runner.invoke(cli, ["--home", str(home), "train", "--epochs", "1", "--steps", "6",
                              "--batch", "6", "--fine-steps", "4", "--tone-steps", "4",
                              "--lag-steps", "4", "--precision", "bfloat16", "--holdout",
                              "gamma", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["held_out_tracks"] == 4 and info["train_tracks"] + info["val_tracks"] == 8
    settings = Settings(home=home)
    assert model_path(settings).exists()

    res = runner.invoke(cli, ["--home", str(home), "eval", "--anchors", "20", "--no-baselines",
                              "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["groups"] == ["gamma"] and report["tracks"] == 4
    m = report["scorers"]["model"]
    assert 0.0 <= m["recall1_other"] <= 1.0 and 0.0 <= m["ece"] <= 1.0
    assert "model_without_fine_seam" in report["scorers"]  # the second stage ran
    assert "splice_alone" in report["scorers"] and "tone_net_alone" in report["scorers"]
    assert "lag_alone" in report["scorers"]  # and the fourth

    # Calibrating again from the run's own record reproduces the trained model exactly.
    again_path = home / "again.pt"
    res = runner.invoke(cli, ["--home", str(home), "calibrate", "--out", str(again_path),
                              "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["val_tracks"] == info["val_tracks"]
    from ranking.inference import ContinuationModel

    trained = ContinuationModel.load(model_path(settings)).net.state_dict()
    again_state = ContinuationModel.load(again_path).net.state_dict()
    assert all(bool((again_state[k] == v).all()) for k, v in trained.items())
    # So does training its learned tone term again on the run's own tracks (in the run's
    # recorded arithmetic, bfloat16 here).
    res = runner.invoke(cli, ["--home", str(home), "train", "--extend", str(model_path(settings)),
                              "--tone-steps", "4", "--out", str(again_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["val_tracks"] == info["val_tracks"]
    again_state = ContinuationModel.load(again_path).net.state_dict()
    assert all(bool((again_state[k] == v).all()) for k, v in trained.items())
    bare = home / "bare.pt"
    ContinuationModel(net=ContinuationNet(ModelConfig())).save(bare)
    res = runner.invoke(cli, ["--home", str(home), "calibrate", "--model", str(bare)])
    assert res.exit_code == 1 and "does not record how it was trained" in res.output
    res = runner.invoke(cli, ["--home", str(home), "train", "--extend", str(bare)])
    assert res.exit_code == 1 and "does not record how it was trained" in res.output
    for command in ("calibrate", "eval"):  # a missing checkpoint: one line, not a traceback
        res = runner.invoke(cli, ["--home", str(home), command, "--model", str(home / "no.pt")])
        assert res.exit_code == 1 and "cannot load model checkpoint" in res.output

    # evaluating on training music is refused
    res = runner.invoke(cli, ["--home", str(home), "eval", "--holdout", "alpha"])
    assert res.exit_code == 1 and "used to train" in res.output

    # Calibrating on the library's own songs takes only those the model never learned from
    # (the held-out album), records them, and then will not evaluate on them.
    lib_path = home / "library-calibrated.pt"
    res = runner.invoke(cli, ["--home", str(home), "calibrate", "--library", "--tracks", "4",
                              "--out", str(lib_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["library_tracks"] == 4
    adapted = ContinuationModel.load(lib_path)
    gamma = {t.track_id for t in load_model_inputs(settings, cfg=ModelConfig(),
                                                   holdout=["gamma"], workers=1).test}
    assert set(adapted.meta["calibration_track_hashes"]) == gamma
    trained_model = ContinuationModel.load(model_path(settings))
    assert not torch.equal(adapted.net.seam_cal, trained_model.net.seam_cal)
    from radio.modeling import model_id

    # Same towers, same vectors: the cue index built for one serves the other.
    assert model_id(adapted) == model_id(trained_model)
    with torch.no_grad():
        next(trained_model.net.exit_tower.parameters()).add_(1e-3)
    assert model_id(adapted) != model_id(trained_model)
    res = runner.invoke(cli, ["--home", str(home), "eval", "--model", str(lib_path)])
    assert res.exit_code == 1 and "used to train or calibrate" in res.output
    res = runner.invoke(cli, ["--home", str(home), "calibrate", "--library", "--model",
                              str(lib_path), "--out", str(home / "again-lib.pt")])
    assert res.exit_code == 1 and "needs at least 4 songs" in res.output

    res = runner.invoke(cli, ["--home", str(home), "embed", "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.output)
    with Store(settings) as store:
        cue_ids = {cid for t in store.tracks() for cid, _ in store.cue_rows(t.id)}
    assert first["tracks_embedded"] == 12 and first["index_vectors"] == len(cue_ids)
    again = json.loads(runner.invoke(cli, ["--home", str(home), "embed", "--json"]).output)
    assert again["tracks_embedded"] == 0  # incremental: nothing new
    from radio.modeling import model_id, resolve_model

    model = resolve_model(settings)
    index = CueIndex.load(settings.indexes_dir, dim=model.config.dim, model_id=model_id(model))
    assert set(index.ids("exit")) | set(index.ids("entry")) == cue_ids
    vec = index.vectors("exit", index.ids("exit")[:3])
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)


def test_cue_clips_pad_with_silence_beyond_the_ends():
    from radio.phrases import Cue

    y = np.ones(10 * 100, dtype=np.float32)  # 10 s at 100 Hz
    cues = [(1, Cue("exit", 2.0, 0, 8)), (2, Cue("entry", 9.0, 0, 8))]
    exits, entries, exit_ids, entry_ids = cue_clips(y, 100, cues, seconds=4.0)
    assert exit_ids == [1] and entry_ids == [2]
    assert exits[0][:200].sum() == 0 and exits[0][200:].sum() == 200
    assert entries[0][:100].sum() == 100 and entries[0][100:].sum() == 0


def test_holdout_patterns_match_album_or_path_component():
    from dataclasses import replace

    from radio.records import Track

    base = Track(id=1, path="/m/nexuiz-music/a.ogg", content_hash="h", size=1, mtime=0,
                 duration=1, title="a", artist=None, album="Nexuiz", genre=None, comment=None,
                 lyrics=None, tags=(), analysis_version=1, status="ok", audible_start=0,
                 audible_end=1, tempo=120, tempo_confidence=1, key="C", mode="major",
                 key_confidence=1, camelot="8B", lufs=-14, added_at="", updated_at="")
    assert is_held_out(base, ["nexuiz"])
    assert is_held_out(replace(base, path="/m/x/a.ogg"), ["NEXUIZ"])
    assert not is_held_out(replace(base, album=None, path="/m/x/a.ogg"), ["nexuiz"])
    assert not is_held_out(base, [""])
