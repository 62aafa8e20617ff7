// ttsqueue operations dashboard. Plain browser JavaScript, no dependencies: it reads the
// JSON API with the admin token kept in session storage, follows the live events socket,
// and draws its charts as SVG.
"use strict";

const TOKEN_KEY = "ttsqueue.admin-token";
const STATUSES = ["queued", "scheduled", "processing", "assembling", "completed", "failed", "cancelled"];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const EVENT_STATUS = {
  "job.queued": "queued", "job.scheduled": "scheduled", "job.processing": "processing",
  "chapter.started": "processing", "job.progress": "processing", "chapter.completed": "processing",
  "job.assembling": "assembling", "job.completed": "completed", "job.failed": "failed",
  "job.cancelled": "cancelled", "job.retried": "queued",
};
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  socket: null,
  socketRetry: 500,
  jobsCursor: null,
  openJob: null,
  refreshTimer: null,
  reportTimer: null,
  objectUrls: [],
};

const $ = (sel) => document.querySelector(sel);

// -- helpers ------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function fmtTime(value) {
  if (!value) return "–";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function fmtAgo(value) {
  const s = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
  return s < 1 ? "now" : `${fmtDuration(s)} ago`;
}

const fmtInt = (n) => Number(n || 0).toLocaleString();
const fmtCost = (n) => Number(n || 0).toLocaleString([], { minimumFractionDigits: 2, maximumFractionDigits: 4 });

function badge(status) {
  return el("span", { class: `badge st-${status}` }, status);
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: cols, class: "muted" }, empty))]));
}

// -- API ----------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const r = await fetch(path, { ...options, headers });
  if (r.status === 401) { logout("Your token was refused; sign in again."); throw new ApiFailure(401, "unauthorized"); }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) {
    const msg = body?.detail?.[0]?.msg || `HTTP ${r.status}`;
    throw new ApiFailure(r.status, msg);
  }
  return body;
}

// -- session ------------------------------------------------------------------------------

async function login(token) {
  state.token = token;
  try {
    await api("/v1/admin/workers");
  } catch (e) {
    state.token = null;
    $("#login-error").textContent = e.status === 403 ? "That token is not an admin's." : `Sign-in failed: ${e.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
  clearInterval(state.reportTimer);
  $("#app").hidden = true;
  $("#session").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
}

function start() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#session").hidden = false;
  $("#whoami").textContent = "admin";
  connect();
  refreshAll();
  clearInterval(state.reportTimer);
  state.reportTimer = setInterval(refreshAll, 30000); // backstop: workers' last seen, reports
  const m = location.hash.match(/^#job\/([0-9a-f-]{36})$/);
  if (m) openJob(m[1]);
}

// -- live events --------------------------------------------------------------------------

function setLive(on) {
  const live = $("#live");
  live.className = `live ${on ? "on" : "off"}`;
  live.textContent = on ? "live" : "reconnecting";
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/v1/ws?token=${encodeURIComponent(state.token)}`);
  state.socket = ws;
  ws.onopen = () => { state.socketRetry = 500; setLive(true); scheduleRefresh(); };
  ws.onmessage = (msg) => { try { onEvent(JSON.parse(msg.data)); } catch (e) { console.error(e); } };
  ws.onclose = () => {
    setLive(false);
    if (!state.token) return;
    state.socketRetry = Math.min(10000, state.socketRetry * 2);
    setTimeout(() => { if (state.token) connect(); }, state.socketRetry);
  };
}

function onEvent(ev) {
  const status = EVENT_STATUS[ev.type];
  const row = document.querySelector(`tr[data-job-id="${ev.job_id}"]`);
  if (row && status) {
    row.dataset.status = status;
    row.querySelector(".status").replaceChildren(badge(status));
  }
  if (row && ev.data && typeof ev.data.progress_percent === "number") setProgress(row, ev.data.progress_percent);
  scheduleRefresh(ev.job_id === state.openJob);
  if (TERMINAL.has(status)) scheduleReports();
}

function scheduleRefresh(jobToo) {
  if (jobToo) state.refreshJob = true;
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    const job = state.refreshJob; state.refreshJob = false;
    await Promise.allSettled([loadStats(), loadJobs(false), loadWorkers(), job && state.openJob ? loadJob(state.openJob) : null]);
  }, 600);
}

function scheduleReports() {
  clearTimeout(state.reportsSoon);
  state.reportsSoon = setTimeout(() => Promise.allSettled([loadSla(), loadAnalytics()]), 1500);
}

