"""Routes through FastAPI's TestClient over a real small library: status codes and messages
(422 for bad bodies, 404 for unknown ids, 401 for admin routes), and a station's lifecycle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from radio.config import Settings
from radio.errors import ConfigError
from server.app import create_app
from server.config import ServerSettings, load_settings
from tests.server.conftest import ADMIN_TOKEN, copy_home

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def make_client(home: Path, **overrides: Any) -> TestClient:
    config = ServerSettings(radio=Settings(home=home), **{"admin_token": ADMIN_TOKEN,
                                                          **overrides})
    return TestClient(create_app(config, preload=False), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def home(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(library, tmp_path_factory.mktemp("routes") / "home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with make_client(home) as c:
        yield c


def detail(res) -> str:
    d = res.json()["detail"]
    return d if isinstance(d, str) else "; ".join(e["msg"] for e in d)


def test_track_list_search_and_one_track(client: TestClient) -> None:
    everything = client.get("/tracks").json()
    assert everything["total"] == 6
    calm = client.get("/tracks", params={"q": "calm ARTIST"}).json()
    assert sorted(t["title"] for t in calm["tracks"]) == ["Calm 0", "Calm 1", "Calm 2"]
    assert client.get("/tracks", params={"q": "techno"}).json()["total"] == 3  # a tag
    assert client.get("/tracks", params={"q": "zzz nothing"}).json() == {"total": 0,
                                                                         "tracks": []}
    page = client.get("/tracks", params={"limit": 2, "offset": 5}).json()
    assert page["total"] == 6 and len(page["tracks"]) == 1
    one = calm["tracks"][0]
    got = client.get(f"/tracks/{one['id']}").json()
    assert got == one and "path" not in got and got["tempo"] > 0


def test_similar_tracks(client: TestClient) -> None:
    first = client.get("/tracks").json()["tracks"][0]
    res = client.get(f"/tracks/{first['id']}/similar", params={"n": 3})
    assert res.status_code == 200
    body = res.json()
    assert body["seed"]["id"] == first["id"]
    assert len(body["hits"]) == 3 and first["id"] not in [h["track"]["id"] for h in body["hits"]]


@pytest.mark.parametrize("path", ["/tracks/9999", "/tracks/9999/similar", "/stations/nope",
                                  "/stations/nope/stream", "/stations/nope.m3u"])
def test_unknown_ids_are_404_with_a_message(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 404
    assert "9999" in detail(res) or "'nope'" in detail(res)


def test_unknown_station_for_delete_and_feedback(client: TestClient) -> None:
    assert client.delete("/stations/nope").status_code == 404
    res = client.post("/stations/nope/feedback", json={"kind": "like"})
    assert res.status_code == 404 and detail(res) == "no station 'nope'"


@pytest.mark.parametrize(("body", "words"), [
    ({}, "seed_track"),
    ({"prompt": "   "}, "seed_track"),
    ({"prompt": "calm", "minutes": 0}, "greater than or equal to 1"),
    ({"prompt": "calm", "colour": "red"}, "Extra inputs"),
    ({"prompt": "x" * 501}, "at most 500"),
    ({"seed_track": "Calm 0", "listener": "x" * 65}, "at most 64"),
])
def test_bad_station_requests_are_422_naming_the_problem(client: TestClient, body: dict[str, Any],
                                                         words: str) -> None:
    res = client.post("/stations", json=body)
    assert res.status_code == 422
    assert words in detail(res)


def test_garbage_bodies_never_crash(client: TestClient) -> None:
    for data in (b"\xff\xfe\x00garbage", b"{", b"[]", b"null"):
        res = client.post("/stations", content=data, headers={"Content-Type": "application/json"})
        assert res.status_code == 422, data
    res = client.post("/stations/nope/feedback", content=b"{")
    assert res.status_code in (404, 422)
    assert client.get("/tracks", params={"limit": "many"}).status_code == 422


def test_unknown_seed_song_is_404(client: TestClient) -> None:
    res = client.post("/stations", json={"seed_track": "No Such Song At All"})
    assert res.status_code == 404
    assert "No Such Song At All" in detail(res)


def test_admin_routes_need_the_token(client: TestClient) -> None:
    for method, path in (("GET", "/stats"), ("POST", "/library/scan")):
        res = client.request(method, path, json={"paths": ["/nowhere"]})
        assert res.status_code == 401 and "admin token" in detail(res)
        assert res.headers["www-authenticate"] == "Bearer"
        res = client.request(method, path, json={"paths": ["/nowhere"]},
                             headers={"Authorization": "Bearer wrong-token-000000000"})
        assert res.status_code == 401 and detail(res) == "wrong admin token"
    stats = client.get("/stats", headers=AUTH).json()
    assert stats["library_tracks"] == 6 and stats["rss_mb"] > 10
    res = client.post("/library/scan", json={"paths": ["/nowhere/at/all"]}, headers=AUTH)
    assert res.status_code == 400 and "/nowhere/at/all" in detail(res)


def test_admin_routes_are_closed_without_a_configured_token(home: Path) -> None:
    with make_client(home, admin_token=None) as c:
        res = c.get("/stats", headers=AUTH)
        assert res.status_code == 401 and "RADIO_ADMIN_TOKEN" in detail(res)


def test_bad_settings_are_refused_with_the_variable_name() -> None:
    with pytest.raises(ConfigError, match="RADIO_ADMIN_TOKEN"):
        load_settings(admin_token="short")
    with pytest.raises(ConfigError, match="RADIO_PORT"):
        load_settings(port=70000)


def test_player_page_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="player"' in page.text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/stations", "/stations/{station_id}/stream", "/tracks/{track_id}/similar",
            "/library/scan", "/stats"} <= set(paths)


def test_station_lifecycle(home: Path) -> None:
    with make_client(home, max_stations=1, idle_stop_s=60) as c:
        res = c.post("/stations", json={"seed_track": "Calm 0", "listener": "ann"})
        assert res.status_code == 201, res.text
        st = res.json()
        assert st["state"] == "live" and st["stream_url"].endswith(f"/stations/{st['id']}/stream")
        assert st["now_playing"]["item"]["title"] == "Calm 0"  # a seeded station starts with it
        assert len(st["upcoming"]) >= 2
        assert all(0.0 <= j["probability"] <= 1.0 for j in st["junctions"])
        assert [j["index"] for j in st["junctions"]][:2] == [0, 1]
        # One station is the limit here.
        full = c.post("/stations", json={"seed_track": "Drive 0"})
        assert full.status_code == 503 and "RADIO_MAX_STATIONS" in detail(full)
        m3u = c.get(f"/stations/{st['id']}.m3u")
        assert m3u.text.startswith("#EXTM3U") and st["stream_url"] in m3u.text
        liked = c.post(f"/stations/{st['id']}/feedback", json={"kind": "like"}).json()
        assert liked == {"kind": "like", "track": st["now_playing"]["item"]["ref"],
                         "skip_pending": False}
        res = c.post(f"/stations/{st['id']}/feedback", json={"kind": "like", "track": 9999})
        assert res.status_code == 404, res.text
        assert c.post(f"/stations/{st['id']}/feedback", json={"kind": "love"}).status_code == 422
        got = c.get(f"/stations/{st['id']}").json()
        assert got["position_s"] >= 0 and got["request"]["listener"] == "ann"
        assert c.delete(f"/stations/{st['id']}").status_code == 204
        assert c.get(f"/stations/{st['id']}").status_code == 404


def test_station_without_listeners_is_stopped(home: Path) -> None:
    with make_client(home, idle_stop_s=30) as c:
        st = c.post("/stations", json={"seed_track": "Drive 1"}).json()
        registry = cast(FastAPI, c.app).state.registry
        assert registry.reap(now=time.monotonic() + 10) == []
        assert registry.reap(now=time.monotonic() + 31) == [st["id"]]
        assert c.get(f"/stations/{st['id']}").status_code == 404


def test_junctions_next_to_a_sponsor_say_why_it_went_there() -> None:
    from radio.plan import PlanItem, Transition
    from server.schemas import JunctionPublic

    def item(kind: str) -> PlanItem:
        return PlanItem(kind=kind, ref=1, path="/x", title="x", artist=None,  # type: ignore[arg-type]
                        entry_time=0.0, exit_time=10.0, tempo=0.0, beat_confidence=0.0,
                        lufs=-14.0)

    song, ad = item("track"), item("sponsor")
    reasons = {4: "drop +1.20 nats (P in 0.60, out 0.50), text match 0.30"}
    into = JunctionPublic.from_transition(Transition(3, 9.0, 0.0, 8, 1.0, 0.6), song, ad, reasons)
    out = JunctionPublic.from_transition(Transition(4, 10.0, 0.0, 8, 1.0, 0.5), ad, song, reasons)
    plain = JunctionPublic.from_transition(Transition(5, 9.0, 0.0, 8, 1.0, 0.7), song, song,
                                           reasons)
    assert into.sponsor and into.sponsor_reason == reasons[4]
    assert out.sponsor and out.sponsor_reason == reasons[4]
    assert not plain.sponsor and plain.sponsor_reason is None
