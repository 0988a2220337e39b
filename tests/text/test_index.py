"""The text FAISS index: incremental sync, persistence, damage and model changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.text.conftest import FakeEmbedder
from text.index import INDEX_FILE, META_FILE, TextIndex

DOCS = {1: "calm ambient pads", 2: "fast techno drums", 3: "orchestral battle strings"}


def _open(path: Path, fake: FakeEmbedder) -> TextIndex:
    return TextIndex.open(path, model=fake.name, dim=fake.dim)


def test_sync_embeds_only_what_changed(tmp_path: Path, fake: FakeEmbedder) -> None:
    docs = dict(DOCS)
    index = _open(tmp_path, fake)
    report = index.sync({i: "v1" for i in docs}, docs.__getitem__, fake)
    assert (report.added, report.changed, report.removed, report.embedded) == (3, 0, 0, 3)
    assert (tmp_path / INDEX_FILE).is_file() and (tmp_path / META_FILE).is_file()

    again = _open(tmp_path, fake)
    assert again.ids == [1, 2, 3]
    report = again.sync({i: "v1" for i in docs}, docs.__getitem__, fake)
    assert report.embedded == 0 and report.unchanged == 3

    # New stamps, same text: described again but not re-embedded.
    report = again.sync({i: "v2" for i in docs}, docs.__getitem__, fake)
    assert report.embedded == 0 and fake.embedded == 3

    docs[2] = "slow techno drums"
    docs[4] = "retro midi adventure"
    del docs[1]
    report = again.sync({2: "v3", 3: "v2", 4: "v1"}, docs.__getitem__, fake)
    assert (report.added, report.changed, report.removed, report.unchanged) == (1, 1, 1, 1)
    assert fake.calls[-1] == ["slow techno drums", "retro midi adventure"]
    assert _open(tmp_path, fake).ids == [2, 3, 4]


def test_search_ranks_by_cosine(tmp_path: Path, fake: FakeEmbedder) -> None:
    index = _open(tmp_path, fake)
    index.sync({i: "" for i in DOCS}, DOCS.__getitem__, fake)
    hits = index.search(fake.encode(["techno drums"])[0], 2)
    assert hits[0][0] == 2 and hits[0][1] > hits[1][1]
    assert len(index.search(fake.encode(["x"])[0], 50)) == 3
    assert index.search(fake.encode(["x"])[0], 0) == []
    assert np.allclose(index.vectors([3]), fake.encode([DOCS[3]]), atol=1e-6)


def test_damaged_or_foreign_files_are_rebuilt(tmp_path: Path, fake: FakeEmbedder) -> None:
    index = _open(tmp_path, fake)
    index.sync({i: "" for i in DOCS}, DOCS.__getitem__, fake)
    assert len(TextIndex.open(tmp_path, model="another-model", dim=fake.dim)) == 0
    (tmp_path / INDEX_FILE).write_bytes(b"garbage")
    fresh = _open(tmp_path, fake)
    assert len(fresh) == 0
    assert fresh.sync({i: "" for i in DOCS}, DOCS.__getitem__, fake).added == 3
    (tmp_path / META_FILE).write_text('{"model": "fake-bag-of-words", "dim": 256, "tracks": {}}')
    assert len(_open(tmp_path, fake)) == 0  # ids disagree with the index: not trusted
