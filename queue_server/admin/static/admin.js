// Hall manager pages: login (admin role), the one-time-password change, the header, the
// Chinese/English switch and the JSON API helper every page script uses. No framework, no
// CDN; text is only ever set with textContent.
"use strict";
const Ad = (() => {
  const S = sessionStorage;
  const KEY = "yc.admin.token";
  let lang = localStorage.getItem("yc.lang") === "en" ? "en" : "zh";
  const listeners = [];

  /** The text for the current language. */
  function t(zh, en) { return lang === "en" && en != null ? en : zh; }

  function applyLang() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    for (const el of document.querySelectorAll("[data-en]")) {
      if (el.dataset.zh == null) el.dataset.zh = el.textContent;
      el.textContent = lang === "en" ? el.dataset.en : el.dataset.zh;
    }
    const sw = document.getElementById("lang-switch");
    if (sw) sw.textContent = lang === "en" ? "中文" : "English";
  }
  function onLang(fn) { listeners.push(fn); }

  let msgTimer = null;
  function say(text, ok) {
    const el = document.getElementById("msg");
    el.textContent = text;
    el.classList.toggle("ok", !!ok);
    el.hidden = false;
    clearTimeout(msgTimer);
    msgTimer = setTimeout(() => { el.hidden = true; }, ok ? 3000 : 8000);
  }
  function fail(e) { if (!e || !e.handled) say((e && e.message) || String(e)); }

  async function request(method, path, body, raw) {
    const headers = { Accept: "application/json" };
    const tok = S.getItem(KEY);
    if (tok) headers.Authorization = "Bearer " + tok;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(t("无法连接服务器，请检查网络", "Server unreachable"));
    }
    if (raw && resp.ok) return resp;
    if (resp.status === 204) return null;
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new Error((data && data.error && t(data.error.message, data.error.message_en)) || `HTTP ${resp.status}`);
      err.status = resp.status;
      err.code = data && data.error && data.error.code;
      if (resp.status === 401 && path !== "/api/login") { logout(true); err.handled = true; say(err.message); }
      if (err.code === "password_change_required") { show("view-password"); err.handled = true; }
      throw err;
    }
    return data;
  }
  const api = (method, path, body) => request(method, path, body, false);

  /** Download an authenticated file (CSV/XLSX/PDF) under its server-given name. */
  async function download(path) {
    const resp = await request("GET", path, undefined, true);
    const cd = resp.headers.get("Content-Disposition") || "";
    const m = /filename="?([^";]+)"?/.exec(cd);
    const blob = await resp.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = m ? m[1] : "download";
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function show(view) {
    for (const id of ["view-login", "view-password", "view-main"]) {
      const el = document.getElementById(id);
      if (el) el.hidden = id !== view;
    }
    document.body.dataset.view = view;
  }

  function logout(expired) {
    const tok = S.getItem(KEY);
    if (tok && !expired) fetch("/api/logout", { method: "POST", headers: { Authorization: "Bearer " + tok } }).catch(() => {});
    S.removeItem(KEY);
    show("view-login");
  }

  let ready = null;
  let me = null;
  async function enter() {
    const r = await api("GET", "/api/admin/me");
    me = r;
    if (r.role !== "admin") { S.removeItem(KEY); show("view-login"); say(t("需要管理员账号", "An admin account is needed")); return; }
    if (r.must_change_password) { show("view-password"); return; }
    const who = document.getElementById("admin-who");
    if (who && r.user) who.textContent = `${r.user.name}（${r.user.staff_no || "—"}）`;
    show("view-main");
    if (r.links && r.links.devices) deviceAlerts();
    if (ready) await ready();
  }

  async function deviceAlerts() {
    // The hall manager sees device failures before the citizens do (issue 15): the
    // technicians' summary, linked to /tech.
    const el = document.getElementById("device-alerts");
    if (!el) return;
    try {
      const s = await api("GET", "/api/devices/summary");
      const bad = (s.problems || []).filter((p) => p.state === "error" || p.state === "stale");
      const warn = (s.problems || []).filter((p) => p.state === "warning");
      if (!bad.length && !warn.length) { el.hidden = true; return; }
      el.hidden = false;
      el.className = "pill " + (bad.length ? "bad" : "warn");
      el.textContent = bad.length
        ? t(`${bad.length} 台设备故障`, `${bad.length} device(s) failing`)
        : t(`${warn.length} 台设备需注意`, `${warn.length} device(s) need attention`);
      el.title = (bad.length ? bad : warn).map((p) => `${p.name}: ${p.detail || p.state}`).join("\n");
    } catch (e) { /* the devices API is optional */ }
  }

  function boot(onReady) {
    ready = onReady;
    applyLang();
    for (const a of document.querySelectorAll(".admin-nav a")) a.classList.toggle("active", a.dataset.page === document.body.dataset.page);
    document.getElementById("lang-switch").addEventListener("click", () => {
      lang = lang === "en" ? "zh" : "en";
      localStorage.setItem("yc.lang", lang);
      applyLang();
      for (const fn of listeners) fn(lang);
    });
    document.getElementById("logout").addEventListener("click", () => logout(false));
    document.getElementById("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", "/api/login", { username: document.getElementById("login-user").value.trim(),
          password: document.getElementById("login-pass").value });
        S.setItem(KEY, r.token);
        document.getElementById("login-pass").value = "";
        await enter();
      } catch (e) { fail(e); }
    });
    document.getElementById("password-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/api/admin/password", { old_password: document.getElementById("pw-old").value,
          new_password: document.getElementById("pw-new").value });
        say(t("密码已更新", "Password changed"), true);
        await enter();
      } catch (e) { fail(e); }
    });
    if (!S.getItem(KEY)) { show("view-login"); return; }
    enter().catch((e) => { fail(e); });
  }

  // --- small helpers ------------------------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid != null) node.append(kid instanceof Node ? kid : String(kid));
    return node;
  }
  function table(id, head, rows) {
    const tb = document.getElementById(id);
    tb.replaceChildren(el("thead", {}, el("tr", {}, head.map((h) => el("th", { class: h.n ? "n" : "" }, h.t || h)))),
      el("tbody", {}, rows));
    return tb;
  }
  function mins(s) { return s == null ? "—" : (s / 60).toFixed(1); }
  function pct(x) { return x == null ? "—" : `${Math.round(x * 100)}%`; }
  function time(ts) { return ts ? Yc.timeOf(ts) : "—"; }
  function when(ts) {
    if (!ts) return "—";
    const d = new Date(ts * 1000);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")} ${Yc.timeOf(ts)}`;
  }
  function today() {  // the hall's business day (the server puts it on the page)
    if (document.body.dataset.day) return document.body.dataset.day;
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }
  function form(id) {
    const f = document.getElementById(id);
    const out = {};
    for (const x of f.elements) {
      if (!x.name) continue;
      out[x.name] = x.type === "checkbox" ? x.checked : x.value;
    }
    return out;
  }
  async function act(fn, okText) {
    try { const r = await fn(); if (okText) say(okText, true); return r; } catch (e) { fail(e); return undefined; }
  }

  return { t, api, download, boot, say, fail, el, table, mins, pct, time, when, today, form, act, onLang,
    applyLang, get lang() { return lang; }, get me() { return me; } };
})();
