// Rating pad (评价器) at one window: dark until the clerk finishes a ticket here
// (ticket.finished on the event stream), then five equal levels; reasons only after a
// 差评; thanks; dark again after the timeout without a rating (未评价, never a default).
"use strict";
(() => {
  const body = document.body;
  const windowNo = Number(body.dataset.window);
  const timeoutMs = Number(body.dataset.timeout || 60) * 1000;
  const THANKS_MS = 5000;
  let current = null;      // {ticket, number, service_name, service_name_en}
  let level = null;
  let chosen = new Set();
  let reasons = [];
  let darkTimer = null;
  let deadline = 0;
  let tick = null;

  const $ = (id) => document.getElementById(id);
  const lang = () => body.dataset.lang;

  function show(state) {
    body.dataset.state = state;
    for (const id of ["dark", "levels", "reasons", "thanks"]) $(id).hidden = id !== state;
  }

  function goDark() {
    clearTimeout(darkTimer);
    clearInterval(tick);
    current = null; level = null; chosen = new Set();
    body.dataset.lang = "zh";
    $("lang").textContent = "English";
    show("dark");
  }

  // Every touch gives the citizen the full time again; no touch for the timeout: dark.
  function armTimeout() {
    clearTimeout(darkTimer);
    deadline = Date.now() + timeoutMs;
    darkTimer = setTimeout(goDark, timeoutMs);
    renderCountdown();
  }
  function renderCountdown() {
    const s = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    Yc.text("countdown", lang() === "en" ? `closes in ${s} s` : `${s} 秒后关闭`);
  }

  async function loadReasons() {
    try {
      const r = await fetch("/api/evaluations/reasons?token=" + encodeURIComponent(Yc.token()), { cache: "no-store" });
      if (r.ok) reasons = (await r.json()).reasons || [];
    } catch (e) { /* keep the list we have */ }
  }

  async function lightUp(ticketId) {
    let s;
    try {
      const r = await fetch(`/api/evaluations/ticket/${ticketId}?token=` + encodeURIComponent(Yc.token()), { cache: "no-store" });
      if (!r.ok) return;
      s = await r.json();
    } catch (e) { return; }
    // A replayed event after a reconnect, or a ticket rated already: stay as we are.
    if (s.status !== "done" || s.rated || s.window !== windowNo || s.finished_seconds_ago === null
        || s.finished_seconds_ago * 1000 > timeoutMs) return;
    await loadReasons();
    current = s; level = null; chosen = new Set();
    Yc.text("ticket-number", s.number);
    Yc.text("service-name", lang() === "en" ? (s.service_name_en || s.service_name) : s.service_name);
    body.dataset.ticket = String(s.ticket);
    show("levels");
    armTimeout();
    clearInterval(tick);
    tick = setInterval(renderCountdown, 1000);
  }

  function renderReasons() {
    const box = $("reason-buttons");
    box.textContent = "";
    for (const r of reasons) {
      const b = Yc.make("button", "reason");
      b.type = "button";
      b.dataset.code = r.code;
      b.setAttribute("aria-pressed", chosen.has(r.code) ? "true" : "false");
      b.append(Yc.make("span", "zh", r.name), Yc.make("span", "en", r.name_en));
      b.addEventListener("click", () => {
        armTimeout();
        if (chosen.has(r.code)) chosen.delete(r.code); else chosen.add(r.code);
        b.setAttribute("aria-pressed", chosen.has(r.code) ? "true" : "false");
        $("submit").disabled = chosen.size === 0;
      });
      box.append(b);
    }
    $("submit").disabled = chosen.size === 0;
  }

  async function submit() {
    if (!current || level === null) return;
    const ticket = current.ticket;
    const payload = { ticket, level, channel: "window" };
    if (level <= 2) payload.reasons = [...chosen];
    clearTimeout(darkTimer);
    clearInterval(tick);
    let more = "";
    try {
      const r = await fetch("/api/evaluations", {
        method: "POST", cache: "no-store",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + Yc.token() },
        body: JSON.stringify(payload),
      });
      if (!r.ok) {
        const e = await r.json().catch(() => null);
        more = e && e.error ? (lang() === "en" ? e.error.message_en : e.error.message) : "";
      } else if (level <= 2) {
        more = lang() === "en" ? "The hall will look into it and reply." : "大厅将核实整改并回访。";
      }
    } catch (e) {
      more = lang() === "en" ? "Not sent: the network is down." : "网络中断，评价未能提交。";
    }
    Yc.text("thanks-more", more);
    show("thanks");
    darkTimer = setTimeout(goDark, THANKS_MS);
  }

  for (const b of document.querySelectorAll(".level")) {
    b.addEventListener("click", () => {
      if (!current) return;
      level = Number(b.dataset.level);
      if (level <= 2) {
        chosen = new Set();
        renderReasons();
        show("reasons");
        armTimeout();
      } else {
        submit();
      }
    });
  }
  $("back").addEventListener("click", () => { level = null; show("levels"); armTimeout(); });
  $("submit").addEventListener("click", submit);
  $("lang").addEventListener("click", () => {
    body.dataset.lang = lang() === "zh" ? "en" : "zh";
    $("lang").textContent = lang() === "zh" ? "English" : "中文";
    if (current) Yc.text("service-name", lang() === "en" ? (current.service_name_en || current.service_name) : current.service_name);
    if (body.dataset.state !== "dark") armTimeout();
  });

  Yc.stream({
    event(type, d) {
      if (type === "ticket.finished" && d.window === windowNo) lightUp(d.ticket_id);
    },
    status(up) { $("link").classList.toggle("down", !up); },
  });
  loadReasons();
  goDark();
})();