function refreshAll() {
  return Promise.allSettled([loadStats(), loadWorkers(), loadSla(), loadAnalytics(), loadJobs(false)]);
}

// -- queue depth --------------------------------------------------------------------------

async function loadStats() {
  const s = await api("/v1/stats");
  $("#depth-tiles").replaceChildren(
    ...STATUSES.map((st) => el("div", { class: `tile st-${st}`, "data-status": st },
      el("b", {}, fmtInt(s.jobs[st])), el("span", {}, st))),
    el("div", { class: "tile" }, el("b", {}, fmtInt(s.tasks.running)), el("span", {}, "chapters running")),
    el("div", { class: "tile" }, el("b", {}, fmtInt(s.tasks.pending)), el("span", {}, "chapters pending")),
  );
  hbars($("#depth-chart"), STATUSES.map((st) => ({ label: st, value: s.jobs[st] || 0, cls: `st-${st}` })));
  const oldest = s.oldest_pending_at ? `oldest runnable chapter waiting ${fmtAgo(s.oldest_pending_at).replace(" ago", "")}` : "nothing waiting";
  $("#depth-note").textContent = `${fmtInt(s.users)} user${s.users === 1 ? "" : "s"} · ${oldest}`;
}

function hbars(svg, items) {
  const w = svg.clientWidth || 400, rowH = 20, labelW = 86, h = items.length * rowH + 4;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.style.height = `${h}px`;
  const max = Math.max(1, ...items.map((i) => i.value));
  svg.replaceChildren(...items.flatMap((it, i) => {
    const y = i * rowH + 2, bw = ((w - labelW - 50) * it.value) / max;
    return [
      svgEl("text", { x: labelW - 6, y: y + 14, "text-anchor": "end", class: "axis" }, it.label),
      svgEl("rect", { x: labelW, y: y + 3, width: Math.max(bw, it.value ? 2 : 0), height: rowH - 6, rx: 3, class: `bar ${it.cls}` }),
      svgEl("text", { x: labelW + bw + 6, y: y + 14, class: "value" }, fmtInt(it.value)),
    ];
  }));
}

// -- throughput, failure rate, cost ---------------------------------------------------------

async function loadAnalytics() {
  const days = $("#window").value;
  const a = await api(`/v1/admin/analytics?days=${days}&jobs_limit=0`);
  throughputChart($("#throughput-chart"), a.timeline, a.bucket_s);
  const t = a.totals;
  $("#usage-totals").replaceChildren(
    el("div", { class: "tile" }, el("b", {}, fmtInt(t.jobs)), el("span", {}, "jobs")),
    el("div", { class: "tile" }, el("b", {}, fmtInt(t.characters)), el("span", {}, "characters")),
    el("div", { class: "tile" }, el("b", {}, fmtDuration(t.audio_s)), el("span", {}, "audio")),
    el("div", { class: "tile" }, el("b", { id: "total-cost" }, fmtCost(t.cost)), el("span", {}, "cost")),
  );
  fill($("#users-table tbody"), a.per_user.slice(0, 20).map((u) => el("tr", {},
    el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); filterUser(u.key); } }, u.key)),
    el("td", {}, fmtInt(u.jobs)), el("td", {}, fmtInt(u.active)), el("td", {}, fmtInt(u.failed)),
    el("td", {}, fmtInt(u.characters)), el("td", {}, fmtDuration(u.audio_s)), el("td", {}, fmtCost(u.cost)))), "no jobs in the window", 7);
  fill($("#engines-table tbody"), a.per_engine.map((e) => el("tr", {},
    el("td", {}, e.key), el("td", {}, e.key in a.prices ? fmtCost(a.prices[e.key]) : "unpriced"),
    el("td", {}, fmtInt(e.jobs)), el("td", {}, fmtInt(e.characters)), el("td", {}, fmtDuration(e.audio_s)),
    el("td", {}, fmtCost(e.cost)))), "no jobs in the window", 6);
  vbars($("#cost-chart"), a.per_day.slice(-31).map((d) => ({ label: d.key.slice(5), value: d.cost })));
  $("#usage-note").textContent = `jobs created in the last ${days} day(s): ${fmtInt(a.jobs_scanned)} read` +
    (a.truncated ? ` (stopped at the limit of ${fmtInt(a.max_jobs)})` : "");
}

