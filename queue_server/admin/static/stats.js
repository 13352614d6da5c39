// Statistics page: live figures (event stream), a range grouped as asked with charts
// (vendored Chart.js), numbers that open to their tickets, CSV/XLSX exports, daily reports.
"use strict";
(() => {
  const { t, api, el, table } = Ad;
  let stream = null;
  let liveTimer = null;
  let current = null;   // the last /api/stats/queue answer
  let drill = null;     // the export URL of the drill-down table (without &format=)
  const charts = {};

  const COLS = [
    ["issued", "取号", "Issued", "int"], ["called", "叫号", "Called", "int"], ["served", "办结", "Served", "int"],
    ["no_show", "过号", "No-show", "int"], ["transferred", "转窗", "Transferred", "int"], ["cancelled", "取消", "Cancelled", "int"],
    ["wait_median_s", "等候中位（分）", "Wait median (min)", "min", "wait"], ["wait_p90_s", "等候P90（分）", "Wait p90 (min)", "min", "wait"],
    ["walk_median_s", "到窗中位（分）", "Walk median (min)", "min", "walk"], ["service_median_s", "办理中位（分）", "Service median (min)", "min", "service"],
    ["service_p90_s", "办理P90（分）", "Service p90 (min)", "min", "service"], ["served_within_target", "按时率", "Within target", "pct", "within_target"],
    ["open_s", "开窗（分）", "Open (min)", "min"], ["idle_s", "空闲（分）", "Idle (min)", "min"],
  ];

  // --- live ---------------------------------------------------------------------------------
  async function live() {
    const L = await api("GET", "/api/stats/live");
    const tiles = [[t("等候人数", "Waiting"), L.waiting_total, L.waiting_total > 30],
      [t("最长等候（分）", "Longest wait (min)"), Ad.mins(L.longest_wait_s), (L.longest_wait_s || 0) > 1800],
      [t("开放窗口", "Open windows"), L.windows_open], [t("暂停窗口", "Paused windows"), L.windows_paused, L.windows_paused > 0],
      [t("今日取号", "Issued today"), L.issued], [t("今日办结", "Served today"), L.served], [t("今日过号", "No-show today"), L.no_show]];
    document.getElementById("live-tiles").replaceChildren(...tiles.map(([k, v, warn]) => el("div", { class: "tile" + (warn ? " warn" : "") },
      el("div", { class: "k" }, k), el("div", { class: "v" }, v))));
    table("live-waiting", [t("类别", "Category"), { t: t("等候", "Waiting"), n: 1 }, { t: t("最长等候（分）", "Longest (min)"), n: 1 }],
      L.waiting.filter((w) => w.waiting).map((w) => el("tr", {}, el("td", {}, `${w.prefix} ${t(w.name, w.name_en)}`),
        el("td", { class: "n" }, w.waiting), el("td", { class: "n" }, Ad.mins(w.longest_wait_s)))));
    document.getElementById("live-dot").dataset.updated = String(L.now);
  }
  function liveSoon() { clearTimeout(liveTimer); liveTimer = setTimeout(() => live().catch(() => {}), 300); }
  let linkUp = null;
  function dot() {
    const d = document.getElementById("live-dot");
    if (linkUp === null) return;
    d.textContent = linkUp ? t("已连接", "live") : t("重连中", "reconnecting");
    d.className = "pill " + (linkUp ? "open" : "paused");
  }
  function startStream() {
    if (stream) return;
    stream = Yc.stream({
      snapshot: liveSoon, state: liveSoon, event: liveSoon,
      status: (up) => { linkUp = up; dot(); },
    }, { bearer: sessionStorage.getItem("yc.admin.token") });
  }

  // --- range --------------------------------------------------------------------------------
  function query() {
    const d = Ad.form("stats-form");
    return `from=${d.from}&to=${d.to}&group=${d.group}`;
  }
  function fmt(v, kind) { return kind === "min" ? Ad.mins(v) : kind === "pct" ? Ad.pct(v) : v == null ? "—" : String(v); }
  function label(r) { return Ad.lang === "en" ? (r.label_en || r.label) : r.label; }

  async function load() {
    const mine = Yc.newest("figures");
    const got = await api("GET", `/api/stats/queue?${query()}`);
    if (!mine()) return;
    current = got;
    const cols = COLS.filter((c) => !["open_s", "idle_s"].includes(c[0]) || ["window", "clerk"].includes(current.group));
    const rows = [...current.rows, current.total];
    table("stats-table", [t("分组", "Group"), ...cols.map((c) => ({ t: t(c[1], c[2]), n: 1 }))], rows.map((r) =>
      el("tr", { class: r.group === "total" ? "total" : "", dataset: { group: r.group == null ? "null" : r.group } },
        el("td", {}, label(r)), cols.map((c) => {
          const v = r[c[0]];
          const figure = c[4] || (c[3] === "int" ? c[0] : null);
          const open = figure && v != null && v !== 0;
          return el("td", { class: "n" }, open ? el("a", { class: "num", dataset: { figure }, onclick: () => openDrill(r, figure, c) }, fmt(v, c[3])) : fmt(v, c[3]));
        }))));
    draw();
    providers().catch(() => {});
  }

  function draw() {
    if (!window.Chart || !current) return;
    const rows = current.rows;
    const labels = rows.map(label);
    const mk = (id, config) => {
      if (charts[id]) charts[id].destroy();
      charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" }, title: { display: true, text: config.title } }, scales: { y: { beginAtZero: true } } } });
    };
    mk("chart-load", { type: "bar", title: t("取号与办结", "Issued and served"), data: { labels, datasets: [
      { label: t("取号", "Issued"), data: rows.map((r) => r.issued), backgroundColor: "#1455c0" },
      { label: t("办结", "Served"), data: rows.map((r) => r.served), backgroundColor: "#1d7a45" }] } });
    const m = (s) => (s == null ? null : Math.round(s / 6) / 10);
    mk("chart-wait", { type: current.group === "hour" || current.group === "day" ? "line" : "bar", title: t("等候时长（分钟）", "Wait (minutes)"),
      data: { labels, datasets: [
        { label: t("中位数", "Median"), data: rows.map((r) => m(r.wait_median_s)), borderColor: "#1455c0", backgroundColor: "#8fb0e8" },
        { label: "P90", data: rows.map((r) => m(r.wait_p90_s)), borderColor: "#b3261e", backgroundColor: "#eea49f" }] } });
    document.body.dataset.charts = String(Object.keys(charts).length);
  }

  async function providers() {
    const box = document.getElementById("providers");
    const d = Ad.form("stats-form");
    const mine = Yc.newest("providers");
    const r = await api("GET", `/api/stats/providers?from=${d.from}&to=${d.to}`);
    if (!mine()) return;
    box.replaceChildren(...r.providers.map((p) => {
      const card = el("div", { class: "card provider", dataset: { provider: p.name } }, el("h3", {}, t(p.title, p.title_en)));
      if (p.error) { card.append(el("p", { class: "muted" }, p.error)); return card; }
      card.append(el("div", { class: "tiles" }, (p.figures || []).map((f) => {
        const shown = f.text != null ? f.text : (f.value == null ? "—" : String(f.value));
        const v = p.drill && f.drill
          ? el("a", { class: "num", dataset: { figure: f.drill }, onclick: () => openBehind(p, f).catch(Ad.fail) }, shown) : shown;
        return el("div", { class: "tile", title: f.note || f.formula || "", dataset: { key: f.key } },
          el("div", { class: "k" }, t(f.label, f.label_en)), el("div", { class: "v" }, v));
      })));
      if (p.chart) {
        const id = `chart-p-${p.name}`;
        card.append(el("div", { class: "charts" }, el("div", { class: "chart-box" }, el("canvas", { id }))));
        setTimeout(() => drawProvider(id, p), 0);
      }
      if ((p.columns || []).length && (p.rows || []).length) {
        const tid = `provider-table-${p.name}`;
        card.append(el("div", { class: "scroll" }, el("table", { class: "tbl", id: tid })));
        setTimeout(() => table(tid, p.columns.map((c) => (["int", "share"].includes(c[3]) ? { t: t(c[1], c[2]), n: 1 } : t(c[1], c[2]))),
          p.rows.map((x) => el("tr", {}, p.columns.map((c) =>
            el("td", ["int", "share"].includes(c[3]) ? { class: "n" } : {}, cellOf(x[c[0]], c[3])))))), 0);
      }
      const base = `/api/stats/providers/${p.name}/export?from=${d.from}&to=${d.to}`;
      card.append(el("div", { class: "row" },
        el("button", { type: "button", class: "provider-csv", onclick: () => Ad.download(`${base}&format=csv`).catch(Ad.fail) }, t("导出 CSV", "CSV")),
        el("button", { type: "button", class: "provider-xlsx", onclick: () => Ad.download(`${base}&format=xlsx`).catch(Ad.fail) }, t("导出 Excel", "XLSX"))));
      return card;
    }));
  }

  function drawProvider(id, p) {
    if (!window.Chart) return;
    const c = p.chart;
    if (charts[id]) charts[id].destroy();
    const labels = Ad.lang === "en" && c.labels_en ? c.labels_en : c.labels;
    charts[id] = new Chart(document.getElementById(id), { type: c.type || "bar",
      data: { labels, datasets: c.datasets.map((s) => ({ label: t(s.label, s.label_en), data: s.data, backgroundColor: s.color || "#1455c0" })) },
      options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" }, title: { display: true, text: t(c.title, c.title_en) } },
        onClick: (_ev, els) => {
          const drills = c.datasets[els[0]?.datasetIndex ?? 0]?.drill;
          if (els.length && drills) openBehind(p, { drill: drills[els[0].index], label: labels[els[0].index], label_en: labels[els[0].index] }).catch(Ad.fail);
        } } });
    document.body.dataset.charts = String(Object.keys(charts).length);
  }

  // the cases / evaluations behind a provider's figure (numbers, codes and times only)
  function cellOf(v, kind) {
    if (v == null || v === "") return "—";
    if (kind === "time") return Ad.time(v);
    if (kind === "share") return Ad.pct(v);
    return String(v);
  }
  async function openBehind(p, f) {
    const d = Ad.form("stats-form");
    drill = null;
    const q = `from=${d.from}&to=${d.to}&figure=${encodeURIComponent(f.drill)}`;
    const r = await api("GET", `/api/stats/providers/${p.name}/behind?${q}`);
    drill = `/api/stats/providers/${p.name}/behind/export?${q}`;
    document.getElementById("drill").hidden = false;
    document.getElementById("drill-title").textContent = t(`${p.title} · ${f.label}：${r.count} 条`, `${p.title_en} · ${f.label_en || f.label}: ${r.count}`);
    table("drill-table", r.columns.map((c) => (["int", "share"].includes(c[3]) ? { t: t(c[1], c[2]), n: 1 } : t(c[1], c[2]))),
      r.rows.map((x) => el("tr", { dataset: { id: String(x.case || x.id) } }, r.columns.map((c) =>
        el("td", ["int", "share"].includes(c[3]) ? { class: "n" } : {}, cellOf(x[c[0]], c[3]))))));
    document.getElementById("drill").scrollIntoView({ block: "start" });
  }

  // --- drill-down ---------------------------------------------------------------------------
  const STATUS = { waiting: "等候", called: "已叫号", serving: "办理中", done: "办结", no_show: "过号", cancelled: "取消", expired: "失效" };
  let lastDrill = null;
  async function openDrill(row, figure, col) {
    lastDrill = [row, figure, col];
    const key = row.group == null ? "null" : row.group;
    const q = `${query()}&key=${encodeURIComponent(key)}&figure=${figure}`;
    drill = `/api/stats/queue/tickets/export?${q}`;
    const r = await api("GET", `/api/stats/queue/tickets?${q}`);
    document.getElementById("drill").hidden = false;
    document.getElementById("drill-title").textContent = t(`${label(row)} · ${col[1]}：${r.count} 个号码`, `${label(row)} · ${col[2]}: ${r.count} tickets`);
    table("drill-table", [t("日期", "Day"), t("号码", "Number"), t("事项", "Service"), t("窗口", "Window"), t("状态", "Status"),
      t("取号", "Issued"), t("首次叫号", "First call"), t("开始", "Start"), t("办结", "Finish"),
      { t: t("等候（分）", "Wait (min)"), n: 1 }, { t: t("到窗（分）", "Walk (min)"), n: 1 }, { t: t("办理（分）", "Service (min)"), n: 1 }],
    r.tickets.map((x) => el("tr", { dataset: { number: x.number } }, el("td", {}, x.day), el("td", {}, el("strong", {}, x.number)),
      el("td", {}, x.service_name), el("td", {}, x.window ?? "—"), el("td", {}, t(STATUS[x.status] || x.status, x.status)),
      el("td", {}, Ad.time(x.issued_at)), el("td", {}, Ad.time(x.first_called_at)), el("td", {}, Ad.time(x.started_at)),
      el("td", {}, Ad.time(x.finished_at)), el("td", { class: "n" }, Ad.mins(x.wait_s)), el("td", { class: "n" }, Ad.mins(x.walk_s)),
      el("td", { class: "n" }, Ad.mins(x.service_s)))));
    document.getElementById("drill").scrollIntoView({ block: "start" });
  }

  // --- reports ------------------------------------------------------------------------------
  async function reports() {
    const r = await api("GET", "/api/admin/reports");
    document.getElementById("report-info").textContent = r.report_time
      ? t(`每天 ${r.report_time} 自动生成，保存在 ${r.folder}`, `Written daily at ${r.report_time} into ${r.folder}`)
      : t("未设置自动生成时间（admin.report_time）", "No daily time set (admin.report_time)");
    table("report-table", [t("日期", "Day"), t("文件", "Files"), t("生成时间", "Written")], r.reports.map((x) => el("tr", { dataset: { day: x.day } },
      el("td", {}, x.day), el("td", {}, Object.entries(x.files).map(([k, name]) => el("a", { class: "num", href: "#", onclick: (ev) => {
        ev.preventDefault(); Ad.download(`/api/admin/reports/${name}`).catch(Ad.fail); } }, k.toUpperCase()))
        .flatMap((a, i) => (i ? [" · ", a] : [a]))), el("td", {}, Ad.when(x.written_at)))));
  }

  // --- wiring -------------------------------------------------------------------------------
  function bind() {
    const f = document.getElementById("stats-form");
    const today = Ad.today();
    const monthAgo = new Date(Date.parse(`${today}T12:00:00Z`) - 6 * 86400000);
    f.elements.from.value = monthAgo.toISOString().slice(0, 10);
    f.elements.to.value = today;
    document.getElementById("report-day").value = today;
    f.addEventListener("submit", (ev) => { ev.preventDefault(); load().catch(Ad.fail); });
    document.getElementById("export-csv").addEventListener("click", () => Ad.download(`/api/stats/queue/export?${query()}&format=csv`).catch(Ad.fail));
    document.getElementById("export-xlsx").addEventListener("click", () => Ad.download(`/api/stats/queue/export?${query()}&format=xlsx`).catch(Ad.fail));
    document.getElementById("drill-csv").addEventListener("click", () => drill && Ad.download(`${drill}&format=csv`).catch(Ad.fail));
    document.getElementById("drill-xlsx").addEventListener("click", () => drill && Ad.download(`${drill}&format=xlsx`).catch(Ad.fail));
    document.getElementById("drill-close").addEventListener("click", () => { document.getElementById("drill").hidden = true; });
    document.getElementById("report-make").addEventListener("click", async () => {
      const r = await Ad.act(() => api("POST", "/api/admin/reports", { day: document.getElementById("report-day").value }), t("日报已生成", "Report written"));
      if (r) await reports();
    });
  }
  bind();
  Ad.onLang(() => {
    dot();
    live().catch(() => {});
    if (current) load().catch(Ad.fail);
    reports().catch(() => {});
    if (lastDrill && !document.getElementById("drill").hidden) openDrill(...lastDrill).catch(Ad.fail);
  });
  Ad.boot(async () => {
    await Promise.all([live(), load(), reports()]);
    startStream();
  });
})();
