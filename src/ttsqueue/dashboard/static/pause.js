// ttsqueue dashboard: pause and resume claiming, for every engine or one. Plain browser
// JavaScript with no dependencies; it uses the admin token the page's sign-in keeps in
// session storage and the /v1/admin/pause, /resume and /pauses endpoints.
"use strict";

(() => {
  const TOKEN_KEY = "ttsqueue.admin-token";
  const REFRESH_MS = 10000;
  const q = (sel) => document.querySelector(sel);

  async function call(path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return null;
    const options = { headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const r = await fetch(path, options);
    const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
    if (!r.ok) throw new Error(data?.detail?.[0]?.msg || `HTTP ${r.status}`);
    return data;
  }

  function show(pauses) {
    const status = q("#pause-state");
    const list = q("#pause-list");
    list.replaceChildren();
    const global = pauses.some((p) => p.engine === null);
    status.textContent = global ? "paused: nothing is claimed" : "claiming";
    status.className = global ? "badge st-failed" : "badge st-completed";
    status.dataset.paused = global ? "all" : "";
    for (const p of pauses) {
      const item = document.createElement("li");
      item.dataset.engine = p.engine ?? "";
      item.textContent = `${p.engine ?? "every engine"} since ${new Date(p.since).toLocaleString()}`;
      list.append(item);
    }
  }

  async function refresh() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return;
    try {
      const pauses = await call("/v1/admin/pauses");
      if (pauses) show(pauses);
      q("#pause-error").textContent = "";
    } catch (e) {
      q("#pause-error").textContent = `Pauses: ${e.message}`;
    }
  }

  async function act(path) {
    const engine = q("#pause-engine").value.trim() || null;
    try {
      await call(path, { engine });
      q("#pause-error").textContent = "";
    } catch (e) {
      q("#pause-error").textContent = e.message;
    }
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    q("#pause-button").addEventListener("click", () => act("/v1/admin/pause"));
    q("#resume-button").addEventListener("click", () => act("/v1/admin/resume"));
    q("#login-form")?.addEventListener("submit", () => setTimeout(refresh, 1000));
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();
