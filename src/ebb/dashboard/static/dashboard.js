// Ebb live dashboard: polls /dashboard/data every second and draws small SVG line charts.
"use strict";
const COLORS = ["#2f6fde", "#1a7f37", "#d1242f", "#b35900", "#8250df", "#0a7d8c"];
const SERIES = {
  traffic: [["arrival_rate", "arrivals"], ["answer_rate", "answered"], ["error_rate", "5xx"],
            ["rejection_rate", "rejected (503)"]],
  latency: [["p50_ms", "p50"], ["p99_ms", "p99"]],
  queue: [["queue_depth", "queue depth"], ["inflight", "in flight"]],
  workers: [["ready", "ready"], ["starting", "starting"], ["desired", "desired"]],
};

function svgElement(tag, attributes) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function draw(sectionId, times, lines, guide) {
  const section = document.getElementById(sectionId);
  const width = 440, height = 150, left = 40, bottom = 18;
  let svg = section.querySelector("svg");
  if (!svg) {
    svg = svgElement("svg", {viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img"});
    section.appendChild(svg);
    const legend = document.createElement("div");
    legend.className = "legend";
    lines.forEach(([, label], i) => {
      const item = document.createElement("span");
      item.innerHTML = `<i style="background:${COLORS[i]}"></i>${label}`;
      legend.appendChild(item);
    });
    section.appendChild(legend);
  }
  svg.replaceChildren();
  const values = lines.flatMap(([, , data]) => data);
  if (guide !== undefined) values.push(guide);
  const top = Math.max(1, ...values) * 1.1;
  const t0 = times.length ? times[0] : 0, t1 = times.length ? times[times.length - 1] : 1;
  const x = t => left + (width - left - 4) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
  const y = v => (height - bottom - 10) * (1 - v / top) + 10;
  for (const fraction of [0, 0.5, 1]) {
    const v = top * fraction;
    svg.appendChild(svgElement("line", {x1: left, x2: width, y1: y(v), y2: y(v), stroke: "#eee"}));
    const label = svgElement("text", {x: 2, y: y(v) + 3});
    label.textContent = v >= 100 ? v.toFixed(0) : v.toFixed(1);
    svg.appendChild(label);
  }
  const span = svgElement("text", {x: left, y: height - 2});
  span.textContent = times.length ? `last ${Math.round(t1 - t0)} s` : "waiting for data";
  svg.appendChild(span);
  if (guide !== undefined) {
    svg.appendChild(svgElement("line", {x1: left, x2: width, y1: y(guide), y2: y(guide),
      stroke: "#d1242f", "stroke-dasharray": "4 3"}));
  }
  lines.forEach(([, , data], i) => {
    if (!data.length) return;
    const points = data.map((v, j) => `${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg.appendChild(svgElement("polyline", {points, fill: "none", stroke: COLORS[i],
      "stroke-width": 1.6, class: "series"}));
  });
}

function renderDecisions(decisions) {
  const body = document.getElementById("decisions");
  if (!decisions.length) return;
  body.replaceChildren();
  for (const d of decisions.slice().reverse().slice(0, 15)) {
    const row = document.createElement("tr");
    const direction = d.to > d.from ? "up" : "down";
    row.innerHTML = `<td>${d.t.toFixed(1)} s</td><td>${d.policy}</td>` +
      `<td class="${direction}">${d.from} → ${d.to}</td><td></td>`;
    row.lastChild.textContent = d.reason;
    body.appendChild(row);
  }
}

// A server with API keys answers 401 here: ask once for a key with the observe role, keep it in
// this tab's sessionStorage (gone when the tab closes) and send it as a Bearer header.
const KEY_STORAGE = "ebb-api-key";

function authHeaders() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? {Authorization: `Bearer ${key}`} : {};
}

function askForKey(message) {
  const form = document.getElementById("auth");
  document.getElementById("auth-message").textContent = message;
  form.hidden = false;
  document.getElementById("auth-key").focus();
}

document.getElementById("auth").addEventListener("submit", event => {
  event.preventDefault();
  const input = document.getElementById("auth-key");
  if (input.value.trim()) sessionStorage.setItem(KEY_STORAGE, input.value.trim());
  input.value = "";
  event.target.hidden = true;
  refresh();
});

async function refresh() {
  const status = document.getElementById("status");
  if (!document.getElementById("auth").hidden) return;  // waiting for a key
  try {
    const response = await fetch("/dashboard/data", {cache: "no-store", headers: authHeaders()});
    if (response.status === 401 || response.status === 403) {
      const refused = await response.json().catch(() => ({}));
      sessionStorage.removeItem(KEY_STORAGE);
      askForKey(response.status === 401 ? "This server needs an API key (observe role):"
                                        : `${refused.error || "This key may not read this"}.`);
      status.textContent = "waiting for an API key";
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    document.getElementById("model").textContent = `model ${data.model}`;
    document.getElementById("policy").textContent = data.policy ?
      `autoscaling: ${data.policy}, SLO ${data.slo_ms} ms` : "fixed workers";
    const columns = data.timeline, times = columns.t || [];
    for (const [chart, series] of Object.entries(SERIES)) {
      draw(chart, times, series.map(([key, label]) => [key, label, columns[key] || []]),
           chart === "latency" ? data.slo_ms : undefined);
    }
    const anomaly = data.anomaly || {};
    const names = Object.keys(anomaly.scores || {});
    draw("anomaly", anomaly.t || [], names.map(name => [name, name, anomaly.scores[name]]), 4);
    renderDecisions(data.decisions);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (error) {
    status.textContent = `no data: ${error}`;
  }
}
refresh();
setInterval(refresh, 1000);
