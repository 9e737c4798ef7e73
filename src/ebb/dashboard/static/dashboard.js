// Ebb live dashboard: polls /dashboard/data every second and draws the charts with uPlot
// (shipped beside this file): time axes in wall-clock time, ticks, legends, values on hover.
"use strict";
const COLORS = ["#2f6fde", "#1a7f37", "#d1242f", "#b35900", "#8250df", "#0a7d8c"];
const GUIDE = {stroke: "#d1242f", dash: [6, 4], width: 1};
// [column, label, style]; later series are drawn on top of earlier ones.
const SERIES = {
  traffic: [["arrival_rate", "arrivals/s"], ["answer_rate", "answered/s"], ["error_rate", "5xx/s"],
            ["rejection_rate", "rejected (503)/s"]],
  latency: [["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"]],
  queue: [["queue_depth", "queue depth"], ["inflight", "in flight"]],
  // desired first, thin and dashed, so the ready line drawn after it is never hidden under it
  workers: [["desired", "desired", {stroke: "#8a93a6", dash: [5, 4], width: 1.5}],
            ["starting", "starting", {stroke: "#b35900", width: 1.5}],
            ["ready", "ready", {stroke: "#1a7f37", width: 2.5}]],
};
const charts = {};
window.ebbCharts = charts;  // for tests and the curious

function chartWidth(section) {
  return Math.max(280, section.clientWidth - 24);
}

// Wall-clock tick labels (the header's clock, the decisions table's times), seconds included.
const CLOCK = new Intl.DateTimeFormat([], {hour: "2-digit", minute: "2-digit", second: "2-digit",
                                           hour12: false});

function clockTicks(u, splits) {
  return splits.map(v => CLOCK.format(new Date(v * 1000)));
}

function makeChart(id, lines, guide) {
  const section = document.getElementById(id);
  section.querySelector(".waiting")?.remove();
  charts[id]?.destroy();
  const series = [{label: "time"}];
  lines.forEach(([, label, style], i) => series.push({
    label, stroke: COLORS[i % COLORS.length], width: 1.6, points: {show: false},
    value: (u, v) => v == null ? "–" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)),
    ...(style || {}),
  }));
  if (guide) series.push({label: guide.label, ...GUIDE, points: {show: false}});
  const options = {
    width: chartWidth(section), height: 180, series,
    scales: {x: {time: true}, y: {range: (u, low, high) => [0, Math.max(1, high * 1.1)]}},
    axes: [{stroke: "#5a6477", grid: {stroke: "#eee"}, space: 70, values: clockTicks},
           {stroke: "#5a6477", grid: {stroke: "#eee"}, size: 48}],
    legend: {live: true},
    cursor: {drag: {x: false, y: false}},
  };
  const chart = new uPlot(options, [[], ...series.slice(1).map(() => [])], section);
  chart.ebbKeys = lines.map(([key]) => key).join("|");
  charts[id] = chart;
  return chart;
}

function draw(id, times, lines, guide) {
  const keys = lines.map(([key]) => key).join("|");
  const chart = charts[id] && charts[id].ebbKeys === keys ? charts[id] : makeChart(id, lines, guide);
  const data = [times, ...lines.map(([, , , values]) => values)];
  if (guide) data.push(times.map(() => guide.value));
  chart.setData(data);
}

function renderDecisions(decisions, startedAt) {
  const body = document.getElementById("decisions");
  if (!decisions.length) return;
  body.replaceChildren();
  for (const d of decisions.slice().reverse().slice(0, 15)) {
    const row = document.createElement("tr");
    const direction = d.to > d.from ? "up" : "down";
    const at = CLOCK.format(new Date((startedAt + d.t) * 1000));
    row.innerHTML = `<td>${at}</td><td></td><td class="${direction}">${d.from} → ${d.to}</td>` +
      "<td></td>";
    row.children[1].textContent = d.policy;
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

function render(data) {
  document.getElementById("model").textContent = `model ${data.model}`;
  document.getElementById("policy").textContent = data.policy ?
    `autoscaling: ${data.policy}, SLO ${data.slo_ms} ms` : "fixed workers";
  const startedAt = data.started_at || 0;
  const columns = data.timeline, times = (columns.t || []).map(t => startedAt + t);
  for (const [chart, series] of Object.entries(SERIES)) {
    const guide = chart === "latency" ? {label: `SLO ${data.slo_ms} ms`, value: data.slo_ms}
                                      : undefined;
    draw(chart, times, series.map(([key, label, style]) => [key, label, style,
                                                            columns[key] || []]), guide);
  }
  const anomaly = data.anomaly || {};
  const names = Object.keys(anomaly.scores || {});
  draw("anomaly", (anomaly.t || []).map(t => startedAt + t),
       names.map(name => [name, name, undefined, anomaly.scores[name]]),
       {label: "alert at 4", value: 4});
  renderDecisions(data.decisions, startedAt);
}

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
    render(await response.json());
    status.textContent = `updated ${CLOCK.format(new Date())}`;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  } catch (error) {
    status.textContent = `no data: ${error}`;
  }
}

window.addEventListener("resize", () => {
  for (const [id, chart] of Object.entries(charts)) {
    chart.setSize({width: chartWidth(document.getElementById(id)), height: 180});
  }
});
refresh();
setInterval(refresh, 1000);
