// Clerk console: log in, open a window, call / recall / start / finish / no-show / transfer,
// pause and resume, with keyboard shortcuts. Talks to the JSON API; refreshed by the event stream.
"use strict";
(() => {
  const S = sessionStorage;
  let me = null;          // {id, name, staff_no, role}
  let windowNo = Number(S.getItem("yc.window")) || null;
  let windowInfo = null;  // from GET /api/windows
  let current = null;     // the ticket this window is handling (API ticket dict)
  let services = [];
  let windows = [];
  let busy = false;
  let stream = null;

  const STATUS_ZH = { waiting: "等候中", called: "已叫号，等待到窗", serving: "办理中", done: "已办结",
    no_show: "过号", cancelled: "已取消", expired: "已过期" };
  const WIN_ZH = { open: "服务中 Open", paused: "暂停服务 Paused", closed: "已关闭 Closed" };
  const PRIORITY_ZH = { elderly: "老年人优先", disabled: "残疾人优先", military: "军人优先", green: "绿色通道", appointment: "预约" };
  const HTTP_ZH = { 401: "登录已失效，请重新登录", 403: "没有权限执行此操作", 404: "找不到该号码或窗口",
    409: "当前状态不允许此操作", 422: "输入有误", 500: "服务器出错，请稍后再试" };

  // --- messages ---------------------------------------------------------------------------
  let msgTimer = null;
  function say(textZh, ok) {
    const el = document.getElementById("msg");
    el.textContent = textZh;
    el.classList.toggle("ok", !!ok);
    el.hidden = false;
    clearTimeout(msgTimer);
    msgTimer = setTimeout(() => { el.hidden = true; }, ok ? 2500 : 6000);
  }

  /** Show an error unless it was already handled (a lost session shows its own message). */
  function fail(e) { if (!e || !e.handled) say((e && e.message) || String(e)); }

  // --- API --------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const t = S.getItem("yc.token");
    if (t) headers.Authorization = "Bearer " + t;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error("无法连接服务器，请检查网络 (Server unreachable)");
    }
    if (resp.status === 204) return null;
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = (data && data.error && data.error.message) || HTTP_ZH[resp.status] || `请求失败 (${resp.status})`;
      const err = new Error(msg);
      err.status = resp.status;
      err.code = data && data.error && data.error.code;
      err.details = (data && data.error && data.error.details) || {};
      if (resp.status === 401 && path !== "/api/login") {
        logout(true, msg);
        err.handled = true;
      }
      throw err;
    }
    return data;
  }

  async function act(fn) {
    if (busy) return;
    busy = true;
    document.body.dataset.busy = "1";
    setButtons();
    try { await fn(); } catch (e) { fail(e); } finally {
      busy = false;
      document.body.dataset.busy = "0";
      setButtons();
    }
  }

  // --- views ------------------------------------------------------------------------------
  function show(view) {
    for (const id of ["view-login", "view-window", "view-desk"]) document.getElementById(id).hidden = id !== view;
    document.body.dataset.view = view;
  }

  async function boot() {
    if (!S.getItem("yc.token")) { show("view-login"); document.getElementById("login-user").focus(); return; }
    try { me = (await api("GET", "/api/me")).user || null; } catch (e) { show("view-login"); return; }
    if (windowNo) { await enterDesk(windowNo, false); } else { await chooseWindow(); }
  }

  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(async () => {
      const r = await api("POST", "/api/login", {
        username: document.getElementById("login-user").value.trim(),
        password: document.getElementById("login-pass").value,
      });
      S.setItem("yc.token", r.token);
      me = r.user;
      document.getElementById("login-pass").value = "";
      await chooseWindow();
    });
  });

  function logout(expired, reason) {
    const t = S.getItem("yc.token");
    if (t && !expired) fetch("/api/logout", { method: "POST", headers: { Authorization: "Bearer " + t } }).catch(() => {});
    S.removeItem("yc.token");
    S.removeItem("yc.window");
    windowNo = null; current = null; me = null;
    if (stream) { stream.close(); stream = null; }
    show("view-login");
    if (expired) say(`登录已失效，请重新登录${reason ? "（" + reason + "）" : ""}`);
  }
  document.getElementById("logout-1").addEventListener("click", () => logout(false));
  document.getElementById("logout-2").addEventListener("click", () => logout(false));

  async function chooseWindow() {
    windows = await api("GET", "/api/windows");
    if (windows && windows.windows) windows = windows.windows;
    Yc.text("hello", me ? `${me.name}（工号 ${me.staff_no || "—"}），请选择您的窗口 Choose your window` : "");
    const list = document.getElementById("window-list");
    list.replaceChildren(...windows.map((w) => {
      const li = Yc.make("li");
      const b = Yc.make("button", "", `${w.number} 号窗口 ${Yc.windowName(w)}`);
      b.type = "button";
      b.dataset.window = w.number;
      b.appendChild(Yc.make("span", "st", WIN_ZH[w.status] || w.status));
      b.addEventListener("click", () => act(() => enterDesk(w.number, true)));
      li.appendChild(b);
      return li;
    }));
    show("view-window");
  }

  async function enterDesk(number, openIt) {
    if (openIt) await api("POST", `/api/windows/${number}/open`);
    windowNo = number;
    S.setItem("yc.window", String(number));
    show("view-desk");
    if (!services.length) {
      try { const r = await api("GET", "/api/services"); services = r.services || r; } catch (e) { services = []; }
    }
    await refresh();
    checkDevices();
    if (!stream) {
      stream = Yc.stream({ snapshot: onState, state: onState, event: onEvent, status: onLink },
        { bearer: S.getItem("yc.token") });
    }
  }

  // --- state ------------------------------------------------------------------------------
  async function refresh() {
    if (!windowNo) return;
    const all = await api("GET", "/api/windows");
    windows = all.windows || all;
    windowInfo = windows.find((w) => w.number === windowNo) || null;
    const q = await api("GET", `/api/windows/${windowNo}/queue`);
    renderQueue(q.tickets || q);
    renderNoShows(await api("GET", `/api/windows/${windowNo}/no-shows`));
    if (current) {
      try { current = await api("GET", `/api/tickets/${current.id}`); } catch (e) { current = null; }
      if (current && (current.window !== windowNo || !["called", "serving"].includes(current.status))) current = null;
    }
    renderDesk();
  }

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refresh().catch(fail), 150);
  }

  function onState(s) {
    // After a reload the console learns its current ticket from the hall state.
    const w = (s.windows || []).find((x) => x.number === windowNo);
    if (w && w.current && (!current || current.id !== w.current.ticket_id)) {
      api("GET", `/api/tickets/${w.current.ticket_id}`).then((t) => { current = t; renderDesk(); }).catch(() => {});
    }
    if (w && !w.current && current && ["called", "serving"].includes(current.status)) { current = null; }
    refreshSoon();
  }
  function onEvent() { refreshSoon(); }
  function onLink(up) { if (!up) say("与服务器的连接中断，正在重连… (Reconnecting)"); }

  // --- rendering --------------------------------------------------------------------------
  const fmtTime = Yc.timeOf;
  function waited(ts) {
    if (!ts) return "—";
    const m = Math.max(0, Math.round((Date.now() / 1000 - ts) / 60));
    return `${m} 分钟`;
  }

  function renderDesk() {
    const w = windowInfo;
    Yc.text("desk-window", `${windowNo} 号窗口`);
    Yc.text("desk-window-name", w ? Yc.windowName(w) : "");
    const st = document.getElementById("desk-status");
    st.className = "pill " + (w ? w.status : "");
    Yc.text(st, w ? (WIN_ZH[w.status] || w.status) + (w.status === "paused" && w.pause_reason ? `：${w.pause_reason}` : "") : "");
    Yc.text("desk-clerk", me ? `${me.name}（工号 ${me.staff_no || "—"}）` : "");
    document.getElementById("btn-pause").hidden = !!(w && w.status === "paused");
    document.getElementById("btn-resume").hidden = !(w && w.status === "paused");

    Yc.text("cur-number", current ? current.number : "—");
    Yc.text("cur-status", current ? (STATUS_ZH[current.status] || current.status) : "未叫号 No ticket — 按 F1 或空格叫下一位");
    const dl = document.getElementById("cur-details");
    const rows = [];
    if (current) {
      rows.push(["事项 Service", `${current.service_name || current.service}（${current.service}）`]);
      rows.push(["取号时间 Issued", `${fmtTime(current.issued_at)}，已等候 ${waited(current.issued_at)}`]);
      if (current.priority) rows.push(["优先 Priority", PRIORITY_ZH[current.priority] || current.priority]);
      if (current.call_count > 1) rows.push(["呼叫次数 Calls", String(current.call_count)]);
      if (current.id_masked) rows.push(["身份证 ID", current.id_masked]);
      const a = current.appointment;
      if (a) rows.push(["预约 Appointment", `${a.code}  ${a.slot_start}–${a.slot_end}  ${a.name_masked || ""}${a.on_time ? "（按时签到）" : ""}`]);
      if (current.referral_reason) rows.push(["转人工原因 Referral", current.referral_reason, "referral"]);
      if (current.transfer_note) rows.push(["转办备注 Transfer note", current.transfer_note]);
      if (current.source) rows.push(["来源 Source", `${current.source}${current.issued_by ? " · " + current.issued_by : ""}`]);
    }
    dl.replaceChildren(...rows.flatMap(([k, v, cls]) => [Yc.make("dt", "", k), Yc.make("dd", cls || "", v)]));
    setButtons();
    loadCase();
  }

  function renderQueue(tickets) {
    const body = document.getElementById("queue-body");
    Yc.text("queue-count", `${tickets.length} 人`);
    body.replaceChildren(...tickets.map((t) => {
      const tr = Yc.make("tr");
      tr.dataset.ticket = t.id;
      const notes = Yc.make("td");
      if (t.transfer_window || t.transfer_note) notes.appendChild(Yc.make("span", "tag transfer", "转入"));
      if (t.appointment) notes.appendChild(Yc.make("span", "tag appt", `预约 ${t.appointment.slot_start}`));
      if (t.priority && t.priority !== "appointment") notes.appendChild(Yc.make("span", "tag", PRIORITY_ZH[t.priority] || t.priority));
      if (t.referral_reason) notes.appendChild(Yc.make("span", "tag referral", "转人工"));
      tr.append(Yc.make("td", "num", t.number), Yc.make("td", "", t.service_name || t.service),
        Yc.make("td", "", waited(t.issued_at)), notes);
      return tr;
    }));
  }

  const WHY_ZH = { too_old: "已超过可回呼时间 Too long ago", not_among_last: "不在最近几个过号之内 Not among the last" };
  function renderNoShows(tickets) {
    const body = document.getElementById("no-show-body");
    Yc.text("no-show-count", `${tickets.length} 个`);
    document.getElementById("no-show-empty").hidden = tickets.length > 0;
    body.replaceChildren(...tickets.map((t) => {
      const tr = Yc.make("tr", t.recallable ? "" : "gone");
      tr.dataset.ticket = t.id;
      tr.dataset.number = t.number;
      const cell = Yc.make("td", t.recallable ? "" : "why");
      if (t.recallable) {
        const b = Yc.make("button", "recall-no-show", "回呼 Recall");
        b.type = "button";
        b.addEventListener("click", () => act(async () => {
          current = unwrap(await api("POST", `/api/tickets/${t.id}/recall`, { window: windowNo }));
          renderDesk();
          say(`已回呼 ${current.number}`, true);
          refreshSoon();
        }));
        cell.appendChild(b);
      } else {
        cell.textContent = WHY_ZH[t.not_recallable] || t.not_recallable || "";
      }
      tr.append(Yc.make("td", "num", t.number), Yc.make("td", "", t.service_name || t.service),
        Yc.make("td", "", fmtTime(t.closed_at)), cell);
      return tr;
    }));
  }

  function setButtons() {
    const open = windowInfo && windowInfo.status === "open";
    const st = current && current.status;
    const dis = (id, off) => { document.getElementById(id).disabled = busy || off; };
    dis("btn-call", !open || st === "serving");
    dis("btn-recall", !current || st !== "called");
    dis("btn-start", !current || st !== "called");
    dis("btn-finish", !current || st !== "serving");
    dis("btn-noshow", !current || st !== "called");
    dis("btn-transfer", !current);
    dis("btn-reprint", !current);
    dis("btn-special", !open);
  }

  // --- actions ----------------------------------------------------------------------------
  const actions = {
    call: () => act(() => callNext(false)),
    recall: () => current && act(async () => { current = unwrap(await api("POST", `/api/tickets/${current.id}/recall`)); renderDesk(); say(`已重呼 ${current.number}`, true); }),
    start: () => current && act(async () => { current = unwrap(await api("POST", `/api/tickets/${current.id}/start`)); renderDesk(); }),
    finish: () => current && act(async () => { await api("POST", `/api/tickets/${current.id}/finish`); say(`${current.number} 已办结`, true); current = null; renderDesk(); refreshSoon(); }),
    noshow: () => current && act(async () => { await api("POST", `/api/tickets/${current.id}/no-show`); say(`${current.number} 已过号`, true); current = null; renderDesk(); refreshSoon(); }),
    transfer: () => current && openTransfer(),
    pause: () => windowInfo && (windowInfo.status === "paused" ? act(resume) : openPause()),
  };
  async function callNext(confirm) {
    let t;
    try {
      t = await api("POST", `/api/windows/${windowNo}/call-next`, confirm ? { confirm: true } : undefined);
    } catch (e) {
      if (e.code !== "just_called") throw e;
      // A second press right after a call: ask before the citizen walking up becomes a no-show.
      const number = (e.details && e.details.number) || (current && current.number) || "";
      Yc.text("just-called-text", `刚叫过 ${number}，确定过号并叫下一位？`);
      document.getElementById("dlg-just-called").showModal();
      return;
    }
    if (!t) { say("当前没有等候的号码 (Nobody is waiting)"); refreshSoon(); return; }
    current = t.ticket || t;
    renderDesk();
    say(`已呼叫 ${current.number}`, true);
    refreshSoon();
  }
  document.getElementById("dlg-just-called").addEventListener("close", (ev) => {
    if (ev.target.returnValue === "ok") act(() => callNext(true));
  });

  document.getElementById("special-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("special-number");
    const number = input.value.trim().toUpperCase();
    if (!number) { input.focus(); return; }
    const reason = document.getElementById("special-reason").value.trim();
    act(async () => {
      const body = { number };
      if (reason) body.reason = reason;
      current = await api("POST", `/api/windows/${windowNo}/call`, body);
      input.value = "";
      document.getElementById("special-reason").value = "";
      renderDesk();
      say(`已特呼 ${current.number}`, true);
      refreshSoon();
    });
  });

  async function reprint() {
    const t = current;
    const r = await api("POST", "/api/print-jobs", { ticket_id: t.id });
    const p = (r && r.print) || {};
    if (p.status === "queued") say(`${t.number} 补打已发送到打印机（任务 ${p.job_id}） Reprint queued`, true);
    else say(`${t.number} 未能补打：${p.message || "未配置打印机"} (${p.message_en || "no printer"})`);
  }

  function unwrap(r) { return (r && r.ticket) || r || current; }

  async function resume() {
    await api("POST", `/api/windows/${windowNo}/resume`);
    await refresh();
    say("已恢复服务 (Resumed)", true);
  }

  document.getElementById("btn-call").addEventListener("click", actions.call);
  document.getElementById("btn-recall").addEventListener("click", actions.recall);
  document.getElementById("btn-start").addEventListener("click", actions.start);
  document.getElementById("btn-finish").addEventListener("click", actions.finish);
  document.getElementById("btn-noshow").addEventListener("click", actions.noshow);
  document.getElementById("btn-transfer").addEventListener("click", actions.transfer);
  document.getElementById("btn-reprint").addEventListener("click", () => current && act(reprint));
  document.getElementById("btn-pause").addEventListener("click", actions.pause);
  document.getElementById("btn-resume").addEventListener("click", actions.pause);
  document.getElementById("btn-close").addEventListener("click", () => act(async () => {
    if (current) { say("请先办结或转出当前号码 (Finish or transfer the current ticket first)"); return; }
    await api("POST", `/api/windows/${windowNo}/close`);
    S.removeItem("yc.window");
    windowNo = null;
    if (stream) { stream.close(); stream = null; }
    await chooseWindow();
  }));

  // --- dialogs ----------------------------------------------------------------------------
  function openTransfer() {
    Yc.text("transfer-number", current.number);
    const ws = document.getElementById("transfer-window");
    ws.replaceChildren(...windows.filter((w) => w.number !== windowNo).map((w) => {
      const o = Yc.make("option", "", `${w.number} 号窗口 ${Yc.windowName(w)}（${WIN_ZH[w.status] || w.status}）`);
      o.value = w.number;
      return o;
    }));
    const ss = document.getElementById("transfer-service");
    ss.replaceChildren(...services.map((s) => {
      const o = Yc.make("option", "", `${s.name}（${s.code}）`);
      o.value = s.code;
      return o;
    }));
    document.getElementById("transfer-note").value = "";
    document.getElementById("dlg-transfer").showModal();
  }
  document.getElementById("dlg-transfer").addEventListener("close", (ev) => {
    const dlg = ev.target;
    if (dlg.returnValue !== "ok" || !current) return;
    const to = document.querySelector("input[name=to]:checked").value;
    const body = { note: document.getElementById("transfer-note").value.trim() };
    if (to === "window") body.window = Number(document.getElementById("transfer-window").value);
    else body.service = document.getElementById("transfer-service").value;
    act(async () => {
      await api("POST", `/api/tickets/${current.id}/transfer`, body);
      say(`${current.number} 已转出`, true);
      current = null;
      renderDesk();
      refreshSoon();
    });
  });

  function openPause() {
    document.getElementById("pause-text").value = "";
    document.getElementById("dlg-pause").showModal();
  }
  document.getElementById("dlg-pause").addEventListener("close", (ev) => {
    if (ev.target.returnValue !== "ok") return;
    const text = document.getElementById("pause-text").value.trim();
    const reason = text || document.getElementById("pause-reason").value || "暂停服务";
    act(async () => {
      await api("POST", `/api/windows/${windowNo}/pause`, { reason });
      await refresh();
      say("已暂停服务 (Paused)", true);
    });
  });

  // --- 秒批 referrals: the case a ticket carries, its rule trace, the clerk's decision -------
  let caseFor = null;   // the ticket id whose case is loaded (or being loaded)
  let caseData = null;  // GET /api/approvals?ticket=<id>
  const RESULT_ZH = { pass: "✓ 通过", fail: "✗ 未通过", unknown: "? 无法判断" };
  const METHOD_ZH = { face: "人脸比对", card: "仅读卡（未比对人脸）", staff: "工作人员核验" };

  async function loadCase() {
    const t = current;
    if (!t || !t.referral_reason) { caseFor = null; caseData = null; renderCase(); return; }
    if (caseFor === t.id) { renderCase(); return; }
    caseFor = t.id;
    caseData = null;
    renderCase();
    try {
      const found = await api("GET", `/api/approvals?ticket=${t.id}`);
      if (caseFor === t.id) caseData = found;
    } catch (e) {
      if (e.status !== 404) fail(e);  // 404: a referral that is not a 秒批 case
    }
    renderCase();
  }

  function shown(v) {
    if (v === null || v === undefined) return "无";
    if (Array.isArray(v)) {
      if (!v.length) return "无记录";
      return v.map((r) => (r && typeof r === "object") ? Object.values(r).filter((x) => x !== null).join(" ") : String(r)).join("；");
    }
    if (typeof v === "boolean") return v ? "是" : "否";
    return String(v);
  }

  function renderCase() {
    const panel = document.getElementById("case-panel");
    const c = caseData;
    panel.hidden = !c;
    if (!c) return;
    Yc.text("case-number", c.case);
    Yc.text("case-status", c.status_text || c.status);
    document.getElementById("case-status").className = "pill " + ({ approved: "open", rejected: "paused" }[c.status] || "");
    const h = c.holder || {};
    const v = c.verification || {};
    Yc.text("case-head", `${c.item_name} · 申请人 ${h.name_masked || ""} ${h.id_masked || ""} · ` +
      `${METHOD_ZH[v.method] || v.method}${v.score != null ? "（相似度 " + Number(v.score).toFixed(2) + "）" : ""} · ` +
      `申请日期 ${c.application_date} · 规则集 ${c.ruleset.version}（${c.ruleset.hash.slice(0, 12)}）· ${c.decided_by}`);
    document.getElementById("case-trace").replaceChildren(...c.trace.map((r) => {
      const tr = Yc.make("tr", r.result);
      tr.dataset.rule = r.rule;
      const cond = Yc.make("td", "", r.text);
      cond.appendChild(Yc.make("span", "basis", r.basis));
      const res = Yc.make("td", "res", RESULT_ZH[r.result] || r.result);
      if (r.code) res.appendChild(Yc.make("span", "basis", r.code));
      const facts = Yc.make("td");
      for (const [name, source] of Object.entries(r.facts || {})) {
        const line = Yc.make("span", "fact");
        const label = (r.labels && r.labels[name]) || name;
        line.append(Yc.make("b", "", label + "："),
          document.createTextNode(!(r.values && name in r.values) ? "未取得"
            : name === "applicant.verification" ? (METHOD_ZH[r.values[name]] || r.values[name]) : shown(r.values[name])),
          Yc.make("small", "", `（${source}）`));
        facts.appendChild(line);
      }
      if (r.error) facts.appendChild(Yc.make("span", "basis", r.error));
      tr.append(Yc.make("td", "rid", r.rule), cond, res, facts);
      return tr;
    }));
    const staff = document.getElementById("case-staff");
    staff.hidden = !c.staff;
    if (c.staff) {
      Yc.text(staff, `${c.staff.decision === "approved" ? "已人工审核通过" : "已决定不予通过"}` +
        `${c.staff.note ? "：" + c.staff.note : ""}（${c.staff.by_name || c.staff.by}）`);
    }
    document.getElementById("case-actions").hidden = c.status !== "referred";
  }

  function openCaseDialog(decision) {
    const dlg = document.getElementById("dlg-case");
    dlg.dataset.decision = decision;
    Yc.text("case-dlg-title", decision === "approved" ? "人工审核通过 Approve" : "不予通过 Reject");
    Yc.text("case-dlg-hint", decision === "approved"
      ? "核实材料后通过；可写明核实了什么（选填）。" : "不予通过须写明理由，理由会告知申请人并记入审计。");
    document.getElementById("case-note").value = "";
    dlg.showModal();
  }
  document.getElementById("btn-case-approve").addEventListener("click", () => caseData && openCaseDialog("approved"));
  document.getElementById("btn-case-reject").addEventListener("click", () => caseData && openCaseDialog("rejected"));
  document.getElementById("dlg-case").addEventListener("close", (ev) => {
    const dlg = ev.target;
    if (dlg.returnValue !== "ok" || !caseData) return;
    const decision = dlg.dataset.decision;
    const note = document.getElementById("case-note").value.trim();
    act(async () => {
      caseData = await api("POST", `/api/approvals/${caseData.case}/decide`, { decision, note });
      renderCase();
      say(decision === "approved" ? `${caseData.case} 已人工审核通过` : `${caseData.case} 已决定不予通过`, true);
    });
  });

  // --- keyboard ---------------------------------------------------------------------------
  const KEYS = { F1: "call", " ": "call", r: "recall", s: "start", f: "finish", n: "noshow", t: "transfer", p: "pause" };
  document.addEventListener("keydown", (ev) => {
    if (document.body.dataset.view !== "view-desk") return;
    if (document.querySelector("dialog[open]")) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    const name = KEYS[ev.key] || KEYS[ev.key.toLowerCase()];
    if (!name) return;
    ev.preventDefault();
    const button = { call: "btn-call", recall: "btn-recall", start: "btn-start", finish: "btn-finish",
      noshow: "btn-noshow", transfer: "btn-transfer" }[name];
    if (button && document.getElementById(button).disabled) return;
    actions[name]();
  });

  // --- device health: the printer at this window (GET /api/devices/summary?window=N) -----
  // A clerk learns that the window's printer is down (or nearly out of paper) before the
  // citizens do; the technicians see the same on /tech.
  const DEVICE_MS = Number(new URLSearchParams(location.search).get("devices_refresh") || 30) * 1000;
  function deviceBanner() {
    let el = document.getElementById("device-banner");
    if (!el) {
      el = Yc.make("div", "device-banner");
      el.id = "device-banner";
      el.setAttribute("role", "status");
      el.hidden = true;
      const desk = document.getElementById("view-desk");
      desk.insertBefore(el, desk.children[1] || null);
    }
    return el;
  }
  async function checkDevices() {
    const el = deviceBanner();
    if (!windowNo || document.body.dataset.view !== "view-desk") { el.hidden = true; return; }
    let s;
    try { s = await api("GET", `/api/devices/summary?window=${windowNo}`); } catch (e) { return; }
    const bad = ((s && s.window && s.window.printers) || []).filter((p) => p.state === "error" || p.state === "warning");
    if (!bad.length) { el.hidden = true; delete el.dataset.state; return; }
    const down = bad.filter((p) => p.state === "error");
    const shown = down.length ? down : bad;
    const names = shown.map((p) => `${p.name}：${p.label}`).join("；");
    el.dataset.state = down.length ? "error" : "warning";
    el.textContent = down.length
      ? `本窗口打印机故障（${names}），小票暂时打不出，技术人员已在设备页看到。 This window's printer is down.`
      : `本窗口打印机纸将用完（${names}），请准备换纸。 This window's printer is nearly out of paper.`;
    el.hidden = false;
  }
  setInterval(() => { if (!document.hidden) checkDevices(); }, DEVICE_MS);

  boot().catch(fail);
})();