function throughputChart(svg, points, bucketS) {
  const w = svg.clientWidth || 500, h = 170, pad = { l: 34, r: 40, t: 10, b: 22 };
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.style.height = `${h}px`;
  const n = Math.max(1, points.length), iw = w - pad.l - pad.r, ih = h - pad.t - pad.b, bw = iw / n;
  const max = Math.max(1, ...points.map((p) => p.completed + p.failed + p.cancelled));
  const y = (v) => pad.t + ih - (ih * v) / max;
  const nodes = [
    svgEl("line", { x1: pad.l, y1: pad.t + ih, x2: w - pad.r, y2: pad.t + ih, class: "gridline" }),
    svgEl("text", { x: pad.l - 4, y: pad.t + 8, "text-anchor": "end", class: "axis" }, fmtInt(max)),
    svgEl("text", { x: pad.l - 4, y: pad.t + ih, "text-anchor": "end", class: "axis" }, "0"),
    svgEl("text", { x: w - pad.r + 4, y: pad.t + 8, class: "axis" }, "100%"),
    svgEl("text", { x: w - pad.r + 4, y: pad.t + ih, class: "axis" }, "0%"),
  ];
  const line = [];
  points.forEach((p, i) => {
    const x = pad.l + i * bw + 1, width = Math.max(1, bw - 2);
    let base = 0;
    for (const [key, cls] of [["completed", "ok"], ["failed", "bad"], ["cancelled", "cancel"]]) {
      if (!p[key]) continue;
      nodes.push(svgEl("rect", { x, y: y(base + p[key]), width, height: y(base) - y(base + p[key]), class: `bar ${cls}` },
        undefined));
      nodes[nodes.length - 1].append(svgEl("title", {}, `${fmtTime(p.start)}: ${p[key]} ${key}`));
      base += p[key];
    }
    if (p.failure_rate !== null) {
      const cx = x + width / 2, cy = pad.t + ih - ih * p.failure_rate;
      line.push(`${cx},${cy}`);
      nodes.push(svgEl("circle", { cx, cy, r: 3, class: "rate-dot" }));
    }
  });
  if (line.length) nodes.push(svgEl("polyline", { points: line.join(" "), class: "rate" }));
  const step = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += step) {
    const d = new Date(points[i].start * 1000);
    const label = bucketS >= 86400 ? d.toLocaleDateString([], { month: "short", day: "numeric" })
      : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    nodes.push(svgEl("text", { x: pad.l + i * bw, y: h - 6, class: "axis" }, label));
  }
  svg.replaceChildren(...nodes);
}

function vbars(svg, items) {
  const w = svg.clientWidth || 300, h = 140, padB = 18, padT = 14;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.style.height = `${h}px`;
  if (!items.length) { svg.replaceChildren(svgEl("text", { x: 4, y: 20, class: "axis" }, "no cost yet")); return; }
  const max = Math.max(...items.map((i) => i.value), 1e-9), bw = w / items.length;
  svg.replaceChildren(...items.flatMap((it, i) => {
    const bh = ((h - padB - padT) * it.value) / max, x = i * bw + 2;
    const rect = svgEl("rect", { x, y: h - padB - bh, width: Math.max(1, bw - 4), height: bh, class: "bar cost" });
    rect.append(svgEl("title", {}, `${it.label}: ${fmtCost(it.value)}`));
    return [rect, svgEl("text", { x: x + (bw - 4) / 2, y: h - 5, "text-anchor": "middle", class: "axis" }, it.label),
      svgEl("text", { x: x + (bw - 4) / 2, y: h - padB - bh - 3, "text-anchor": "middle", class: "value" }, fmtCost(it.value))];
  }));
}

// -- SLA and workers ----------------------------------------------------------------------

async function loadSla() {
  const s = await api("/v1/admin/sla");
  fill($("#sla-table tbody"), s.tiers.map((t) => el("tr", { class: t.breached ? "breach" : "", "data-tier": t.tier },
    el("td", {}, t.tier), el("td", {}, fmtInt(t.wait.count)),
    el("td", {}, fmtDuration(t.wait.p50)), el("td", {}, el("b", {}, fmtDuration(t.wait.p95))),
    el("td", {}, `< ${fmtDuration(t.target_wait_p95_s)}`), el("td", {}, fmtDuration(t.wait.p99)),
    el("td", {}, fmtDuration(t.run.p50)), el("td", {}, fmtDuration(t.run.p95)),
    el("td", {}, t.breached ? el("span", { class: "badge st-failed" }, "breach") : el("span", { class: "badge st-completed" }, "ok")))), "", 9);
  const b = $("#sla-badge");
  b.className = `badge ${s.breached ? "st-failed" : "st-completed"}`;
  b.textContent = s.breached ? "breached" : "met";
  $("#sla-note").textContent = `jobs created in the last ${fmtDuration(s.window_s)}; premium = priority ≥ ${s.premium_priority}; ` +
    "jobs still waiting count with their wait so far.";
}

