// Ferry dashboard: plain JavaScript against the native API; charts are hand-drawn SVG.
// Pages: the overview (queues, then streams), a queue page and a stream page.
"use strict";

const COLORS = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2"];
const REFRESH_MS = 2000;
let timer = null;
const redriveNotes = {}; // queue -> the last redrive's outcome, kept across refreshes

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const enc = encodeURIComponent;

async function api(path, options) {
  const response = await fetch(path, options);
  const text = await response.text();
  const body = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const e = body.error || {};
    throw new Error(`${e.code || response.status}: ${e.message || response.statusText}`);
  }
  return body;
}

function fmtInt(n) {
  return n == null ? "–" : Math.round(n).toLocaleString("en-US");
}

function fmtRate(n) {
  if (n == null) return "–";
  return n >= 100 ? fmtInt(n) : n.toFixed(1);
}

function fmtMs(ms) {
  if (ms == null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function fmtBytes(n) {
  if (n == null) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

const total = (xs, f) => xs.reduce((acc, x) => acc + f(x), 0);

function last(series) {
  for (let i = (series || []).length - 1; i >= 0; i--) if (series[i] != null) return series[i];
  return null;
}

// A line chart of several series over the sample times. Each series: {name, values, color}.
function lineChart(times, series, format) {
  // About the drawn size, so that the stretched text stays legible.
  const W = 380, H = 150, L = 46, R = 6, T = 8, B = 18;
  const xs = times.map((t) => Date.parse(t));
  const values = series.flatMap((s) => s.values.filter((v) => v != null));
  const legend = series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join("");
  if (!values.length) {
    return `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data in this window yet</text></svg><div class="legend">${legend}</div>`;
  }
  const max = Math.max(1, ...values);
  const x0 = xs.length ? xs[0] : 0, x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
  const px = (t) => L + ((t - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (v) => T + (1 - v / max) * (H - T - B);
  let svg = `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img">`;
  for (const f of [0, 0.5, 1]) {
    const y = py(max * f);
    svg += `<line class="axis" x1="${L}" x2="${W - R}" y1="${y}" y2="${y}"/>`;
    svg += `<text x="${L - 4}" y="${y + 3}" text-anchor="end">${esc(format(max * f))}</text>`;
  }
  if (xs.length) {
    const span = Math.round((x1 - x0) / 1000);
    svg += `<text x="${L}" y="${H - 4}">-${span}s</text><text x="${W - R}" y="${H - 4}" text-anchor="end">now</text>`;
  }
  for (const s of series) {
    let d = "", pen = false;
    s.values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      d += `${pen ? "L" : "M"}${px(xs[i]).toFixed(1)},${py(v).toFixed(1)} `;
      pen = true;
    });
    svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" vector-effect="non-scaling-stroke"/>`;
  }
  svg += "</svg>";
  return `${svg}<div class="legend">${legend}</div>`;
}

function sparkline(values) {
  const vs = (values || []).map((v) => (v == null ? 0 : v));
  if (vs.length < 2) return "";
  const max = Math.max(1, ...vs);
  const pts = vs.map((v, i) => `${((i / (vs.length - 1)) * 110).toFixed(1)},${(22 - (v / max) * 20).toFixed(1)}`).join(" ");
  return `<svg class="spark" viewBox="0 0 110 24"><polyline points="${pts}" fill="none" stroke="#2563eb" stroke-width="1.5"/></svg>`;
}

// Sums series of several queues index by index (null only where all are null).
function sum(queues, key) {
  const n = Math.max(0, ...queues.map((q) => q[key].length));
  return Array.from({ length: n }, (_, i) => {
    let total = null;
    for (const q of queues) if (q[key][i] != null) total = (total || 0) + q[key][i];
    return total;
  });
}

function maxOf(queues, key) {
  const n = Math.max(0, ...queues.map((q) => q[key].length));
  return Array.from({ length: n }, (_, i) => {
    let m = null;
    for (const q of queues) if (q[key][i] != null) m = Math.max(m || 0, q[key][i]);
    return m;
  });
}

function charts(history, queues, latencyTitle) {
  const t = history.times;
  return `<div class="grid">
    <div class="card"><h3>Depth (messages)</h3>${lineChart(t, [
      { name: "visible", values: sum(queues, "visible"), color: COLORS[1] },
      { name: "delayed", values: sum(queues, "delayed"), color: COLORS[2] },
      { name: "in flight", values: sum(queues, "in_flight"), color: COLORS[0] },
    ], fmtInt)}</div>
    <div class="card"><h3>Rates (messages/s)</h3>${lineChart(t, [
      { name: "enqueued", values: sum(queues, "enqueued_per_s"), color: COLORS[0] },
      { name: "delivered", values: sum(queues, "delivered_per_s"), color: COLORS[4] },
      { name: "acked", values: sum(queues, "acked_per_s"), color: COLORS[1] },
      { name: "dead-lettered", values: sum(queues, "dead_lettered_per_s"), color: COLORS[3] },
    ], fmtRate)}</div>
    <div class="card"><h3>${esc(latencyTitle)}</h3>${lineChart(t, [
      { name: "enqueue→first delivery p99", values: maxOf(queues, "first_delivery_p99_ms"), color: COLORS[4] },
      { name: "enqueue→ack p99", values: maxOf(queues, "ack_p99_ms"), color: COLORS[3] },
      { name: "enqueue→ack p50", values: maxOf(queues, "ack_p50_ms"), color: COLORS[1] },
    ], fmtMs)}</div>
  </div>`;
}

function streamCharts(history, streams) {
  const t = history.times;
  return `<div class="grid">
    <div class="card"><h3>Appends (records/s)</h3>${lineChart(t, [
      { name: "appended", values: sum(streams, "appended_per_s"), color: COLORS[0] },
    ], fmtRate)}</div>
    <div class="card"><h3>Consumer lag (records, all groups)</h3>${lineChart(t, [
      { name: "lag", values: sum(streams, "lag_records"), color: COLORS[3] },
    ], fmtInt)}</div>
    <div class="card"><h3>Stored (bytes)</h3>${lineChart(t, [
      { name: "on disk", values: sum(streams, "bytes"), color: COLORS[5] },
    ], fmtBytes)}</div>
  </div>`;
}

// The streams part of the overview: live extents from the API, rates and lag from the history.
async function streamsOverview(history) {
  const list = await api("/v1/streams");
  const details = await Promise.all(list.streams.map((s) => api(`/v1/streams/${enc(s.name)}`)));
  const byName = Object.fromEntries((history.streams || []).map((s) => [s.name, s]));
  const rows = details.map((d) => {
    const h = byName[d.name];
    const bytes = total(d.partitions, (p) => p.bytes);
    const tags = d.config.cleanup !== "delete" ? `<span class="tag">${esc(d.config.cleanup)}</span>` : "";
    return `<tr data-stream="${esc(d.name)}">
      <td><a href="#/streams/${enc(d.name)}">${esc(d.name)}</a>${tags}</td>
      <td class="partitions">${fmtInt(d.partitions.length)}</td>
      <td class="end-offsets">${fmtInt(total(d.partitions, (p) => p.end_offset))}</td>
      <td class="bytes" title="${bytes} bytes">${fmtBytes(bytes)}</td>
      <td class="append-rate">${h ? fmtRate(last(h.appended_per_s)) : "–"}</td>
      <td class="groups">${fmtInt(d.groups.length)}</td>
      <td class="lag">${h ? fmtInt(last(h.lag_records)) : "–"}</td>
      <td>${h ? sparkline(h.appended_per_s) : ""}</td></tr>`;
  }).join("");
  if (!details.length) return "";
  return `<h1 class="section">Streams <span class="muted" id="stream-count">${details.length}</span></h1>
    ${streamCharts(history, history.streams || [])}
    <h2>All streams</h2>
    <table id="streams"><thead><tr><th>stream</th><th>partitions</th><th>end offsets (sum)</th><th>stored</th>
      <th>appended/s</th><th>groups</th><th>lag (records)</th><th>appends</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

async function overview() {
  const [list, history] = await Promise.all([api("/v1/queues"), api("/v1/metrics/history")]);
  const streams = await streamsOverview(history);
  const details = await Promise.all(list.queues.map((q) => api(`/v1/queues/${enc(q.name)}`)));
  const byName = Object.fromEntries(history.queues.map((q) => [q.name, q]));
  const dlqs = new Set(details.filter((d) => d.dead_letter_sources.length).map((d) => d.name));
  const rows = details.map((d) => {
    const h = byName[d.name];
    const s = d.stats;
    const tags = (d.config.fifo ? '<span class="tag">FIFO</span>' : "") + (dlqs.has(d.name) ? '<span class="tag dlq">DLQ</span>' : "");
    return `<tr data-queue="${esc(d.name)}">
      <td><a href="#/queues/${enc(d.name)}">${esc(d.name)}</a>${tags}</td>
      <td class="visible">${fmtInt(s.visible)}</td><td class="delayed">${fmtInt(s.delayed)}</td>
      <td class="in-flight">${fmtInt(s.in_flight)}</td><td class="dead-lettered">${fmtInt(s.dead_lettered)}</td>
      <td>${fmtMs(s.oldest_age_ms)}</td>
      <td class="enqueued-total">${fmtInt(s.enqueued_total)}</td><td class="acked-total">${fmtInt(s.acked_total)}</td>
      <td>${h ? fmtRate(last(h.enqueued_per_s)) : "–"}</td><td>${h ? fmtRate(last(h.acked_per_s)) : "–"}</td>
      <td>${h ? fmtMs(last(h.first_delivery_p99_ms)) : "–"}</td>
      <td>${h ? sparkline(h.visible) : ""}</td></tr>`;
  }).join("");
  $("#crumbs").innerHTML = "";
  $("#view").innerHTML = `<h1>Queues <span class="muted" id="queue-count">${details.length}</span></h1>
    ${charts(history, history.queues, "Latency (worst queue)")}
    <h2>All queues</h2>
    <table id="queues"><thead><tr><th>queue</th><th>visible</th><th>delayed</th><th>in flight</th>
      <th>dead-lettered</th><th>oldest</th><th>enqueued</th><th>acked</th><th>in/s</th><th>acked/s</th>
      <th>p99 to delivery</th><th>depth</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="12" class="muted">No queues yet.</td></tr>'}</tbody></table>
    ${streams}
    <p class="muted">Samples every ${history.interval_ms / 1000} s, last ${history.times.length} kept. Raw numbers: <a href="/metrics">/metrics</a>.</p>`;
}

function stat(label, value, cls) {
  return `<div class="stat ${cls || ""}"><div class="label">${esc(label)}</div><div class="value">${value}</div></div>`;
}

async function queuePage(name) {
  const [d, history, peek] = await Promise.all([
    api(`/v1/queues/${enc(name)}`),
    api("/v1/metrics/history"),
    api(`/v1/queues/${enc(name)}/messages?limit=50`),
  ]);
  const s = d.stats;
  const h = history.queues.filter((q) => q.name === name);
  const isDlq = d.dead_letter_sources.length > 0;
  const now = Date.now();
  const rows = peek.messages.map((m) => {
    const lease = m.lease ? `${esc(m.lease.consumer || "(anonymous)")}, ${fmtMs(now - Date.parse(m.lease.since))}` : "";
    const dl = m.dead_letter ? `${esc(m.dead_letter.source_queue)} · ${esc(m.dead_letter.cause)} · ${esc((m.dead_letter.reasons || []).join("; "))}` : "";
    const body = m.body != null ? m.body : `base64:${m.body_base64}`;
    return `<tr><td class="text mono">${esc(m.id)}</td><td class="text state-${m.state}">${esc(m.state)}</td>
      <td>${m.receive_count}</td><td>${fmtMs(now - Date.parse(m.enqueued_at))}</td>
      <td class="text lease">${lease}</td><td class="text">${esc(m.group || "")}</td>
      ${isDlq ? `<td class="text">${dl}</td>` : ""}<td class="body" title="${esc(body)}">${esc(body.slice(0, 120))}</td></tr>`;
  }).join("");
  $("#crumbs").innerHTML = `/ <a href="#/">queues</a> / ${esc(name)}`;
  $("#view").innerHTML = `<h1>${esc(name)}${d.config.fifo ? '<span class="tag">FIFO</span>' : ""}${isDlq ? '<span class="tag dlq">dead-letter queue</span>' : ""}</h1>
    <div class="stats" id="stats">
      ${stat("visible", fmtInt(s.visible), "visible")}${stat("delayed", fmtInt(s.delayed), "delayed")}
      ${stat("in flight", fmtInt(s.in_flight), "in-flight")}${stat("dead-lettered", fmtInt(s.dead_lettered), "dead-lettered")}
      ${stat("oldest message", fmtMs(s.oldest_age_ms), "oldest")}${stat("stored", `${fmtInt(s.bytes)} B`, "bytes")}
      ${stat("enqueued", fmtInt(s.enqueued_total), "enqueued")}${stat("delivered", fmtInt(s.delivered_total), "delivered")}
      ${stat("acked", fmtInt(s.acked_total), "acked")}${stat("nacked", fmtInt(s.nacked_total), "nacked")}
      ${stat("expired", fmtInt(s.expired_total), "expired")}${stat("deduplicated", fmtInt(s.deduplicated_total), "deduplicated")}
    </div>
    ${isDlq ? `<h2>Dead letters from ${d.dead_letter_sources.map(esc).join(", ")}</h2>
      <p><button id="redrive">Redrive all to their source queues</button><span class="notice" id="redrive-result">${esc(redriveNotes[name] || "")}</span></p>` : ""}
    <h2>Last minutes</h2>${charts(history, h, "Latency")}
    <h2>Messages <span class="muted">(first ${peek.messages.length}, oldest first; not leased by viewing)</span></h2>
    <table id="messages"><thead><tr><th class="text">id</th><th class="text">state</th><th>receives</th><th>age</th>
      <th class="text">lease holder, held for</th><th class="text">group</th>${isDlq ? '<th class="text">dead letter: source · cause · reasons</th>' : ""}<th class="text">body</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="8" class="muted">Empty.</td></tr>`}</tbody></table>
    <h2>Configuration</h2><div class="card"><pre>${esc(JSON.stringify(d.config, null, 2))}</pre></div>`;
  const button = $("#redrive");
  if (button) button.onclick = () => redrive(name, button);
}

// At most this many groups are described on a stream page (one request each).
const MAX_GROUPS_SHOWN = 50;

async function streamPage(name) {
  const [d, history] = await Promise.all([api(`/v1/streams/${enc(name)}`), api("/v1/metrics/history")]);
  const shown = d.groups.slice(0, MAX_GROUPS_SHOWN);
  // A group may be deleted between the two requests: leave it out.
  const groups = (await Promise.all(shown.map((g) =>
    api(`/v1/streams/${enc(name)}/groups/${enc(g)}`).catch(() => null)))).filter((g) => g);
  const h = (history.streams || []).filter((s) => s.name === name);
  const parts = d.partitions;
  const bytes = total(parts, (p) => p.bytes);
  const lag = total(groups, (g) => total(g.partitions, (p) => p.lag_records));
  const partitionRows = parts.map((p) => `<tr data-partition="${p.partition}">
      <td>${p.partition}</td><td class="start-offset">${fmtInt(p.start_offset)}</td>
      <td class="end-offset">${fmtInt(p.end_offset)}</td><td class="records">${fmtInt(p.end_offset - p.start_offset)}</td>
      <td class="bytes" title="${p.bytes} bytes">${fmtBytes(p.bytes)}</td><td class="segments">${fmtInt(p.segments)}</td></tr>`).join("");
  const groupCards = groups.map((g) => {
    const records = total(g.partitions, (p) => p.lag_records);
    const oldest = Math.max(0, ...g.partitions.map((p) => p.lag_ms));
    const rows = g.partitions.map((p) => `<tr data-partition="${p.partition}">
        <td>${p.partition}</td><td class="committed">${p.committed_offset == null ? "–" : fmtInt(p.committed_offset)}</td>
        <td class="end-offset">${fmtInt(p.end_offset)}</td><td class="lag-records">${fmtInt(p.lag_records)}</td>
        <td class="lag-time">${p.lag_records ? fmtMs(p.lag_ms) : "0"}</td>
        <td class="text metadata">${esc(p.metadata || "")}</td></tr>`).join("");
    return `<div class="group" data-group="${esc(g.name)}">
      <h3>${esc(g.name)} <span class="muted">· ${g.members.length} member${g.members.length === 1 ? "" : "s"} · generation ${g.generation} ·
        lag <span class="group-lag">${fmtInt(records)}</span> records, oldest unconsumed <span class="group-lag-time">${records ? fmtMs(oldest) : "0"}</span></span></h3>
      <table><thead><tr><th>partition</th><th>committed</th><th>end offset</th><th>lag (records)</th><th>lag (time)</th>
        <th class="text">metadata</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  }).join("");
  const more = d.groups.length > shown.length ? `<p class="muted">Showing ${shown.length} of ${d.groups.length} groups.</p>` : "";
  $("#crumbs").innerHTML = `/ <a href="#/">overview</a> / ${esc(name)}`;
  $("#view").innerHTML = `<h1>${esc(name)}<span class="tag">stream</span>${d.config.cleanup !== "delete" ? `<span class="tag">${esc(d.config.cleanup)}</span>` : ""}</h1>
    <div class="stats" id="stats">
      ${stat("partitions", fmtInt(parts.length), "partitions")}
      ${stat("end offsets (sum)", fmtInt(total(parts, (p) => p.end_offset)), "end-offsets")}
      ${stat("stored records", fmtInt(total(parts, (p) => p.end_offset - p.start_offset)), "records")}
      ${stat("stored", fmtBytes(bytes), "bytes")}${stat("segments", fmtInt(total(parts, (p) => p.segments)), "segments")}
      ${stat("appended/s", h.length ? fmtRate(last(h[0].appended_per_s)) : "–", "append-rate")}
      ${stat("groups", fmtInt(d.groups.length), "groups")}${stat("lag (records)", fmtInt(lag), "lag")}
    </div>
    <h2>Last minutes</h2>${streamCharts(history, h)}
    <h2>Partitions</h2>
    <table id="partitions"><thead><tr><th>partition</th><th>start offset</th><th>end offset</th><th>stored records</th>
      <th>stored</th><th>segments</th></tr></thead><tbody>${partitionRows}</tbody></table>
    <h2>Consumer groups</h2><div id="groups">${groupCards || '<p class="muted">No groups yet.</p>'}</div>${more}
    <h2>Configuration</h2><div class="card"><pre>${esc(JSON.stringify(d.config, null, 2))}</pre></div>`;
}

async function redrive(name, button) {
  button.disabled = true;
  stop();
  const out = $("#redrive-result");
  try {
    const r = await api(`/v1/queues/${enc(name)}/redrive`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    redriveNotes[name] = `Moved ${r.moved} message${r.moved === 1 ? "" : "s"} back.`;
    await render();
  } catch (e) {
    out.textContent = e.message;
    out.classList.add("error");
  } finally {
    schedule();
  }
}

async function render() {
  const route = location.hash.replace(/^#/, "") || "/";
  const queue = route.match(/^\/queues\/(.+)$/);
  const stream = route.match(/^\/streams\/(.+)$/);
  try {
    if (queue) await queuePage(decodeURIComponent(queue[1]));
    else if (stream) await streamPage(decodeURIComponent(stream[1]));
    else await overview();
    $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (e) {
    $("#status").innerHTML = `<span class="error">${esc(e.message)}</span>`;
  }
}

function stop() {
  if (timer) clearTimeout(timer);
  timer = null;
}

function schedule() {
  stop();
  timer = setTimeout(async () => { await render(); schedule(); }, REFRESH_MS);
}

window.addEventListener("hashchange", () => { stop(); render().then(schedule); });
render().then(schedule);
