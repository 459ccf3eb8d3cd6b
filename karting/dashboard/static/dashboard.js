// The dashboard's pages: live training curves, session traces, the replay's map animation.
// No inline script (the pages' Content-Security-Policy forbids it): each page's elements
// carry what this file needs in data- attributes, and the data comes from /api/.
"use strict";

const COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const LAYOUT = { margin: { l: 50, r: 10, t: 30, b: 50 }, legend: { orientation: "h", y: -0.28 } };

async function getJSON(url, options) {
  const r = await fetch(url, options);
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body && body.error ? body.error : `${url}: HTTP ${r.status}`);
  return body;
}

// ---------------------------------------------------------------- a run's curves, live
function runPage(el) {
  const run = el.dataset.run;
  const charts = [...document.querySelectorAll("[data-chart]")];
  let last = -1;
  async function poll() {
    try {
      const s = await getJSON(`/api/runs/${encodeURIComponent(run)}/scalars`);
      let newest = 0;
      for (const c of charts) {
        const traces = c.dataset.tags.split(",").filter(t => s[t]).map((t, i) => ({
          x: s[t].steps, y: s[t].values, name: t, mode: s[t].steps.length > 30 ? "lines" : "lines+markers",
          line: { color: COLOURS[i % COLOURS.length] } }));
        for (const t of traces) newest = Math.max(newest, t.x.length ? t.x[t.x.length - 1] : 0);
        const title = { reward: "reward", laps: "lap completion", best_lap: "best lap (s)",
                        losses: "losses", speed: "training steps/s" }[c.dataset.chart] + " against steps";
        const empty = traces.length ? [] : [{ text: "no data yet", showarrow: false, xref: "paper", yref: "paper",
                                             x: 0.5, y: 0.5, font: { size: 16, color: "#6b7385" } }];
        Plotly.react(c, traces, { ...LAYOUT, title: { text: title, font: { size: 14 } }, annotations: empty,
                                   xaxis: { visible: traces.length > 0 },
                                   yaxis: { visible: traces.length > 0 } }, { displayModeBar: false });
        c.dataset.points = traces.reduce((n, t) => n + t.x.length, 0);
      }
      el.textContent = newest === last ? `up to step ${newest.toLocaleString()} (checking every 2 s)`
                                       : `live: step ${newest.toLocaleString()} (updates every 2 s)`;
      last = newest;
    } catch (e) { el.textContent = "cannot read the curves: " + e.message; }
    setTimeout(poll, 2000);
  }
  poll();
}

// ---------------------------------------------------------------- a session's laps
function sessionPage(el) {
  const path = el.dataset.path;
  const lapSel = document.getElementById("lap-a"), otherSel = document.getElementById("other");
  async function draw() {
    const q = `/api/sessions/${path}?lap=${encodeURIComponent(lapSel.value)}`;
    const laps = [];
    try { laps.push({ label: `${path} lap ${lapSel.value}`, d: await getJSON(q) }); }
    catch (e) { el.insertAdjacentHTML("beforeend", `<div class="panel error"></div>`);
                el.lastChild.textContent = e.message; return; }
    if (otherSel.value) {
      try { laps.push({ label: `${otherSel.value} best`, d: await getJSON(`/api/sessions/${otherSel.value}`) }); }
      catch (e) { /* the other session has no complete lap: draw ours alone */ }
    }
    const speed = laps.map((l, i) => ({ x: l.d.distance_m, y: l.d.speed_kmh, name: `${l.label} (${l.d.time_s} s)`,
                                        line: { color: COLOURS[i] } }));
    Plotly.react("chart-speed", speed, { ...LAYOUT, title: { text: "speed (km/h) against distance (m)", font: { size: 14 } } },
                 { displayModeBar: false });
    const inputs = [];
    laps.forEach((l, i) => {
      inputs.push({ x: l.d.distance_m, y: l.d.throttle, name: `throttle ${i ? "(other)" : ""}`, line: { color: "#2ca02c", dash: i ? "dot" : "solid" } });
      inputs.push({ x: l.d.distance_m, y: l.d.brake, name: `brake ${i ? "(other)" : ""}`, line: { color: "#d62728", dash: i ? "dot" : "solid" } });
      inputs.push({ x: l.d.distance_m, y: l.d.steering, name: `steering ${i ? "(other)" : ""}`, line: { color: "#1f77b4", dash: i ? "dot" : "solid" } });
    });
    Plotly.react("chart-inputs", inputs, { ...LAYOUT, title: { text: "inputs against distance (m)", font: { size: 14 } } },
                 { displayModeBar: false });
    const map = laps.map((l, i) => ({ x: l.d.x_m, y: l.d.y_m, mode: i ? "lines" : "markers", name: l.label,
      marker: { color: l.d.speed_kmh, colorscale: "Turbo", size: 4, showscale: !i, colorbar: { title: { text: "km/h" } } },
      line: { color: "#222", width: 1.5 } }));
    Plotly.react("chart-map", map, { ...LAYOUT, title: { text: "the line, coloured by speed", font: { size: 14 } },
                 yaxis: { scaleanchor: "x", scaleratio: 1 } }, { displayModeBar: false });
  }
  lapSel.addEventListener("change", draw);
  otherSel.addEventListener("change", draw);
  draw();
}