async function loadWorkers() {
  const ws = await api("/v1/admin/workers");
  $("#workers-count").textContent = ws.length;
  fill($("#workers-table tbody"), ws.map((w) => el("tr", {},
    el("td", { title: w.id }, w.id), el("td", {}, w.host), el("td", {}, w.pid), el("td", {}, w.version),
    el("td", {}, w.concurrency),
    el("td", {}, w.tasks.length ? w.tasks.map((t) => el("a", { href: `#job/${t.split(".")[0]}`, class: "task" }, t.slice(-10))) : el("span", { class: "muted" }, "idle")),
    el("td", {}, fmtAgo(w.last_seen_at)))), "no live workers", 7);
}

// -- jobs table ---------------------------------------------------------------------------

function filterUser(user) {
  $("#f-user").value = user;
  loadJobs(false);
  $("#jobs").scrollIntoView({ behavior: "smooth" });
}

function jobQuery() {
  const p = new URLSearchParams({ limit: "50" });
  const status = $("#f-status").value, user = $("#f-user").value.trim(), q = $("#f-q").value.trim();
  if (status) p.set("status", status);
  if (user) p.set("user", user);
  if (q) p.set("q", q);
  const since = $("#f-since").value, until = $("#f-until").value;
  if (since) p.set("since", new Date(`${since}T00:00:00`).toISOString());
  if (until) p.set("until", new Date(new Date(`${until}T00:00:00`).getTime() + 86400000).toISOString());
  return p;
}

async function loadJobs(more) {
  const p = jobQuery();
  if (more && state.jobsCursor) p.set("cursor", state.jobsCursor);
  const page = await api(`/v1/admin/jobs?${p}`);
  const rows = page.items.map(jobRow);
  const tbody = $("#jobs-table tbody");
  if (more) tbody.append(...rows);
  else fill(tbody, rows, "no jobs match", 8);
  state.jobsCursor = page.next_cursor;
  $("#more").hidden = !page.next_cursor;
  $("#jobs-note").textContent = page.next_cursor ? "more jobs match: load more" : "";
}

function setProgress(row, pct) {
  const bar = row.querySelector(".progress i");
  if (bar) bar.style.width = `${pct}%`;
  const label = row.querySelector(".progress-label");
  if (label) label.textContent = `${Math.round(pct)}%`;
}

function jobRow(j) {
  const row = el("tr", { "data-job-id": j.id, "data-status": j.status, class: "job-row", onclick: () => openJob(j.id) },
    el("td", {}, fmtTime(j.created_at)),
    el("td", {}, el("div", { class: "title" }, j.title || "(untitled)"), el("code", {}, j.id.slice(0, 8))),
    el("td", {}, j.user_id), el("td", {}, `${j.voice.engine}/${j.voice.name}`), el("td", {}, j.priority),
    el("td", { class: "status" }, badge(j.status)),
    el("td", {}, el("span", { class: "progress" }, el("i", {})), el("span", { class: "progress-label" }, "")),
    el("td", {}, el("button", { type: "button", class: "ghost small" }, "Open")));
  setProgress(row, j.progress_percent);
  return row;
}

// -- one job ------------------------------------------------------------------------------

async function openJob(id) {
  state.openJob = id;
  if (location.hash !== `#job/${id}`) history.replaceState(null, "", `#job/${id}`);
  $("#job").hidden = false;
  $("#job-message").textContent = "";
  await loadJob(id);
  $("#job").scrollIntoView({ behavior: "smooth", block: "start" });
}

function closeJob() {
  state.openJob = null;
  $("#job").hidden = true;
  history.replaceState(null, "", location.pathname);
}

