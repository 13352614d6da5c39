// Technicians' page (设备运行状态): every kiosk, display and hall printer with its state,
// components, last heartbeat and last error; filters; per device the history of state changes
// and test actions (test page, card-reader probe, reload the configuration) with their results.
// Everything goes through the JSON API with the login's token in a header; text is only ever
// set with textContent. The page shows no personal data: devices report none.
"use strict";
(() => {
  const KEY = "yc.tech.token";
  const params = new URLSearchParams(location.search);
  const REFRESH_MS = Number(params.get("refresh") || 5) * 1000;
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const en = () => body.dataset.lang === "en";
  const L = (zh, eng) => (en() ? eng : zh);
  let data = null;          // GET /api/devices/overview
  let selected = null;      // {kind: "device"|"printer", name}
  let detail = null;        // GET /api/devices/<name>
  let timer = null;
  let printJobs = {};       // printer name -> last test job {id, state}

  const STATE = {
    ok: ["正常", "OK"], warning: ["警告", "Warning"], error: ["故障", "Error"], unknown: ["未知", "Unknown"],
    stale: ["离线", "Stale"], removed: ["已移除", "Removed"],
  };
  const KIND = {
    kiosk: ["自助机", "Kiosk"], display: ["显示屏", "Display"], printer: ["打印机", "Printer"],
    idcard: ["读卡器", "Card reader"], camera: ["摄像头", "Camera"], scanner: ["扫码器", "Scanner"],
    voice: ["语音", "Voice"],
  };
  const ACTION = {
    test_print: ["打印测试页", "Print a test page"], probe_idcard: ["检测读卡器", "Probe the card reader"],
    reload_config: ["重新加载配置", "Reload the configuration"],
  };
  const STATUS = {
    queued: ["等待下次心跳", "waiting for the next heartbeat"], sent: ["已下发，执行中", "sent, running"],
    done: ["成功", "done"], failed: ["失败", "failed"], expired: ["已过期（设备未执行）", "expired (not carried out)"],
  };
  const JOB = { queued: ["排队中", "queued"], printing: ["打印中", "printing"], done: ["已打印", "printed"],
    failed: ["失败", "failed"] };
  const pick = (table, k) => (table[k] ? L(table[k][0], table[k][1]) : (k || ""));
  const RANK = { ok: 0, unknown: 1, warning: 2, error: 3, stale: 4 };



  function view(name) { for (const id of ["view-login", "view-main"]) $(id).hidden = id !== name; }
  // The login, the API with its token, the flash line and logging out (common.js).
  const session = Yc.staffSession(KEY, L, () => { clearInterval(timer); view("view-login"); });
  const api = session.api;
  const msg = session.msg;
  const logout = () => session.logout();

  async function start() {
    try {
      const me = await api("/api/me");
      if (!["technician", "admin"].includes(me.role)) throw new Error(L("该账号不是技术人员或管理员", "Not a technician or admin account"));
      Yc.text("who", me.user ? `${me.user.name} (${me.role})` : me.name);
      view("view-main");
      await refresh();
      clearInterval(timer);
      timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
    } catch (e) { msg(e.message); logout(); }
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("login-user").value, password: $("login-pass").value }) });
      const d = await r.json();
      if (!r.ok) throw new Error(d.error ? L(d.error.message, d.error.message_en) : "HTTP " + r.status);
      session.login(d.token);
      $("login-pass").value = "";
      start();
    } catch (e) { msg(e.message); }
  });
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("click", () => {
    body.dataset.lang = en() ? "zh" : "en";
    $("lang").textContent = en() ? "中文" : "English";
    render();
  });
  for (const id of ["f-kind", "f-state"]) $(id).addEventListener("change", render);
  $("f-name").addEventListener("input", render);

  // --- loading ---------------------------------------------------------------------------
  let loading = false;
  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      data = await api("/api/devices/overview");
      if (selected && selected.kind === "device") {
        try { detail = await api("/api/devices/" + encodeURIComponent(selected.name)); } catch (e) { detail = null; }
      }
      for (const [name, job] of Object.entries(printJobs)) {
        if (job.state === "done" || job.state === "failed") continue;
        try { printJobs[name] = await api("/api/print-jobs/" + job.id); } catch (e) { /* keep the last */ }
      }
      body.dataset.loaded = "1";
      render();
    } catch (e) { msg(e.message); } finally { loading = false; }
  }

  // --- helpers ---------------------------------------------------------------------------
  const make = Yc.make;
  function td(...nodes) {
    const c = document.createElement("td");
    for (const n of nodes) c.append(n instanceof Node ? n : document.createTextNode(n == null ? "" : String(n)));
    return c;
  }
  function badge(state) {
    const b = make("span", "state " + state, pick(STATE, state));
    b.dataset.state = state;
    return b;
  }
  function clockOf(ts) { return ts ? Yc.timeOf(ts) : "—"; }
  const DAY = (() => {
    try { return new Intl.DateTimeFormat("en-CA", { month: "2-digit", day: "2-digit", timeZone: "Asia/Shanghai" }); }
    catch (e) { return new Intl.DateTimeFormat("en-CA", { month: "2-digit", day: "2-digit" }); }
  })();
  /** "12-02 10:03:05" in the hall's time (Asia/Shanghai unless the page learns otherwise). */
  function dateTime(ts) {
    if (!ts) return "—";
    return `${DAY.format(new Date(ts * 1000))} ${Yc.timeOf(ts)}`;
  }
  /** "printer tcp://…: 缺纸 / out of paper" (the server's words) → "打印机：缺纸 / out of paper". */
  function component(text) {
    const m = /^(printer|idcard|camera|scanner|voice) (\S+?): (.*)$/s.exec(text || "");
    return m ? `${pick(KIND, m[1])}${L("：", ": ")}${m[3]}` : (text || "");
  }
  /** What is wrong with a device now, in words: its worst component, or no heartbeat. */
  function problemOf(d) {
    if (d.state === "ok") return "";
    if (d.state === "stale") return d.detail;
    const c = d.components.find((x) => x.state === d.state);
    return c ? `${pick(KIND, c.kind)}${L("：", ": ")}${c.detail}` : component(d.detail);
  }
  function ago(ts) {
    if (!ts || !data) return "";
    const s = Math.max(0, Math.round(data.now - ts));
    if (s < 60) return L(`${s} 秒前`, `${s} s ago`);
    if (s < 3600) return L(`${Math.round(s / 60)} 分钟前`, `${Math.round(s / 60)} min ago`);
    if (s < 86400) return L(`${Math.round(s / 3600)} 小时前`, `${Math.round(s / 3600)} h ago`);
    return L(`${Math.round(s / 86400)} 天前`, `${Math.round(s / 86400)} d ago`);
  }
  function duration(s) {
    if (s == null) return "—";
    if (s < 3600) return L(`${Math.round(s / 60)} 分钟`, `${Math.round(s / 60)} min`);
    if (s < 86400) return L(`${(s / 3600).toFixed(1)} 小时`, `${(s / 3600).toFixed(1)} h`);
    return L(`${(s / 86400).toFixed(1)} 天`, `${(s / 86400).toFixed(1)} d`);
  }

  /** Devices and printers as rows of one list: {kind, name, state, since, detail, ...}. */
  function rows() {
    if (!data) return [];
    const out = data.devices.map((d) => ({ type: "device", kind: d.kind, name: d.name, state: d.state,
      since: d.since, detail: problemOf(d), lastSeen: d.last_seen, device: d }));
    for (const p of data.printers) {
      out.push({ type: "printer", kind: "printer", name: p.name, state: p.state, since: p.paused_at || p.status_at,
        detail: p.state === "ok" ? "" : p.status_label + (p.status_detail ? " — " + p.status_detail : ""),
        lastSeen: p.status_at, printer: p });
    }
    return out;
  }
  function matches(r) {
    const k = $("f-kind").value, s = $("f-state").value, q = $("f-name").value.trim().toLowerCase();
    if (k && r.kind !== k) return false;
    if (s === "problem" && r.state === "ok") return false;
    if (s && s !== "problem" && r.state !== s) return false;
    if (q && !r.name.toLowerCase().includes(q)) return false;
    return true;
  }

  // --- rendering -------------------------------------------------------------------------
  function render() {
    if (!data) return;
    renderCounts();
    const all = rows();
    const order = { kiosk: 0, display: 1, printer: 2 };
    const shown = all.filter(matches).sort((a, b) => (RANK[b.state] - RANK[a.state]) ||
      (order[a.kind] - order[b.kind]) || a.name.localeCompare(b.name));
    Yc.text("shown", L(`显示 ${shown.length} / ${all.length}`, `${shown.length} of ${all.length}`));
    Yc.text("updated", L(`更新于 ${clockOf(data.now)}`, `updated ${clockOf(data.now)}`));
    $("empty").hidden = shown.length > 0;
    $("rows").replaceChildren(...shown.map(row));
    renderDetail();
  }

  function renderCounts() {
    const c = data.counts;
    const box = $("counts");
    box.replaceChildren(...["error", "stale", "warning", "unknown", "ok"].map((s) => {
      const b = make("button", "count " + s);
      b.type = "button";
      b.dataset.state = s;
      b.append(make("span", "n", String(c[s] || 0)), document.createTextNode(" " + pick(STATE, s)));
      b.addEventListener("click", () => { $("f-state").value = $("f-state").value === s ? "" : s; render(); });
      return b;
    }));
  }

  function componentChips(d) {
    const wrap = make("span", "chips");
    for (const c of d.components) {
      const chip = make("span", "chip " + c.state, pick(KIND, c.kind));
      chip.title = `${c.name}: ${c.detail}`;
      wrap.append(chip);
    }
    if (!d.components.length) wrap.append(make("span", "muted", L("无部件", "no components")));
    return wrap;
  }

  function row(r) {
    const tr = make("tr");
    tr.dataset.name = r.name;
    tr.dataset.kind = r.kind;
    tr.dataset.state = r.state;
    if (selected && selected.name === r.name && selected.kind === r.type) tr.classList.add("sel");
    const who = make("div", "dev");
    who.append(make("strong", "", r.name), make("span", "kind", pick(KIND, r.kind)));
    const parts = r.type === "device" ? componentChips(r.device)
      : make("span", "muted", L(`队列 ${r.printer.queue} · 失败 ${r.printer.failed}`, `queue ${r.printer.queue} · failed ${r.printer.failed}`));
    const seen = make("span", "", clockOf(r.lastSeen));
    if (r.lastSeen) seen.append(make("span", "ago", ago(r.lastSeen)));
    const problem = make("span", "problem");
    if (r.detail) {
      problem.append(make("span", "", r.detail));
      if (r.since) problem.append(make("span", "ago", L(`自 ${dateTime(r.since)}`, `since ${dateTime(r.since)}`)));
    } else {
      problem.append(make("span", "muted", "—"));
    }
    const last = make("span", "lasterr");
    const d = r.device;
    if (d && d.last_error && !d.last_error_until && d.state === "error") {
      last.append(make("span", "muted", L("即当前问题", "the current problem")), make("span", "ago",
        L(`自 ${dateTime(d.last_error_at)}`, `since ${dateTime(d.last_error_at)}`)));
    } else if (d && d.last_error) {
      last.append(make("span", "", component(d.last_error)), make("span", "ago",
        d.last_error_until ? L(`${dateTime(d.last_error_at)} 至 ${dateTime(d.last_error_until)}`, `${dateTime(d.last_error_at)} to ${dateTime(d.last_error_until)}`)
          : L(`自 ${dateTime(d.last_error_at)}，仍在`, `since ${dateTime(d.last_error_at)}, ongoing`)));
    } else if (r.type === "printer" && r.printer.paused) {
      last.append(make("span", "", r.printer.paused_reason || ""));
    } else {
      last.append(make("span", "muted", "—"));
    }
    tr.append(td(badge(r.state)), td(who), td(parts), td(seen), td(problem), td(last));
    tr.addEventListener("click", () => select(r.type, r.name));
    return tr;
  }

  async function select(type, name) {
    selected = { kind: type, name };
    detail = null;
    if (type === "device") {
      try { detail = await api("/api/devices/" + encodeURIComponent(name)); } catch (e) { msg(e.message); }
    }
    render();
  }

  function facts(pairs) {
    const dl = make("dl");
    for (const [k, v] of pairs) dl.append(make("dt", "", k), make("dd", "", v));
    return dl;
  }

  function renderDetail() {
    const box = $("detail");
    if (!selected) { box.hidden = true; return; }
    box.hidden = false;
    if (selected.kind === "printer") { renderPrinter(box); return; }
    const d = detail;
    if (!d) { box.replaceChildren(make("p", "muted", L("正在读取…", "Loading…"))); return; }
    const head = make("h2");
    head.append(make("span", "", `${d.name} · ${pick(KIND, d.kind)}`), badge(d.state));
    const info = facts([
      [L("状态自", "State since"), dateTime(d.since)],
      [L("当前问题", "Problem"), problemOf(d) || "—"],
      [L("最后心跳", "Last heartbeat"), `${dateTime(d.last_seen)}（${ago(d.last_seen)}）`],
      [L("首次出现", "First seen"), dateTime(d.first_seen)],
      [L("版本", "Version"), d.version || "—"],
      [L("运行时长", "Uptime"), duration(d.uptime_s)],
      [L("剩余磁盘", "Disk free"), d.disk_free_mb == null ? "—" : `${Math.round(d.disk_free_mb)} MB`],
      [L("最近故障", "Last error"), d.last_error ? `${component(d.last_error)}（${dateTime(d.last_error_at)}${d.last_error_until ? " – " + dateTime(d.last_error_until) : L("，仍在", ", ongoing")}）` : "—"],
    ]);
    const comps = make("table", "grid comps");
    const hr = make("tr");
    for (const h of [L("部件", "Component"), L("状态", "State"), L("说明", "Detail"), L("自", "Since")]) hr.append(make("th", "", h));
    comps.append(make("thead"), make("tbody"));
    comps.tHead.append(hr);
    for (const c of d.components) {
      const tr = make("tr");
      tr.dataset.component = c.kind;
      const what = make("div", "dev");
      what.append(make("strong", "", pick(KIND, c.kind)), make("code", "", c.name));
      tr.append(td(what), td(badge(c.state)), td(c.detail), td(dateTime(c.since)));
      comps.tBodies[0].append(tr);
    }
    const buttons = make("div", "step-buttons");
    const can = ((data.devices.find((x) => x.name === d.name) || {}).can) || [];
    const has = new Set(d.components.map((c) => c.kind));
    const needs = { test_print: "printer", probe_idcard: "idcard" };  // nothing to test without the device
    for (const a of can.filter((x) => !needs[x] || has.has(needs[x]))) {
      const b = make("button", "", pick(ACTION, a));
      b.type = "button";
      b.dataset.action = a;
      b.addEventListener("click", () => queueAction(d.name, a));
      buttons.append(b);
    }
    const acts = make("ul", "steps actions-list");
    for (const a of d.actions) {
      const li = make("li");
      li.dataset.action = a.action;
      li.dataset.status = a.status;
      li.append(make("span", "when", dateTime(a.created_at)), make("strong", "", pick(ACTION, a.action) + " · "),
        make("span", "status " + a.status, pick(STATUS, a.status)));
      if (a.result) li.append(make("span", "result", a.result));
      acts.append(li);
    }
    if (!d.actions.length) acts.append(make("li", "muted", L("尚无测试操作", "No test actions yet")));
    const hist = make("ul", "steps history");
    for (const h of d.history) {
      const li = make("li");
      const what = h.component ? `${pick(KIND, h.component.kind)} ${h.component.name}` : L("设备", "Device");
      li.append(make("span", "when", dateTime(h.ts)), make("strong", "", what + L("：", ": ")),
        make("span", "", `${h.from ? pick(STATE, h.from) : L("首次", "first")} → `), badge(h.to));
      if (h.detail) li.append(make("span", "result", h.component ? h.detail : component(h.detail)));
      hist.append(li);
    }
    if (!d.history.length) hist.append(make("li", "muted", "—"));
    box.replaceChildren(head, info,
      make("h3", "", L("部件", "Components")), d.components.length ? comps : make("p", "muted", L("该设备不报告部件", "This device reports no components")),
      make("h3", "", L("测试操作（在下次心跳时执行）", "Test actions (carried out at the next heartbeat)")), buttons, acts,
      make("h3", "", L("状态变化记录", "History of state changes")), hist);
  }

  function renderPrinter(box) {
    const p = data && data.printers.find((x) => x.name === selected.name);
    if (!p) { box.replaceChildren(make("p", "muted", "—")); return; }
    const head = make("h2");
    head.append(make("span", "", `${p.name} · ${pick(KIND, "printer")}`), badge(p.state));
    const info = facts([
      [L("地址", "Address"), p.url],
      [L("状态", "Status"), p.status_label + (p.status_detail ? " — " + p.status_detail : "")],
      [L("状态时间", "Status at"), dateTime(p.status_at)],
      [L("暂停", "Paused"), p.paused ? `${p.paused_reason}（${dateTime(p.paused_at)}）` : L("否", "no")],
      [L("排队", "Queue"), String(p.queue)],
      [L("24 小时内失败", "Failed (24 h)"), String(p.failed)],
      [L("纸宽", "Paper"), `${p.options.paper} mm`],
    ]);
    const b = make("button", "", L("打印测试页", "Print a test page"));
    b.type = "button";
    b.dataset.action = "printer_test";
    b.addEventListener("click", async () => {
      try {
        const r = await api(`/api/printers/${encodeURIComponent(p.name)}/test-print`, { method: "POST", json: {} });
        printJobs[p.name] = { id: r.job_id, state: "queued" };
        msg(L("测试页已排队", "Test page queued"), true);
        render();
      } catch (e) { msg(e.message); }
    });
    const job = printJobs[p.name];
    const parts = [head, info, make("div", "step-buttons")];
    parts[2].append(b);
    if (job) parts.push(make("p", "job", L(`测试页 #${job.id}：`, `Test page #${job.id}: `) + pick(JOB, job.state) + (job.last_error ? ` — ${job.last_error}` : "")));
    box.replaceChildren(...parts);
  }

  async function queueAction(name, action) {
    try {
      await api(`/api/devices/${encodeURIComponent(name)}/actions`, { method: "POST", json: { action } });
      msg(L(`已排队：${pick(ACTION, action)}（下次心跳时执行）`, `Queued: ${pick(ACTION, action)} (at the next heartbeat)`), true);
      await refresh();
    } catch (e) { msg(e.message); }
  }

  if (session.token) start(); else view("view-login");
})();
