// Quantum Trader dashboard: reads the JSON API, listens to /api/events, draws with the Plotly the app serves.
"use strict";
const $ = (id) => document.getElementById(id);
const money = (x) => x === null || x === undefined ? "-" :
  x.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
const pct = (x) => x === null || x === undefined ? "-" : (x * 100).toFixed(2) + "%";
const when = (ts) => ts === null || ts === undefined ? "-" : new Date(ts).toISOString().replace("T", " ").slice(0, 19) + " UTC";
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const layout = (extra) => Object.assign({margin: {l: 50, r: 10, t: 10, b: 35}, paper_bgcolor: "#161d24",
  plot_bgcolor: "#161d24", font: {color: "#c8d0d8", size: 11}, xaxis: {type: "date", gridcolor: "#2a333d"},
  yaxis: {gridcolor: "#2a333d"}, showlegend: false}, extra || {});
const config = {displayModeBar: false, responsive: true};
let correlation = [];
let lastVersion = null;

async function getJSON(url) {
  const r = await fetch(url, {headers: {Accept: "application/json"}});
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

function setSigned(el, value, text) {
  el.textContent = text;
  el.classList.toggle("neg", value !== null && value < 0);
  el.classList.toggle("pos", value !== null && value > 0);
}

function renderPortfolio(p) {
  $("equity").textContent = money(p.equity);
  $("asof").textContent = "as of " + when(p.ts);
  setSigned($("pnl24h"), p.pnl_24h, money(p.pnl_24h));
  $("pnl24h-pct").textContent = pct(p.pnl_24h_fraction);
  $("exposure").textContent = pct(p.exposure);
  $("exposure-alert").textContent = pct(p.exposure_alert);
  $("exposure-limit").textContent = pct(p.exposure_limit);
  const bar = $("exposure-bar");
  bar.style.width = Math.min(100, 100 * (p.exposure || 0) / p.exposure_limit) + "%";
  bar.className = "fill" + ((p.exposure || 0) >= p.exposure_limit ? " bad" : (p.exposure || 0) > p.exposure_alert ? " warn" : "");
  $("exposure-alert-line").style.left = (100 * p.exposure_alert / p.exposure_limit) + "%";
  $("correlated").textContent = pct(p.correlated_exposure);
  $("correlated-limit").textContent = pct(p.correlated_limit);
  const ks = p.killswitch;
  const state = $("killswitch-state");
  state.textContent = ks.tripped ? "TRIPPED (" + ks.what + ")" : "armed";
  state.className = "big " + (ks.tripped ? "tripped" : "armed");
  const room = (t) => t.loss === null ? "-" : pct(t.loss) + " of " + pct(t.limit) + (t.room === null ? "" : " (" + pct(t.room) + " to go)");
  $("ks-daily").textContent = room(ks.daily);
  $("ks-drawdown").textContent = room(ks.drawdown);
  $("phase").textContent = p.phase + " " + p.phase_name;
  $("next-gate").textContent = p.next_gate || "none (last phase)";
  $("slots-total").textContent = p.slots.used + " of " + p.slots.total + " slots used (" + p.slots.reserved_tier_1 + " reserved for tier 1)";
  $("slots").tBodies[0].innerHTML = p.slots.tiers.map((t) =>
    `<tr data-tier="${t.tier}"><td>${t.tier || "none"}</td><td>${t.used}</td><td>${t.limit}</td><td>${esc(t.assets.join(", "))}</td></tr>`).join("");
}

function renderAlerts(a) {
  const controls = document.body.dataset.controls === "true";
  $("alerts").innerHTML = a.items.map((x) => `<li class="${esc(x.severity)}${x.acknowledged_ts ? " acked" : ""}" data-id="${x.id}" data-category="${esc(x.category)}">
    <b>${esc(x.kind)}</b> <span class="dim">${when(x.ts)} · ${esc(x.category)} #${x.id}</span><br>${esc(x.message)}
    ${x.acknowledged_ts ? `<div class="dim">acknowledged by ${esc(x.acknowledged_by || "")} ${when(x.acknowledged_ts)}</div>` :
      (controls && x.category === "alert" ? `<button class="ack" data-id="${x.id}">Acknowledge</button>` : "")}</li>`).join("")
    || '<li class="dim">no alerts</li>';
}

let gatesTimer = null;
async function renderGates() {
  const g = await getJSON("/api/gates");
  $("gates").tBodies[0].innerHTML = g.criteria.map((c) =>
    `<tr><td>${esc(c.name)}</td><td>${esc(c.level)}</td><td>${esc(c.threshold)}</td><td>${esc(c.status || "not evaluated")}</td></tr>`).join("");
  $("gates-asof").textContent = g.evaluated ? "judged on the journal's operation " + when(g.as_of) :
    (g.next_gate ? "judging the journal's operation..." : "");
  clearTimeout(gatesTimer);  // the verdict is judged in the background: ask again until it is in
  if (!g.evaluated && g.next_gate) gatesTimer = setTimeout(() => renderGates().catch(() => {}), 3000);
}

function drawHeatmap(i) {
  const f = correlation[i];
  if (!f) { $("corr-when").textContent = "no correlation update journalled yet"; return; }
  const names = f.symbols.map((s) => s.split("/")[0]);
  Plotly.react("heatmap", [{type: "heatmap", z: f.matrix, x: names, y: names, zmin: -1, zmax: 1, colorscale: "RdBu",
    reversescale: true, text: f.matrix.map((r) => r.map((v) => v.toFixed(2))), texttemplate: "%{text}", hoverongaps: false}],
    layout({xaxis: {type: "category"}, yaxis: {type: "category", autorange: "reversed"}, margin: {l: 45, r: 10, t: 10, b: 30}}), config);
  $("corr-when").textContent = when(f.ts) + (f.mean === null ? "" : " · mean pairwise " + f.mean.toFixed(2));
}

async function renderCorrelation() {
  const c = await getJSON("/api/correlation");
  const slider = $("corr-slider");
  const atEnd = Number(slider.value) >= correlation.length - 1;
  correlation = c.frames;
  slider.max = Math.max(0, correlation.length - 1);
  if (atEnd) slider.value = slider.max;
  drawHeatmap(Number(slider.value));
}

async function renderHistory() {
  const h = await getJSON("/api/history?points=600");
  const ts = h.points.map((p) => p.ts);
  Plotly.react("equity-chart", [{x: ts, y: h.points.map((p) => p.equity), type: "scatter", mode: "lines", line: {color: "#3b82f6"}}],
    layout(), config);
  const p = window.portfolio || {exposure_alert: 0.35, exposure_limit: 0.4};
  const flat = (y, color, name) => ({x: [ts[0], ts[ts.length - 1]], y: [y, y], mode: "lines", name: name, line: {dash: "dot", color: color}, hoverinfo: "skip"});
  Plotly.react("exposure-chart", [
    {x: ts, y: h.points.map((q) => q.exposure), type: "scatter", mode: "lines", name: "exposure", line: {color: "#22c55e"}},
    {x: ts, y: h.points.map((q) => q.correlated_exposure), type: "scatter", mode: "lines", name: "correlated", line: {color: "#a855f7"}},
    flat(p.exposure_alert, "#eab308", "alert " + pct(p.exposure_alert)), flat(p.exposure_limit, "#ef4444", "limit " + pct(p.exposure_limit))],
    layout({yaxis: {tickformat: ".0%", gridcolor: "#2a333d"}, showlegend: true, legend: {orientation: "h", y: 1.12}}), config);
}

async function renderAssets() {
  const assets = await getJSON("/api/assets");
  $("no-assets").hidden = assets.length > 0;
  $("assets").tBodies[0].innerHTML = assets.map((a) => `<tr data-symbol="${esc(a.symbol)}"><td>${esc(a.asset)}</td><td>${a.tier ?? "-"}</td>
    <td>${a.side}</td><td>${a.quantity}</td><td>${money(a.entry_price)}</td><td title="${esc(a.mark_source)}">${money(a.mark)}</td>
    <td class="${(a.unrealised_pnl || 0) < 0 ? "neg" : "pos"}">${money(a.unrealised_pnl)}</td>
    <td>${a.stop_price === null ? "no stop" : money(a.risk_to_stop) + " (" + pct(a.risk_to_stop_fraction) + ")"}</td>
    <td>${pct(a.daily_room)} of ${pct(a.daily_limit)}${a.locked_until ? " LOCKED" : ""}</td><td>${esc(a.signal || "-")}</td>
    <td title="since ${when(a.regime_since)}">${esc((a.regime || "-").replace("_", " "))}</td></tr>`).join("");
  const select = $("price-symbol");
  const chosen = select.value;
  const symbols = assets.map((a) => a.symbol);
  select.innerHTML = symbols.map((s) => `<option${s === chosen ? " selected" : ""}>${esc(s)}</option>`).join("");
  select.hidden = symbols.length === 0;
  if (symbols.length) renderPrices(select.value);
}

async function renderRegimes() {
  const r = await getJSON("/api/regimes");
  $("regimes").innerHTML = r.items.map((x) => `<span data-symbol="${esc(x.symbol)}" title="since ${when(x.since)}">` +
    `${esc(x.asset)} ${esc(x.regime.replace("_", " "))}</span>`).join(" · ") || "none journalled";
}

async function renderPrices(symbol) {
  const c = await getJSON("/api/assets/" + symbol + "/prices");
  const pick = (kind) => c.fills.filter((f) => f.kind === kind);
  const marks = (kind, color, sym) => ({x: pick(kind).map((f) => f.ts), y: pick(kind).map((f) => f.price), mode: "markers",
    type: "scatter", name: kind, marker: {color: color, size: 9, symbol: sym}, text: pick(kind).map((f) => f.side + " " + f.quantity + " " + f.tag)});
  Plotly.react("price-chart", [{x: c.ts, y: c.close, type: "scatter", mode: "lines", line: {color: "#9aa5b1"}, name: symbol},
    marks("entry", "#22c55e", "triangle-up"), marks("exit", "#ef4444", "triangle-down")], layout(), config);
}

async function refreshCharts() {
  await Promise.allSettled([renderHistory(), renderCorrelation(), renderAssets(), renderGates(), renderRegimes()]);
}

let chartTimer = null;
function onUpdate(data) {
  window.portfolio = data.portfolio;
  renderPortfolio(data.portfolio);
  renderAlerts(data.alerts);
  if (JSON.stringify(data.version) !== lastVersion) {
    lastVersion = JSON.stringify(data.version);
    clearTimeout(chartTimer);
    chartTimer = setTimeout(refreshCharts, 300);
  }
  document.body.dataset.version = lastVersion;
}

function connect() {
  const live = $("live");
  const events = new EventSource("/api/events");
  events.addEventListener("update", (e) => onUpdate(JSON.parse(e.data)));
  events.onopen = () => { live.textContent = "live"; live.className = "pill on"; };
  events.onerror = () => { live.textContent = "reconnecting"; live.className = "pill off"; };
}

async function act(path, body) {
  const out = $("action-result");
  const token = $("token").value.trim();
  sessionStorage.setItem("qt-token", token);
  const headers = {"Content-Type": "application/json"};
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, {method: "POST", headers: headers, body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({detail: r.statusText}));
  out.textContent = (r.ok ? "" : r.status + ": ") + (data.message || data.detail);
  out.className = r.ok ? "ok" : "err";
}

function setupControls() {
  if (document.body.dataset.controls !== "true") return;
  $("controls").hidden = false;
  $("token").value = sessionStorage.getItem("qt-token") || "";
  const who = () => ({operator: $("operator").value.trim(), reason: $("reason").value.trim()});
  document.querySelectorAll("#controls button[data-action]").forEach((b) => b.addEventListener("click", () => {
    const body = who();
    if (b.dataset.action.endsWith("reset") || b.dataset.action.endsWith("promote")) body.force = $("force").checked;
    act(b.dataset.action, body);
  }));
  $("alerts").addEventListener("click", (e) => {
    const b = e.target.closest("button.ack");
    if (b) act("/api/alerts/" + b.dataset.id + "/ack", {operator: $("operator").value.trim()});
  });
}

$("corr-slider").addEventListener("input", (e) => drawHeatmap(Number(e.target.value)));
$("price-symbol").addEventListener("change", (e) => renderPrices(e.target.value));
setupControls();
connect();