// ---------------------------------------------------------------- a replay on the map
function replayPage(el) {
  const status = document.getElementById("replay-status"), canvas = document.getElementById("replay-map");
  const scrub = document.getElementById("scrub"), clock = document.getElementById("clock");
  const button = document.getElementById("play"), ctx = canvas.getContext("2d");
  getJSON(`/api/replays/${el.dataset.path}`).then(d => {
    const xs = d.left.concat(d.right).map(p => p[0]), ys = d.left.concat(d.right).map(p => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const s = Math.min((canvas.width - 40) / (x1 - x0), (canvas.height - 40) / (y1 - y0));
    const P = (x, y) => [20 + (x - x0) * s, canvas.height - 20 - (y - y0) * s];
    const legend = document.getElementById("legend");
    d.names.forEach((n, i) => { const li = document.createElement("li"); li.textContent = n;
                                 li.style.color = COLOURS[i % COLOURS.length]; legend.appendChild(li); });
    scrub.max = d.x.length - 1;
    status.textContent = `${d.track}: ${d.names.length} kart(s), ${(d.x.length * d.dt).toFixed(1)} s`;
    let t = 0, playing = true;
    function frame() {
      ctx.fillStyle = "#5d8a45"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.beginPath();
      d.left.forEach((p, i) => { const q = P(...p); i ? ctx.lineTo(...q) : ctx.moveTo(...q); });
      ctx.closePath();
      d.right.forEach((p, i) => { const q = P(...p); i ? ctx.lineTo(...q) : ctx.moveTo(...q); });
      ctx.closePath();
      ctx.fillStyle = "#55555c"; ctx.fill("evenodd");
      d.x[t].forEach((x, k) => { const [px, py] = P(x, d.y[t][k]);
        ctx.beginPath(); ctx.arc(px, py, 6, 0, 2 * Math.PI); ctx.fillStyle = COLOURS[k % COLOURS.length]; ctx.fill();
        ctx.strokeStyle = "#fff"; ctx.stroke(); });
      scrub.value = t; clock.textContent = `${(t * d.dt).toFixed(1)} s`;
      canvas.dataset.frame = t;
    }
    scrub.addEventListener("input", () => { t = +scrub.value; frame(); });
    button.addEventListener("click", () => { playing = !playing; button.textContent = playing ? "pause" : "play"; });
    let prev = performance.now();
    function tick(now) {
      if (playing && now - prev >= 1000 * d.dt) { t = (t + 1) % d.x.length; prev = now; frame(); }
      requestAnimationFrame(tick);
    }
    frame(); requestAnimationFrame(tick);
  }).catch(e => { status.textContent = e.message; status.className = "bad"; });
  const video = document.getElementById("video"), make = document.getElementById("make-video");
  async function watch(start) {
    const v = await getJSON(`/api/video/${el.dataset.path}`, { method: start ? "POST" : "GET" });
    const st = document.getElementById("video-status");
    if (v.state === "ready") { video.innerHTML = ""; const tag = document.createElement("video");
      tag.controls = true; tag.width = 720; tag.src = v.url; video.appendChild(tag); return; }
    if (st) st.textContent = v.state === "making" ? "being made (a minute or so)…" : (v.error || "");
    if (v.state === "making") setTimeout(() => watch(false), 2000);
  }
  if (make) make.addEventListener("click", () => watch(true));
  if (video.dataset.state === "making") watch(false);
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.getElementById("live-status"), session = document.getElementById("session"),
        replay = document.getElementById("replay");
  if (run) runPage(run);
  if (session) sessionPage(session);
  if (replay) replayPage(replay);
});
