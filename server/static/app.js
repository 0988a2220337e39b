// The web player: start a station, play its stream, show what plays and what comes next.
// Plain ES2017, no build step; works in Chromium and Firefox.
"use strict";

const $ = (id) => document.getElementById(id);
let station = null;    // the last GET /stations/{id} body
let pollTimer = null;

function say(text) { $("status").textContent = text; }

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const d = data.detail;
    const msg = Array.isArray(d) ? d.map((e) => e.msg).join("; ") : (d || res.statusText);
    throw new Error(msg);
  }
  return data;
}

function artistTitle(item) {
  return item.artist ? `${item.artist} – ${item.title}` : item.title;
}

async function startStation(request) {
  const buttons = document.querySelectorAll("#ask button");
  buttons.forEach((b) => { b.disabled = true; });
  say("Planning your station…");
  try {
    if (station) await api("DELETE", `/stations/${station.id}`).catch(() => {});
    station = await api("POST", "/stations", request);
    const player = $("player");
    player.src = station.stream_url;
    $("m3u").href = station.m3u_url;
    $("station").hidden = false;
    render(station);
    say("On air.");
    try { await player.play(); } catch (e) { say("Press play to listen."); }
    clearInterval(pollTimer);
    pollTimer = setInterval(poll, 2000);
  } catch (e) {
    say(`Could not start the station: ${e.message}`);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

async function poll() {
  if (!station) return;
  try {
    station = await api("GET", `/stations/${station.id}`);
    render(station);
  } catch (e) {
    say(`Station lost: ${e.message}`);
    clearInterval(pollTimer);
  }
}

function render(s) {
  const now = s.now_playing;
  $("now-title").textContent = now ? now.item.title : "…";
  $("now-artist").textContent = now && now.item.artist ? now.item.artist : "";
  $("now-junction").textContent = now && now.junction_probability != null
    ? `came in at a junction the model rated ${(now.junction_probability * 100).toFixed(0)} %` : "";
  const up = $("upcoming");
  up.replaceChildren(...s.upcoming.map((item) => {
    const li = document.createElement("li");
    li.textContent = artistTitle(item) + " ";
    const j = s.junctions.find((x) => x.index === item.index - 1);
    if (j) {
      const p = document.createElement("span");
      p.className = "p";
      p.textContent = `(junction ${(j.probability * 100).toFixed(0)} %${j.sponsor ? ", sponsor" : ""})`;
      li.appendChild(p);
    }
    return li;
  }));
  drawTimeline(s);
}

// Planned songs as blocks (width in proportion to play time), each junction marked with its
// probability, and the playhead inside the song on air.
function drawTimeline(s) {
  const tl = $("timeline");
  const items = (s.now_playing ? [s.now_playing.item] : []).concat(s.upcoming);
  const total = items.reduce((a, it) => a + Math.max(it.seconds, 1), 0) || 1;
  const parts = [];
  let x = 0;
  items.forEach((it, k) => {
    const b = document.createElement("div");
    b.className = "block" + (k === 0 && s.now_playing ? " playing" : "")
      + (it.kind === "sponsor" ? " sponsor" : "");
    b.style.width = `${(100 * Math.max(it.seconds, 1)) / total}%`;
    b.textContent = it.title;
    b.title = artistTitle(it);
    parts.push(b);
    x += Math.max(it.seconds, 1);
    const j = s.junctions.find((jj) => jj.index === it.index);
    if (j && k < items.length - 1) {
      const m = document.createElement("div");
      m.className = "junction" + (j.sponsor ? " sponsored" : "");
      m.style.left = `calc(${(100 * x) / total}% - 2px)`;
      m.title = `junction ${it.index}: P = ${j.probability.toFixed(2)}, ${j.key_relation}`;
      const label = document.createElement("span");
      label.textContent = j.probability.toFixed(2);
      m.appendChild(label);
      parts.push(m);
    }
  });
  if (s.now_playing && items.length) {
    const head = document.createElement("div");
    head.className = "playhead";
    const frac = Math.min(s.now_playing.elapsed_s / Math.max(items[0].seconds, 1), 1);
    head.style.left = `${(100 * frac * Math.max(items[0].seconds, 1)) / total}%`;
    parts.push(head);
  }
  tl.replaceChildren(...parts);
}

async function feedback(kind) {
  if (!station) return;
  try {
    const r = await api("POST", `/stations/${station.id}/feedback`, { kind });
    say(kind === "skip" ? (r.skip_pending ? "Skipping at the next beat…" : "Noted.")
                        : "Liked.");
  } catch (e) { say(e.message); }
}

$("prompt-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) { say("Type a few words first."); return; }
  startStation({ prompt });
});

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("search").value.trim();
  try {
    const data = await api("GET", `/tracks?q=${encodeURIComponent(q)}&limit=20`);
    const list = $("results");
    list.replaceChildren(...data.tracks.map((t) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = artistTitle(t);
      b.addEventListener("click", () => startStation({ seed_track: t.id }));
      li.appendChild(b);
      return li;
    }));
    say(data.total ? `${data.total} songs found.` : "No song matches.");
  } catch (e) { say(e.message); }
});

$("like").addEventListener("click", () => feedback("like"));
$("skip").addEventListener("click", () => feedback("skip"));
