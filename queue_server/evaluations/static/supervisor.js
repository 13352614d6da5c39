// Supervisor page (好差评管理): evaluations, rectification cases (overdue first) and every
// step of the 差评 loop, the figures, the working-day calendar of deadlines (admins enter
// holidays and 调休 days there). Everything goes through the JSON API with the
// login's token in a header; text is only ever set with textContent.
"use strict";
(() => {
  const KEY = "yc.sup.token";
  const REFRESH_MS = Number(new URLSearchParams(location.search).get("refresh") || 10) * 1000;
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const en = () => body.dataset.lang === "en";
  const L = (zh, eng) => (en() ? eng : zh);
  let tab = "cases";
  let selected = null;
  let reasons = [];
  let timer = null;

  const STEP = {
    verify: ["核实有效", "Verify (valid)"], apply_invalid: ["申请认定无效", "Apply: invalid"],
    approve_invalid: ["批准无效申请", "Approve invalid"], reject_invalid: ["驳回无效申请", "Reject invalid"],
    rectify: ["登记整改", "Record rectification"], extend: ["延期", "Extend"], follow_up: ["登记回访", "Record follow-up"],
    close: ["办结", "Close"], open: ["差评生成整改件", "Opened by the 差评"],
  };
  const CHANNEL = { window: ["窗口评价器", "Window pad"], kiosk: ["自助机", "Kiosk"], phone: ["手机", "Phone"],
    follow_up: ["回访", "Follow-up"] };
  const METHOD = { phone: ["电话", "Phone"], sms: ["短信", "SMS"], visit: ["上门/当面", "Visit"], other: ["其他", "Other"] };
  const OUTCOME = { satisfied: ["满意", "Satisfied"], unsatisfied: ["不满意", "Unsatisfied"], unreachable: ["联系不上", "Unreachable"] };
  const LEVEL = { 5: ["非常满意", "Very satisfied"], 4: ["满意", "Satisfied"], 3: ["基本满意", "Fairly satisfied"],
    2: ["不满意", "Dissatisfied"], 1: ["非常不满意", "Very dissatisfied"] };
  const pick = (table, k) => (table[k] ? L(table[k][0], table[k][1]) : k);



  function view(name) {
    for (const id of ["view-login", "view-main"]) $(id).hidden = id !== name;
  }
  // The login, the API with its token, the flash line and logging out (common.js).
  const session = Yc.staffSession(KEY, L, () => { clearInterval(timer); view("view-login"); });
  const api = session.api;
  const msg = session.msg;
  const logout = () => session.logout();

  async function start() {
    try {
      const me = await api("/api/me");
      if (!["supervisor", "admin"].includes(me.role)) throw new Error(L("该账号不是督办人员或管理员", "Not a supervisor or admin account"));
      Yc.text("who", me.user ? `${me.user.name} (${me.role})` : me.name);
      body.dataset.userId = me.user ? String(me.user.id) : "";
      body.dataset.role = me.role;
      $("cal-form").hidden = me.role !== "admin";
      view("view-main");
      reasons = (await api("/api/evaluations/reasons")).reasons || [];
      refresh();
      clearInterval(timer);
      timer = setInterval(() => { if (!$("step-dialog").open && !document.hidden) refresh(); }, REFRESH_MS);
    } catch (e) {
      msg(e.message); logout();
    }
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("login-user").value, password: $("login-pass").value }) });
      const data = await r.json();
      if (!r.ok) throw new Error(data.error ? L(data.error.message, data.error.message_en) : "HTTP " + r.status);
      session.login(data.token);
      start();
    } catch (e) { msg(e.message); }
  });
  $("logout").addEventListener("click", logout);
  $("lang").addEventListener("click", () => {
    body.dataset.lang = en() ? "zh" : "en";
    $("lang").textContent = en() ? "中文" : "English";
    refresh();
  });
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => {
      tab = b.dataset.tab;
      for (const t of document.querySelectorAll(".tab")) t.classList.toggle("on", t === b);
      for (const p of ["cases", "evaluations", "figures", "calendar"]) $("tab-" + p).hidden = p !== tab;
      refresh();
    });
  }

  function refresh() {
    if (tab === "cases") loadCases();
    else if (tab === "evaluations") loadEvaluations();
    else if (tab === "calendar") loadCalendar();
    else loadFigures();
  }

  // --- helpers that build cells --------------------------------------------------------
  function td(...nodes) {
    const c = document.createElement("td");
    for (const n of nodes) c.append(n instanceof Node ? n : document.createTextNode(n == null ? "" : String(n)));
    return c;
  }
  const span = (cls, text) => Yc.make("span", cls, text);
  function statusBadge(c) {
    const cls = c.overdue ? "badge overdue" : c.status === "closed" ? "badge done" : c.status === "invalid" ? "badge invalid" : "badge";
    return span(cls, L(c.status_name, c.status_name_en));
  }
  function levelCell(e) {
    return span(e.bad ? "lvl bad" : "lvl", `${e.level} ${pick(LEVEL, e.level)}`);
  }
  function reasonTags(e) {
    const box = document.createElement("span");
    for (const r of e.reasons) box.append(span("reason-tag", L(r.name, r.name_en)));
    if (e.comment) box.append(span("comment", "“" + e.comment + "”"));
    return box;
  }
  function where(e) {
    if (e.case) return L("自助机", "Kiosk");
    const w = e.window ? L(`${e.window}号窗口`, `Window ${e.window}`) : "";
    return e.clerk ? `${w} · ${e.clerk.name}${e.clerk.staff_no ? " (" + e.clerk.staff_no + ")" : ""}` : w;
  }
  function deadlineCell(c) {
    const box = document.createElement("span");
    box.append(document.createTextNode(c.deadline));
    if (c.provisional) box.append(" ", span("badge provisional", L("暂定", "provisional")));
    return box;
  }
  const when = (ts) => new Date(ts * 1000).toLocaleString(en() ? "en-GB" : "zh-CN", { hour12: false });

  // --- rectification cases -------------------------------------------------------------
  async function loadCases() {
    const mine = Yc.newest("cases");
    try {
      const st = $("case-status").value;
      const data = await api("/api/rectifications" + (st ? "?status=" + encodeURIComponent(st) : ""));
      if (!mine()) return;
      const rows = data.rectifications;
      const tbody = $("case-body");
      tbody.textContent = "";
      for (const c of rows) {
        const tr = document.createElement("tr");
        tr.dataset.id = String(c.id);
        if (c.overdue) tr.classList.add("overdue");
        if (selected === c.id) tr.classList.add("sel");
        tr.append(td(c.id), td(statusBadge(c)), td(deadlineCell(c)), td(levelCell(c.evaluation)), td(reasonTags(c.evaluation)),
          td(c.evaluation.service_name), td(where(c.evaluation)));
        tr.addEventListener("click", () => { selected = c.id; loadCases(); });
        tbody.append(tr);
      }
      $("case-empty").hidden = rows.length > 0;
      const overdue = rows.filter((c) => c.overdue).length;
      Yc.text("case-count", L(`共 ${rows.length} 件，超期 ${overdue} 件`, `${rows.length} cases, ${overdue} overdue`));
      if (selected !== null) showCase(await api("/api/rectifications/" + selected));
    } catch (e) { msg(e.message); }
  }
  $("case-status").addEventListener("change", () => { selected = null; $("case-detail").hidden = true; loadCases(); });

  function showCase(c) {
    const box = $("case-detail");
    box.hidden = false;
    box.textContent = "";
    box.dataset.id = String(c.id);
    box.dataset.status = c.status;
    const h = Yc.make("h2", "", L(`整改件 #${c.id}`, `Case #${c.id}`));
    h.append(statusBadge(c));
    box.append(h);
    const e = c.evaluation;
    const dl = document.createElement("dl");
    const row = (k, v) => { dl.append(Yc.make("dt", "", k)); const dd = document.createElement("dd"); dd.append(v instanceof Node ? v : String(v ?? "—")); dl.append(dd); };
    row(L("评价", "Rating"), levelCell(e));
    row(L("原因", "Reasons"), reasonTags(e));
    row(L("服务", "Service"), `${e.ticket_number || e.case} · ${e.service_name} · ${e.service_day}`);
    row(L("窗口/人员", "Window/clerk"), where(e) || "—");
    row(L("渠道", "Channel"), `${pick(CHANNEL, e.channel)} (${e.channel_code})`);
    row(L("评价人", "Evaluator"), e.realname ? `${e.evaluator} · ${L("实名", "named")}` : L("匿名", "anonymous"));
    row(L("期限", "Deadline"), deadlineCell(c));
    row(L("规则", "Rule"), L(`差评次日起第 ${c.working_days} 个工作日`, `${c.working_days}th working day after the 差评`));
    if (c.extension) row(L("延期", "Extension"), L(`${c.extension.days} 个工作日：${c.extension.reason}`, `${c.extension.days} working days: ${c.extension.reason}`));
    if (c.invalid_reason) row(L("无效申请理由", "Invalid: why"), c.invalid_reason);
    if (c.measure) row(L("整改措施", "Measure"), `${c.measure}（${c.rectified_day}${c.late ? L("，超期", ", late") : ""}）`);
    if (c.follow_up) row(L("回访", "Follow-up"), `${pick(METHOD, c.follow_up.method)} · ${pick(OUTCOME, c.follow_up.outcome)}${c.follow_up.note ? " · " + c.follow_up.note : ""}`);
    box.append(dl);
    box.append(Yc.make("h3", "", L("办理过程", "Steps")));
    const ol = Yc.make("ol", "steps");
    for (const s of c.steps || []) {
      const li = document.createElement("li");
      li.append(span("when", when(s.ts)), span("", pick(STEP, s.step)));
      const who = s.user ? s.user.name + (s.user.staff_no ? ` (${s.user.staff_no})` : "") : s.actor;
      li.append(" · " + who);
      if (s.note) li.append(span("comment", s.note));
      ol.append(li);
    }
    box.append(ol);
    const buttons = Yc.make("div", "step-buttons");
    for (const step of c.allowed_steps) {
      const b = Yc.make("button", step === "close" || step === "rectify" || step === "verify" ? "primary" : "", pick(STEP, step));
      b.type = "button";
      b.dataset.step = step;
      b.addEventListener("click", () => openStep(c, step));
      buttons.append(b);
    }
    box.append(buttons);
  }

  // --- the step dialog -----------------------------------------------------------------
  function field(label, input) {
    const l = Yc.make("label", "", label);
    l.append(input);
    return l;
  }
  function select(id, options) {
    const s = document.createElement("select");
    s.id = id;
    for (const [v, text] of options) { const o = Yc.make("option", "", text); o.value = v; s.append(o); }
    return s;
  }
  function textarea(id, required) {
    const t = document.createElement("textarea");
    t.id = id; t.rows = 3; t.required = !!required; t.maxLength = 1000;
    return t;
  }

  let pending = null;
  function openStep(c, step) {
    pending = { id: c.id, step };
    Yc.text("step-title", `${pick(STEP, step)} · #${c.id}`);
    const f = $("step-fields");
    f.textContent = "";
    if (step === "apply_invalid") f.append(field(L("申请理由（必填）", "Why invalid (required)"), textarea("f-reason", true)));
    else if (step === "extend") {
      f.append(field(L("延期理由（必填）", "Reason (required)"), textarea("f-reason", true)));
      const d = document.createElement("input"); d.type = "number"; d.id = "f-days"; d.min = "1"; d.max = "15"; d.value = "5";
      f.append(field(L("延长工作日", "Working days"), d));
    } else if (step === "rectify") f.append(field(L("整改措施（必填）", "Measure taken (required)"), textarea("f-measure", true)));
    else if (step === "follow_up") {
      f.append(field(L("回访方式", "Method"), select("f-method", Object.keys(METHOD).map((k) => [k, pick(METHOD, k)]))));
      f.append(field(L("回访结果", "Outcome"), select("f-outcome", Object.keys(OUTCOME).map((k) => [k, pick(OUTCOME, k)]))));
      if (c.status === "rectified" && !c.second_evaluation) {
        const lv = select("f-level", [["", L("不记录再评价", "No second evaluation")], ...[5, 4, 3, 2, 1].map((k) => [String(k), `${k} ${pick(LEVEL, k)}`])]);
        f.append(field(L("评价人对整改的再评价", "The evaluator's second evaluation"), lv));
        const rbox = Yc.make("div", "");
        rbox.id = "f-reasons";
        rbox.hidden = true;
        for (const r of reasons) {
          const cb = document.createElement("input"); cb.type = "checkbox"; cb.value = r.code;
          const l = Yc.make("label", ""); l.append(cb, " " + L(r.name, r.name_en)); rbox.append(l);
        }
        lv.addEventListener("change", () => { rbox.hidden = !(lv.value && Number(lv.value) <= 2); });
        f.append(rbox);
      }
    }
    f.append(field(L("备注", "Note"), textarea("f-note", false)));
    $("step-dialog").showModal();
  }
  $("step-cancel").addEventListener("click", () => $("step-dialog").close());
  $("step-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!pending) return;
    const v = (id) => ($(id) ? $(id).value.trim() : "");
    const data = {};
    if (v("f-note")) data.note = v("f-note");
    if ($("f-reason")) data.reason = v("f-reason");
    if ($("f-measure")) data.measure = v("f-measure");
    if ($("f-days")) data.days = Number(v("f-days"));
    if ($("f-method")) { data.method = v("f-method"); data.outcome = v("f-outcome"); }
    if ($("f-level") && v("f-level")) {
      const codes = [...document.querySelectorAll("#f-reasons input:checked")].map((x) => x.value);
      data.evaluation = { level: Number(v("f-level")), reasons: codes };
    }
    try {
      const c = await api(`/api/rectifications/${pending.id}/${pending.step}`, { method: "POST", json: data });
      $("step-dialog").close();
      msg(L(`已${pick(STEP, pending.step)}`, `Done: ${pick(STEP, pending.step)}`), true);
      selected = c.id;
      loadCases();
    } catch (e) { msg(e.message); }
  });

  // --- evaluations ---------------------------------------------------------------------
  async function loadEvaluations() {
    const q = new URLSearchParams();
    if ($("ev-from").value) q.set("from", $("ev-from").value);
    if ($("ev-to").value) q.set("to", $("ev-to").value);
    const lv = $("ev-level").value;
    if (lv === "bad") q.set("bad", "1"); else if (lv) q.set("level", lv);
    if ($("ev-channel").value) q.set("channel", $("ev-channel").value);
    if ($("ev-window").value) q.set("window", $("ev-window").value);
    const mine = Yc.newest("evaluations");
    try {
      const data = await api("/api/evaluations?" + q.toString());
      if (!mine()) return;
      const tbody = $("ev-body");
      tbody.textContent = "";
      for (const e of data.evaluations) {
        const tr = document.createElement("tr");
        tr.dataset.id = String(e.id);
        const rect = e.rectification ? statusBadge(e.rectification) : "—";
        tr.append(td(when(e.created_at)), td((e.ticket_number || e.case) + (e.count === 2 ? L("（再评价）", " (2nd)") : "")),
          td(e.service_name), td(where(e) || "—"), td(pick(CHANNEL, e.channel)), td(levelCell(e)), td(reasonTags(e)),
          td(e.realname ? e.evaluator : L("匿名", "anonymous")), td(rect));
        if (e.rectification) tr.addEventListener("click", () => {
          selected = e.rectification.id;
          document.querySelector(".tab[data-tab='cases']").click();
        });
        tbody.append(tr);
      }
    } catch (e) { msg(e.message); }
  }
  $("ev-go").addEventListener("click", loadEvaluations);

  // --- figures -------------------------------------------------------------------------
  const pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%");
  async function loadFigures() {
    const q = new URLSearchParams({ from: $("fg-from").value, to: $("fg-to").value, group: $("fg-group").value });
    const mine = Yc.newest("figures");
    try {
      const data = await api("/api/stats/evaluations?" + q.toString());
      if (!mine()) return;
      const tbody = $("fg-body");
      tbody.textContent = "";
      const label = (r) => {
        if (data.group === "day") return r.day;
        if (data.group === "service") return `${r.service} ${r.service_name}`;
        if (data.group === "window") return r.window === null ? L("自助机", "Kiosk") : L(`${r.window}号窗口`, `Window ${r.window}`);
        return r.clerk === null ? L("（无）", "(none)") : `${r.clerk_name || r.clerk}${r.staff_no ? " (" + r.staff_no + ")" : ""}`;
      };
      const line = (name, f) => {
        const tr = document.createElement("tr");
        const top = f.top_reasons.map((x) => `${L(x.name, x.name_en)} ${x.count}`).join("、");
        tr.append(td(name), td(f.served), td(f.rated), td(f.good), td(f.bad), td(pct(f.good_rate)), td(pct(f.active_rate)),
          td(pct(f.unrated_rate)), td(top || "—"), td(`${f.rectifications_on_time}/${f.rectifications_overdue} (${f.rectifications_opened})`),
          td(pct(f.follow_up_rate)));
        tbody.append(tr);
      };
      for (const r of data.rows) line(label(r), r);
      line(L("合计", "Total"), data.total);
    } catch (e) { msg(e.message); }
  }
  $("fg-go").addEventListener("click", loadFigures);

  // --- the working-day calendar ----------------------------------------------------------
  const KIND = { holiday: ["放假", "Holiday"], workday: ["上班", "Working day"] };
  const SOURCE = { official: ["国务院安排", "Official"], statutory: ["法定节假日", "Statutory"], hall: ["本厅录入", "Entered"] };
  const WEEKDAY = [["周日", "Sun"], ["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"], ["周六", "Sat"]];
  async function loadCalendar() {
    const year = $("cal-year").value;
    const mine = Yc.newest("calendar");
    try {
      const data = await api("/api/evaluations/calendar" + (year ? "?year=" + encodeURIComponent(year) : ""));
      // A newer load, or a year typed meanwhile (the tab's first load answering late): not ours.
      if (!mine() || $("cal-year").value !== year) return;
      if (!year) $("cal-year").value = String(data.year);
      Yc.text("cal-state", data.provisional
        ? L(`${data.year} 年：国务院放假安排未收录，按法定节假日计算，期限暂定`,
          `${data.year}: no official schedule yet; statutory holidays, deadlines provisional`)
        : L(`${data.year} 年：国务院放假安排（${data.libraries.official}）`, `${data.year}: official schedule (${data.libraries.official})`));
      $("cal-state").classList.toggle("provisional", data.provisional);
      const admin = body.dataset.role === "admin";
      const tbody = $("cal-body");
      tbody.textContent = "";
      for (const d of data.days) {
        const tr = document.createElement("tr");
        tr.dataset.day = d.day;
        tr.dataset.source = d.source;
        if (d.ignored) tr.classList.add("ignored");
        const wd = WEEKDAY[new Date(`${d.day}T12:00:00`).getDay()];
        let text = d.source === "hall" ? d.note : L(d.name, d.name_en);
        if (d.statutory) text += L(`（代替法定：${d.statutory}）`, ` (instead of the statutory ${d.statutory})`);
        if (d.ignored) text += L("（不计：已有国务院安排）", " (not counted: the official schedule applies)");
        const cell = td();
        if (admin && d.source === "hall") {
          const b = Yc.make("button", "", L("删除", "Remove"));
          b.type = "button";
          b.dataset.remove = d.day;
          b.addEventListener("click", () => removeDay(d.day));
          cell.append(b);
        }
        tr.append(td(d.day), td(L(wd[0], wd[1])), td(span("kind-" + d.kind, pick(KIND, d.kind))),
          td(span("badge " + d.source, pick(SOURCE, d.source))), td(text || "—"), cell);
        tbody.append(tr);
      }
    } catch (e) { if (mine()) msg(e.message); }
  }
  async function removeDay(day) {
    try {
      const r = await api("/api/evaluations/calendar/" + encodeURIComponent(day), { method: "DELETE" });
      msg(L(`已删除 ${day}，${r.deadlines_changed} 个暂定期限已重算`, `${day} removed; ${r.deadlines_changed} provisional deadline(s) recounted`), true);
      loadCalendar();
    } catch (e) { msg(e.message); }
  }
  $("cal-go").addEventListener("click", loadCalendar);
  $("cal-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const day = $("cal-day").value;
    const data = { day, kind: $("cal-kind").value };
    if ($("cal-note").value.trim()) data.note = $("cal-note").value.trim();
    try {
      const r = await api("/api/evaluations/calendar", { method: "POST", json: data });
      msg(L(`已录入 ${r.day}，${r.deadlines_changed} 个暂定期限已重算`, `${r.day} entered; ${r.deadlines_changed} provisional deadline(s) recounted`), true);
      $("cal-year").value = day.slice(0, 4);
      $("cal-note").value = "";
      loadCalendar();
    } catch (e) { msg(e.message); }
  });

  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  // The hall's business day from the page (not the browser's clock, which may be elsewhere).
  const today = document.body.dataset.day ? new Date(`${document.body.dataset.day}T12:00:00`) : new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  $("fg-from").value = iso(weekAgo); $("fg-to").value = iso(today);

  if (session.token) start(); else view("view-login");
})();
