// The hall manager's pages (all but statistics): each renders from the JSON API and changes
// things only through it; after a change it reloads what it shows.
"use strict";
(() => {
  const { t, api, el, table, say } = Ad;
  const page = document.body.dataset.page;
  const WIN_ZH = { open: ["服务中", "Open"], paused: ["暂停", "Paused"], closed: ["已关闭", "Closed"] };
  const KIND = { normal: ["普通", "Normal"], universal: ["综合", "Universal"], green: ["绿色通道", "Green channel"] };
  const ROLE = { admin: ["管理员", "Admin"], clerk: ["窗口工作人员", "Clerk"], technician: ["技术人员", "Technician"],
    kiosk: ["自助终端", "Kiosk"], display: ["显示屏", "Display"] };
  const tr = (pair) => (pair ? t(pair[0], pair[1]) : "");
  const yes = (b) => (b ? t("是", "yes") : t("否", "no"));

  // --- home ---------------------------------------------------------------------------------
  async function home() {
    const live = await api("GET", "/api/stats/live");
    const tiles = [[t("等候", "Waiting"), live.waiting_total], [t("最长等候（分）", "Longest wait (min)"), Ad.mins(live.longest_wait_s)],
      [t("开放窗口", "Windows open"), live.windows_open], [t("暂停窗口", "Paused"), live.windows_paused],
      [t("今日取号", "Issued today"), live.issued], [t("今日办结", "Served today"), live.served]];
    document.getElementById("home-tiles").replaceChildren(...tiles.map(([k, v]) => el("div", { class: "tile" },
      el("div", { class: "k" }, k), el("div", { class: "v" }, v))));
    table("home-waiting", [t("类别", "Category"), { t: t("等候", "Waiting"), n: 1 }, { t: t("最长等候（分）", "Longest (min)"), n: 1 }],
      live.waiting.map((w) => el("tr", {}, el("td", {}, `${w.prefix} ${t(w.name, w.name_en)}`), el("td", { class: "n" }, w.waiting),
        el("td", { class: "n" }, Ad.mins(w.longest_wait_s)))));
  }

  // --- catalogue ----------------------------------------------------------------------------
  let cat = null;
  let editingCat = null;
  let editingSvc = null;
  async function catalogPage() {
    cat = await api("GET", "/api/admin/catalog");
    const catName = Object.fromEntries(cat.categories.map((c) => [c.code, c.name]));
    table("cat-table", [t("代码", "Code"), t("名称", "Name"), t("前缀", "Prefix"), ""],
      cat.categories.map((c) => el("tr", { dataset: { code: c.code } }, el("td", {}, c.code), el("td", {}, t(c.name, c.name_en || c.name)),
        el("td", {}, c.prefix), el("td", {}, el("button", { type: "button", onclick: () => editCategory(c) }, t("编辑", "Edit"))))));
    table("svc-table", [t("代码", "Code"), t("名称", "Name"), t("类别", "Category"), t("前缀", "Prefix"), t("自助", "Self"),
      t("限取", "Limit"), t("目标（分）", "Target (min)"), t("启用", "Active"), ""],
    cat.services.map((s) => el("tr", { class: s.active ? "" : "off", dataset: { code: s.code } }, el("td", {}, s.code),
      el("td", {}, t(s.name, s.name_en || s.name)), el("td", {}, catName[s.category] || s.category), el("td", {}, s.prefix),
      el("td", {}, yes(s.self_service)), el("td", {}, s.daily_limit_per_id || "—"),
      el("td", {}, cat.wait_targets[s.code] || `${cat.wait_targets["*"] || 30}*`), el("td", {}, yes(s.active)),
      el("td", {}, el("button", { type: "button", onclick: () => editService(s) }, t("编辑", "Edit"))))));
    const sel = document.querySelector("#svc-form select[name=category]");
    sel.replaceChildren(...cat.categories.map((c) => el("option", { value: c.code }, `${c.prefix} ${c.name}`)));
  }
  function editCategory(c) {
    editingCat = c.code;
    const f = document.getElementById("cat-form");
    for (const k of ["code", "name", "name_en", "prefix"]) f.elements[k].value = c[k] || "";
    f.elements.code.readOnly = true;
    document.getElementById("cat-form-title").textContent = t(`编辑业务类别 ${c.code}`, `Edit category ${c.code}`);
  }
  function editService(s) {
    editingSvc = s.code;
    const f = document.getElementById("svc-form");
    for (const k of ["code", "name", "name_en", "category", "avg_minutes"]) f.elements[k].value = s[k] ?? "";
    f.elements.daily_limit_per_id.value = s.daily_limit_per_id ?? "";
    f.elements.self_service.checked = s.self_service;
    f.elements.active.checked = s.active;
    f.elements.target.value = cat.wait_targets[s.code] || "";
    f.elements.code.readOnly = true;
    document.getElementById("svc-form-title").textContent = t(`编辑事项 ${s.code}`, `Edit service ${s.code}`);
    f.scrollIntoView({ block: "nearest" });
  }
  function bindCatalog() {
    const cf = document.getElementById("cat-form");
    cf.addEventListener("reset", () => { editingCat = null; cf.elements.code.readOnly = false;
      document.getElementById("cat-form-title").textContent = t("新增业务类别", "Add a category"); });
    cf.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("cat-form");
      const ok = await Ad.act(() => editingCat ? api("PUT", `/api/admin/categories/${encodeURIComponent(editingCat)}`, d)
        : api("POST", "/api/admin/categories", d), t("已保存", "Saved"));
      if (ok) { cf.reset(); await catalogPage(); }
    });
    const sf = document.getElementById("svc-form");
    sf.addEventListener("reset", () => { editingSvc = null; sf.elements.code.readOnly = false;
      document.getElementById("svc-form-title").textContent = t("新增事项", "Add a service"); });
    sf.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("svc-form");
      const body = { code: d.code, name: d.name, name_en: d.name_en, category: d.category, self_service: d.self_service,
        active: d.active, avg_minutes: Number(d.avg_minutes || 8),
        daily_limit_per_id: d.daily_limit_per_id === "" ? null : Number(d.daily_limit_per_id) };
      const ok = await Ad.act(async () => {
        const r = editingSvc ? await api("PUT", `/api/admin/services/${encodeURIComponent(editingSvc)}`, body)
          : await api("POST", "/api/admin/services", body);
        const targets = { ...cat.wait_targets };
        const want = d.target === "" ? undefined : Number(d.target);
        if (targets[d.code] !== want) {
          if (want === undefined) delete targets[d.code]; else targets[d.code] = want;
          await api("PUT", "/api/settings/admin.wait_target_minutes", { value: targets });
        }
        return r;
      }, t("已保存", "Saved"));
      if (ok) { sf.reset(); await catalogPage(); }
    });
  }

  // --- windows ------------------------------------------------------------------------------
  let wins = null;
  let order = [];
  let editingWin = null;
  async function windowsPage() {
    wins = await api("GET", "/api/admin/catalog");
    const names = Object.fromEntries(wins.services.map((s) => [s.code, s.name]));
    table("win-table", [t("窗口", "Window"), t("类型", "Kind"), t("事项（优先顺序）", "Services (priority order)"), t("状态", "Status"), ""],
      wins.windows.map((w) => el("tr", { dataset: { window: w.number } },
        el("td", {}, el("strong", {}, w.number), " ", w.name), el("td", {}, tr(KIND[w.kind])),
        el("td", { class: "help" }, w.services.includes("*") ? t("全部事项", "all services") : w.services.map((c) => names[c] || c).join(" › ")),
        el("td", {}, el("span", { class: `pill ${w.status}` }, tr(WIN_ZH[w.status]) + (w.pause_reason ? `：${w.pause_reason}` : ""))),
        el("td", {}, el("button", { type: "button", class: "edit", onclick: () => editWindow(w) }, t("编辑", "Edit")), " ",
          w.status === "open" ? el("button", { type: "button", class: "pause", onclick: () => pauseWindow(w) }, t("暂停", "Pause")) : null,
          w.status !== "open" ? el("button", { type: "button", class: "open", onclick: () => setState(w, "open") }, t(w.status === "paused" ? "恢复" : "开启", w.status === "paused" ? "Resume" : "Open")) : null,
          " ", w.status !== "closed" ? el("button", { type: "button", class: "close", onclick: () => setState(w, "closed") }, t("关闭", "Close")) : null))));
    const add = document.getElementById("win-add-service");
    add.replaceChildren(el("option", { value: "*" }, t("* 全部事项", "* all services")),
      ...wins.services.filter((s) => s.active).map((s) => el("option", { value: s.code }, `${s.code} ${s.name}`)));
    renderOrder();
  }
  function renderOrder() {
    const names = Object.fromEntries(wins.services.map((s) => [s.code, s.name]));
    document.getElementById("win-services").replaceChildren(...order.map((code, i) => el("li", { dataset: { code } },
      el("span", {}, code === "*" ? t("全部事项", "all services") : `${code} ${names[code] || ""}`),
      el("button", { type: "button", class: "up", title: t("上移", "Up"), disabled: i === 0,
        onclick: () => { [order[i - 1], order[i]] = [order[i], order[i - 1]]; renderOrder(); } }, "↑"),
      el("button", { type: "button", class: "down", title: t("下移", "Down"), disabled: i === order.length - 1,
        onclick: () => { [order[i + 1], order[i]] = [order[i], order[i + 1]]; renderOrder(); } }, "↓"),
      el("button", { type: "button", class: "remove", title: t("移除", "Remove"), onclick: () => { order.splice(i, 1); renderOrder(); } }, "×"))));
  }
  function editWindow(w) {
    editingWin = w.number;
    const f = document.getElementById("win-form");
    f.elements.number.value = w.number; f.elements.number.readOnly = true;
    f.elements.name.value = w.name; f.elements.kind.value = w.kind;
    order = [...w.services];
    document.getElementById("win-title").textContent = t(`编辑 ${w.number} 号窗口`, `Edit window ${w.number}`);
    renderOrder();
  }
  async function setState(w, status, reason) {
    const ok = await Ad.act(() => api("POST", `/api/admin/windows/${w.number}/state`, { status, reason }),
      t(`${w.number} 号窗口：${tr(WIN_ZH[status])}`, `Window ${w.number}: ${status}`));
    if (ok) await windowsPage();
  }
  function pauseWindow(w) {
    const reason = prompt(t("暂停原因（显示在窗口屏上）", "Pause reason (shown on the window screen)"), t("临时离开，请稍候", "Back soon"));
    if (reason) setState(w, "paused", reason);
  }
  function bindWindows() {
    const f = document.getElementById("win-form");
    document.getElementById("win-add").addEventListener("click", () => {
      const code = document.getElementById("win-add-service").value;
      if (code === "*") order = ["*"]; else if (!order.includes(code)) order = order.filter((c) => c !== "*").concat(code);
      renderOrder();
    });
    f.addEventListener("reset", () => { editingWin = null; order = []; f.elements.number.readOnly = false;
      document.getElementById("win-title").textContent = t("新增窗口", "Add a window"); setTimeout(renderOrder); });
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("win-form");
      const body = { number: Number(d.number), name: d.name, kind: d.kind, services: order };
      const ok = await Ad.act(() => editingWin ? api("PUT", `/api/admin/windows/${editingWin}`, body)
        : api("POST", "/api/admin/windows", body), t("已保存", "Saved"));
      if (ok) { f.reset(); await windowsPage(); }
    });
  }

  // --- staff --------------------------------------------------------------------------------
  function secret(title, value) {
    document.getElementById("secret-title").textContent = title;
    document.getElementById("secret-value").textContent = value;
    document.getElementById("secret-box").hidden = false;
    document.getElementById("secret-box").scrollIntoView({ block: "nearest" });
  }
  async function staffPage() {
    const [u, tk] = await Promise.all([api("GET", "/api/admin/users"), api("GET", "/api/admin/tokens")]);
    table("user-table", [t("用户名", "Username"), t("姓名", "Name"), t("工号", "Staff no."), t("角色", "Role"), t("状态", "State"), ""],
      u.users.map((x) => el("tr", { class: x.active ? "" : "off", dataset: { user: x.username } }, el("td", {}, x.username),
        el("td", {}, x.display_name), el("td", {}, x.staff_no || "—"), el("td", {}, tr(ROLE[x.role])),
        el("td", {}, x.active ? (x.one_time_password ? t("待改密码", "one-time password") : t("启用", "active")) : t("停用", "inactive"),
          x.login_blocked_until ? el("span", { class: "locked" }, " · ", x.login_locked ? t("登录已锁定", "login locked") : t("登录受限", "login throttled")) : null),
        el("td", {}, el("button", { type: "button", class: "reset", onclick: () => resetPw(x) }, t("重置密码", "Reset password")), " ",
          x.login_blocked_until ? el("button", { type: "button", class: "unlock", onclick: () => unlockUser(x) }, t("解锁登录", "Unlock login")) : null, x.login_blocked_until ? " " : null,
          el("button", { type: "button", class: "toggle", onclick: () => toggleUser(x) }, x.active ? t("停用", "Deactivate") : t("启用", "Activate"))))));
    table("token-table", [t("名称", "Name"), t("角色", "Role"), t("创建", "Created"), t("状态", "State"), ""],
      tk.tokens.map((x) => el("tr", { class: x.state === "active" ? "" : "off", dataset: { token: x.id } }, el("td", {}, x.name),
        el("td", {}, tr(ROLE[x.role]), x.window ? ` · ${x.window} ${t("号窗口", "window")}` : null), el("td", {}, Ad.when(x.created_at)),
        el("td", {}, { active: t("有效", "active"), revoked: t("已注销", "revoked"), expired: t("已过期", "expired") }[x.state]),
        el("td", {}, x.state === "active" ? el("button", { type: "button", class: "revoke", onclick: () => revoke(x) }, t("注销", "Revoke")) : null))));
  }
  async function resetPw(x) {
    if (!confirm(t(`为 ${x.username} 重置密码？其登录将失效。`, `Reset ${x.username}'s password? Their sessions end.`))) return;
    const r = await Ad.act(() => api("POST", `/api/admin/users/${x.id}/reset-password`));
    if (r) { secret(t(`${x.username} 的一次性密码`, `One-time password of ${x.username}`), r.password); await staffPage(); }
  }
  async function unlockUser(x) {
    const r = await Ad.act(() => api("POST", `/api/admin/users/${x.id}/unlock`), t("已解锁", "Unlocked"));
    if (r) await staffPage();
  }
  async function toggleUser(x) {
    const r = await Ad.act(() => api("PUT", `/api/admin/users/${x.id}`, { active: !x.active }), t("已保存", "Saved"));
    if (r) await staffPage();
  }
  async function revoke(x) {
    if (!confirm(t(`注销设备令牌 ${x.name}？`, `Revoke token ${x.name}?`))) return;
    const r = await Ad.act(() => api("POST", `/api/admin/tokens/${x.id}/revoke`), t("已注销", "Revoked"));
    if (r) await staffPage();
  }
  function bindStaff() {
    document.getElementById("secret-done").addEventListener("click", () => {
      document.getElementById("secret-box").hidden = true;
      document.getElementById("secret-value").textContent = "";
    });
    document.getElementById("user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("user-form");
      const r = await Ad.act(() => api("POST", "/api/admin/users", d));
      if (r) { ev.target.reset(); secret(t(`${r.user.username} 的一次性密码`, `One-time password of ${r.user.username}`), r.password); await staffPage(); }
    });
    document.getElementById("token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("token-form");
      if (d.window) d.window = Number(d.window); else delete d.window;
      const r = await Ad.act(() => api("POST", "/api/admin/tokens", d));
      if (r) { ev.target.reset(); secret(t(`设备令牌 ${r.name}`, `Device token ${r.name}`), r.token); await staffPage(); }
    });
  }

  // --- hours --------------------------------------------------------------------------------
  const DAYS = [["mon", "周一", "Mon"], ["tue", "周二", "Tue"], ["wed", "周三", "Wed"], ["thu", "周四", "Thu"],
    ["fri", "周五", "Fri"], ["sat", "周六", "Sat"], ["sun", "周日", "Sun"]];
  let hrs = null;
  async function hoursPage() {
    hrs = await api("GET", "/api/hours");
    const now = document.getElementById("hours-now");
    now.className = "card status-line " + (hrs.open_now ? "open" : "closed");
    const nxt = hrs.next_opening ? hrs.next_opening.text : t("另行通知", "to be announced");
    now.textContent = hrs.open_now ? t("现在正在办理业务", "Open now")
      : (hrs.closed_reason ? t(`今天闭厅：${hrs.closed_reason}。下次开放：${nxt}`, `Closed today: ${hrs.closed_reason}. Next opening: ${nxt}`)
        : t(`现在不在办理时间。下次开放：${nxt}`, `Closed now. Next opening: ${nxt}`)) + (hrs.enforced ? "" : t("（未启用取号时间限制）", " (not enforced)"));
    const wf = document.getElementById("week-form");
    wf.replaceChildren(...DAYS.flatMap(([k, zh, en]) => [el("label", { for: `wk-${k}` }, t(zh, en)),
      el("input", { id: `wk-${k}`, name: k, value: (hrs.opening_hours[k] || []).join(", ") })]),
    el("span"), el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, t("保存每周时间", "Save weekly hours"))));
    table("closed-table", [t("日期", "Date"), t("原因", "Reason"), ""], Object.entries(hrs.closed_days).map(([d, r]) =>
      el("tr", {}, el("td", {}, d), el("td", {}, r), el("td", {}, el("button", { type: "button", onclick: () => drop("closed_days", d) }, t("取消", "Remove"))))));
    table("extended-table", [t("日期", "Date"), t("时间", "Hours"), ""], Object.entries(hrs.extended_days).map(([d, s]) =>
      el("tr", {}, el("td", {}, d), el("td", {}, s.join(", ")), el("td", {}, el("button", { type: "button", onclick: () => drop("extended_days", d) }, t("取消", "Remove"))))));
    table("days-table", [t("日期", "Date"), t("时间", "Hours"), t("说明", "Note")], hrs.days.map((d) => el("tr", {},
      el("td", {}, `${d.day} ${t(...DAYS.find((x) => x[0] === d.weekday).slice(1))}`),
      el("td", {}, d.spans.length ? d.spans.join(", ") : t("不办理", "closed")),
      el("td", {}, d.note === "closed" ? t(`闭厅：${d.reason}`, `closed: ${d.reason}`) : d.note === "extended" ? t("延时服务", "extended") : ""))));
    const st = await api("GET", "/api/state");
    document.getElementById("notice-text").value = st.hall.notice || "";
  }
  async function putHours(body) {
    const r = await Ad.act(() => api("PUT", "/api/admin/hours", body), t("已保存", "Saved"));
    if (r) await hoursPage();
    return r;
  }
  function drop(which, day) {
    const copy = { ...hrs[which] };
    delete copy[day];
    putHours({ [which]: copy });
  }
  const spans = (text) => text.split(/[,，、\s]+/).map((x) => x.trim()).filter(Boolean);
  function bindHours() {
    document.getElementById("week-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const week = {};
      for (const [k] of DAYS) week[k] = spans(document.getElementById(`wk-${k}`).value);
      putHours({ opening_hours: week });
    });
    document.getElementById("closed-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("closed-form");
      const extended = { ...hrs.extended_days };
      delete extended[d.day];
      if (await putHours({ closed_days: { ...hrs.closed_days, [d.day]: d.reason }, extended_days: extended })) ev.target.reset();
    });
    document.getElementById("extended-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("extended-form");
      const closed = { ...hrs.closed_days };
      delete closed[d.day];
      if (await putHours({ extended_days: { ...hrs.extended_days, [d.day]: spans(d.spans) }, closed_days: closed })) ev.target.reset();
    });
    document.getElementById("notice-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await Ad.act(() => api("PUT", "/api/notice", { notice: document.getElementById("notice-text").value }), t("公告已发布", "Notice published"));
    });
  }

  // --- appointments -------------------------------------------------------------------------
  const APPT = { booked: ["已预约", "booked"], checked_in: ["已签到", "checked in"], cancelled: ["已取消", "cancelled"], expired: ["已过期", "expired"] };
  async function appointmentsPage() {
    const dayInput = document.getElementById("appt-day");
    if (!dayInput.value) dayInput.value = Ad.today();
    const [list, c] = await Promise.all([api("GET", `/api/admin/appointments?day=${dayInput.value}`), api("GET", "/api/services")]);
    table("appt-table", [t("预约码", "Code"), t("时段", "Slot"), t("事项", "Service"), t("姓名", "Name"), t("身份证", "ID"), t("状态", "Status"), ""],
      list.appointments.map((a) => el("tr", { dataset: { code: a.code } }, el("td", {}, a.code), el("td", {}, `${a.slot_start}–${a.slot_end}`),
        el("td", {}, a.service_name), el("td", {}, a.name_masked || "—"), el("td", {}, a.id_masked || "—"),
        el("td", {}, tr(APPT[a.status]) + (a.ticket_number ? ` ${a.ticket_number}` : "")),
        el("td", {}, a.status === "booked" ? el("button", { type: "button", class: "cancel", onclick: () => cancelAppt(a) }, t("取消预约", "Cancel")) : null))));
    const sel = document.querySelector("#appt-form select[name=service]");
    if (!sel.options.length) sel.replaceChildren(...(c.services || c).map((s) => el("option", { value: s.code }, `${s.code} ${s.name}`)));
    const f = document.getElementById("appt-form");
    if (!f.elements.day.value) await suggestSlot(f);
  }
  // A booking is for a day to come: the form starts on the next opening day after today, at
  // its first opening time (a slot in the past or on a closed day is refused: bad_slot).
  async function suggestSlot(f) {
    const h = await api("GET", "/api/hours");
    const day = (h.days || []).slice(1).find((d) => d.note !== "closed" && d.spans.length);
    if (!day) { f.elements.day.value = Ad.today(); return; }
    const start = day.spans[0].slice(0, 5);
    const [hh, mm] = start.split(":").map(Number);
    const end = hh * 60 + mm + 30;
    f.elements.day.value = day.day;
    f.elements.slot_start.value = start;
    f.elements.slot_end.value = `${String(Math.floor(end / 60)).padStart(2, "0")}:${String(end % 60).padStart(2, "0")}`;
  }
  async function cancelAppt(a) {
    if (!confirm(t(`取消预约 ${a.code}？`, `Cancel ${a.code}?`))) return;
    if (await Ad.act(() => api("POST", `/api/admin/appointments/${a.code}/cancel`), t("已取消", "Cancelled"))) await appointmentsPage();
  }
  function bindAppointments() {
    document.getElementById("appt-day").addEventListener("change", () => appointmentsPage().catch(Ad.fail));
    document.getElementById("appt-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const d = Ad.form("appt-form");
      if (!d.id_number) delete d.id_number;
      if (!d.name) delete d.name;
      const r = await Ad.act(() => api("POST", "/api/admin/appointments", d));
      if (r) {
        say(t(`已预约，预约码 ${r.code}`, `Booked: code ${r.code}`), true);
        ev.target.elements.name.value = ""; ev.target.elements.id_number.value = "";
        document.getElementById("appt-day").value = d.day;  // show the day just booked
        await appointmentsPage();
      }
    });
  }

  // --- settings -----------------------------------------------------------------------------
  async function settingsPage() {
    const list = await api("GET", "/api/settings");
    table("settings-table", [t("设置项", "Setting"), t("值", "Value"), t("说明", "Help"), ""], list.map((s) => {
      const box = el("textarea", { rows: 1 });
      box.value = JSON.stringify(s.value);
      const save = el("button", { type: "button", onclick: async () => {
        let value;
        try { value = JSON.parse(box.value); } catch (e) { value = box.value; }
        if (await Ad.act(() => api("PUT", `/api/settings/${encodeURIComponent(s.name)}`, { value }), t(`${s.name} 已保存`, `${s.name} saved`))) await settingsPage();
      } }, t("保存", "Save"));
      return el("tr", { dataset: { setting: s.name } }, el("td", {}, s.name), el("td", {}, box), el("td", { class: "help" }, s.help), el("td", {}, save));
    }));
  }

  // --- audit --------------------------------------------------------------------------------
  const KINDS = { "setting.changed": ["设置", "setting"], "service.changed": ["事项", "service"], "category.changed": ["业务类别", "category"],
    "window.changed": ["窗口", "window"], "user.changed": ["账号", "account"], "user.created": ["新账号", "new account"],
    "user.password_reset": ["重置密码", "password reset"], "token.created": ["新令牌", "new token"], "token.revoked": ["注销令牌", "token revoked"],
    "hall.imported": ["导入", "import"], "appointment.changed": ["预约", "appointment"] };
  let auditRows = [];
  function brief(v) {
    if (v == null) return "—";
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return s.length > 160 ? s.slice(0, 157) + "…" : s;
  }
  /** Before/after cells; for two objects only the keys that changed. */
  function diffCells(before, after) {
    const isObj = (v) => v && typeof v === "object" && !Array.isArray(v);
    if (isObj(before) && isObj(after)) {
      const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
      const show = (o) => keys.map((k) => `${k}: ${brief(o[k])}`).join("\n") || "—";
      return [el("td", { class: "help diff" }, show(before)), el("td", { class: "help diff" }, show(after))];
    }
    return [el("td", { class: "help diff" }, brief(before)), el("td", { class: "help diff" }, brief(after))];
  }
  function subject(r) {
    const d = r.data;
    return d.setting || d.service || d.category || (d.window != null ? `${d.window} 号窗口` : "") || (d.user_id != null ? `user ${d.user_id}` : "")
      || d.token_name || d.code || "";
  }
  async function auditPage(more) {
    const before = more && auditRows.length ? `&before=${auditRows[auditRows.length - 1].id}` : "";
    const r = await api("GET", `/api/admin/audit?limit=50${before}`);
    auditRows = more ? auditRows.concat(r.records) : r.records;
    table("audit-table", ["#", t("时间", "Time"), t("类型", "Kind"), t("对象", "Item"), t("修改前", "Before"), t("修改后", "After"), t("操作人", "By"), ""],
      auditRows.map((x) => el("tr", { dataset: { record: x.id, kind: x.kind } }, el("td", {}, x.id), el("td", {}, Ad.when(x.ts)),
        el("td", {}, tr(KINDS[x.kind]) || x.kind), el("td", {}, subject(x)),
        ...diffCells(x.data.before, x.data.after),
        el("td", {}, x.actor + (x.data.undo_of ? t(`（撤销 #${x.data.undo_of}）`, ` (undo #${x.data.undo_of})`) : "")),
        el("td", {}, x.can_undo ? el("button", { type: "button", class: "undo", onclick: () => undo(x) }, t("撤销", "Undo")) : null))));
  }
  async function undo(x) {
    if (!confirm(t(`撤销第 ${x.id} 条变更（${subject(x)}）？`, `Undo change #${x.id} (${subject(x)})?`))) return;
    if (await Ad.act(() => api("POST", `/api/admin/audit/${x.id}/undo`), t(`已撤销第 ${x.id} 条`, `Undid #${x.id}`))) await auditPage(false);
  }

  // --- import -------------------------------------------------------------------------------
  let importData = null;
  const STATUS = { new: ["新增", "new"], changed: ["修改", "changed"], same: ["不变", "same"], kept: ["保留（文件中没有）", "kept (not in file)"] };
  function bindImport() {
    document.getElementById("import-preview").addEventListener("click", async () => {
      const file = document.getElementById("import-file").files[0];
      if (!file) { say(t("请先选择文件", "Choose a file first")); return; }
      try { importData = JSON.parse(await file.text()); } catch (e) { say(t("文件不是有效的 JSON", "Not valid JSON")); return; }
      const diff = await Ad.act(() => api("POST", "/api/admin/hall/preview", importData));
      const box = document.getElementById("import-diff");
      document.getElementById("import-apply").disabled = !diff || !diff.changes;
      if (!diff) { box.replaceChildren(); return; }
      const parts = [el("p", {}, t(`共 ${diff.changes} 处改动`, `${diff.changes} change(s)`))];
      for (const [kind, zh] of [["categories", "业务类别"], ["services", "事项"], ["windows", "窗口"]]) {
        const items = diff[kind].filter((i) => i.status !== "same");
        parts.push(el("h3", {}, `${t(zh, kind)}：${diff[kind].filter((i) => i.status === "same").length} ${t("项不变", "unchanged")}`));
        parts.push(el("ul", {}, items.map((i) => el("li", { class: `diff-${i.status}` }, `${tr(STATUS[i.status])} ${i.key}`,
          i.changes ? " — " + Object.entries(i.changes).map(([f, [a, b]]) => `${f}: ${brief(a)} → ${brief(b)}`).join("；") : ""))));
      }
      box.replaceChildren(...parts);
    });
    document.getElementById("import-apply").addEventListener("click", async () => {
      if (!importData) return;
      const r = await Ad.act(() => api("POST", "/api/admin/hall/import", importData));
      if (r) { say(t(`已导入：${r.changes} 处改动`, `Imported: ${r.changes} change(s)`), true); document.getElementById("import-apply").disabled = true; }
    });
  }

  const PAGES = {
    home: [home, null], catalog: [catalogPage, bindCatalog], windows: [windowsPage, bindWindows],
    staff: [staffPage, bindStaff], hours: [hoursPage, bindHours], appointments: [appointmentsPage, bindAppointments],
    settings: [settingsPage, null], audit: [() => auditPage(false), () => document.getElementById("audit-more")
      .addEventListener("click", () => auditPage(true).catch(Ad.fail))], import: [async () => {}, bindImport],
  };
  const [load, bind] = PAGES[page] || [async () => {}, null];
  if (bind) bind();
  Ad.onLang(() => load().catch(Ad.fail));
  Ad.boot(load);
})();