async function loadJob(id) {
  let d;
  try { d = await api(`/v1/admin/jobs/${id}`); } catch (e) { $("#job-message").textContent = e.message; return; }
  if (state.openJob !== id) return;
  const j = d.job;
  $("#job").dataset.status = j.status;
  $("#job-title").replaceChildren(j.title || "(untitled)", " ", badge(j.status));
  const facts = [
    ["id", j.id], ["user", j.user_id], ["author", j.author || "–"], ["voice", `${j.voice.engine} ${j.voice.name} ×${j.voice.speed}`],
    ["format", j.output_format], ["priority", j.priority], ["progress", `${j.progress_percent}% · ${j.progress_message || "–"}`],
    ["chapters", `${j.completed_chapters} of ${j.total_chapters}`], ["task runs", j.attempts],
    ["created", fmtTime(j.created_at)], ["run at", fmtTime(j.run_at)], ["started", fmtTime(j.started_at)],
    ["finished", fmtTime(j.finished_at)], ["characters", fmtInt(d.usage.characters)],
    ["audio", fmtDuration(d.usage.audio_s)], ["cost", fmtCost(d.usage.cost)],
  ];
  $("#job-facts").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  $("#job-error").textContent = j.error ? `Error: ${j.error}` : "";
  const terminal = TERMINAL.has(j.status);
  $("#job-cancel").disabled = terminal;
  $("#job-retry").disabled = !(j.status === "failed" || j.status === "cancelled");
  $("#job-priority").disabled = terminal;
  if (document.activeElement !== $("#job-priority")) $("#job-priority").value = j.priority;
  const book = $("#job-book-audio");
  book.replaceChildren(...(j.audio_url ? [el("span", {}, "Audiobook "), audioButton(j.audio_url, "Load audiobook")] : []));
  fill($("#chapters-table tbody"), j.chapters.map((c) => el("tr", {},
    el("td", {}, c.index), el("td", {}, c.title || "–", c.error ? el("div", { class: "error" }, c.error) : null),
    el("td", {}, badge(c.status)), el("td", {}, `${c.attempts}/${c.max_attempts}`),
    el("td", {}, `${Math.round(c.progress * 100)}%`),
    el("td", {}, c.audio_url ? audioButton(c.audio_url, `▶ ${fmtDuration(c.duration_s)}`) : "–"))), "no chapters", 6);
  $("#timeline").replaceChildren(...d.events.map((e) => el("li", { class: `ev ev-${e.type.replace(".", "-")}` },
    el("time", {}, fmtTime(e.at)), el("b", {}, e.type), el("span", { class: "muted" }, eventText(e)))));
}

function eventText(e) {
  const d = e.data || {};
  const parts = [];
  for (const k of ["message", "chapter", "index", "progress_percent", "worker_id", "attempt", "error", "priority"]) {
    if (d[k] !== undefined && d[k] !== null) parts.push(`${k.replace("_", " ")}: ${d[k]}`);
  }
  return parts.join(" · ");
}

function audioButton(url, label) {
  const holder = el("span", { class: "audio" });
  const btn = el("button", { type: "button", class: "ghost small", onclick: async (ev) => {
    ev.stopPropagation();
    btn.disabled = true;
    try {
      const r = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const src = URL.createObjectURL(await r.blob());
      state.objectUrls.push(src);
      holder.replaceChildren(el("audio", { controls: true, src, autoplay: true }));
    } catch (e) { btn.disabled = false; btn.textContent = `failed (${e.message})`; }
  } }, label);
  holder.append(btn);
  return holder;
}

async function act(fn, done) {
  const msg = $("#job-message");
  msg.textContent = "…";
  try { await fn(); msg.textContent = done; } catch (e) { msg.textContent = e.message; }
  await Promise.allSettled([loadJob(state.openJob), loadJobs(false), loadStats()]);
}

// -- wiring -------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("#token").value.trim()); });
  $("#logout").addEventListener("click", () => logout());
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); loadJobs(false); });
  $("#f-status").addEventListener("change", () => loadJobs(false));
  $("#more").addEventListener("click", () => loadJobs(true));
  $("#window").addEventListener("change", () => loadAnalytics());
  $("#job-close").addEventListener("click", closeJob);
  $("#job-cancel").addEventListener("click", () =>
    act(() => api(`/v1/jobs/${state.openJob}`, { method: "DELETE" }), "cancelled"));
  $("#job-retry").addEventListener("click", () =>
    act(() => api(`/v1/jobs/${state.openJob}/retry`, { method: "POST" }), "queued again"));
  $("#priority-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const priority = Number($("#job-priority").value);
    act(() => api(`/v1/jobs/${state.openJob}`, { method: "PATCH", json: { priority } }), `priority set to ${priority}`);
  });
  window.addEventListener("hashchange", () => {
    const m = location.hash.match(/^#job\/([0-9a-f-]{36})$/);
    if (m && state.token) openJob(m[1]);
  });
  if (state.token) start(); else logout();
});
