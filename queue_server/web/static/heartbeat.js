// Display heartbeat: a hall or window display page tells the server it is alive, so the
// technicians' page (/tech) shows every screen in the hall (POST /api/devices/heartbeat with
// the page's own display token; the device is named like the token: one token per screen).
// The hall display also says whether the browser lets it play the call announcements.
// The server's answer may carry an action: reload_config reloads the page.
// Self-contained: it reads ?token= and talks only to this server. ?heartbeat=off turns it
// off; ?beat=SECONDS overrides the interval the server asks for (devices.heartbeat_s).
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  if (!token || params.get("heartbeat") === "off") return;
  const fixed = Number(params.get("beat")) || 0;
  const started = performance.now();
  let interval = fixed || 30;
  let name = "";

  const headers = () => ({ Authorization: "Bearer " + token, "Content-Type": "application/json" });

  /** Can this page play sound without a touch? (the hall display announces calls) */
  function soundComponent() {
    const hall = document.body.classList.contains("hall");
    if (!hall || params.get("voice") === "off") return [];
    let state = "unknown";
    let detail = "无法检测 / cannot tell";
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) {
        const ctx = new Ctx();
        if (ctx.state === "running") {
          state = "ok";
          detail = "浏览器允许播放叫号声音 / the browser plays the announcements";
        } else {
          state = "warning";
          detail = "浏览器阻止自动播放，叫号无声：启动参数加 --autoplay-policy=no-user-gesture-required / " +
            "the browser blocks autoplay: start it with --autoplay-policy=no-user-gesture-required";
        }
        ctx.close();
      }
    } catch (e) { /* keep unknown */ }
    return [{ kind: "voice", name: "browser-audio", state, detail }];
  }

  async function result(action, ok, detail) {
    try {
      await fetch(`/api/devices/${encodeURIComponent(name)}/actions/${action.id}/result`,
        { method: "POST", headers: headers(), body: JSON.stringify({ ok, detail }) });
    } catch (e) { /* the server will show it expired */ }
  }

  async function carryOut(action) {
    if (action.action === "reload_config") {
      await result(action, true, "页面重新加载 / the page reloads");
      location.reload();
      return;
    }
    await result(action, false, `显示屏不支持 / a display cannot ${action.action}`);
  }

  async function beat() {
    try {
      if (!name) {
        const me = await fetch("/api/me?token=" + encodeURIComponent(token), { cache: "no-store" });
        if (!me.ok) return;
        name = (await me.json()).name || "";
        if (!name) return;
      }
      const r = await fetch("/api/devices/heartbeat", {
        method: "POST", headers: headers(), cache: "no-store",
        body: JSON.stringify({ name, kind: "display", version: "web",
          uptime_s: Math.round((performance.now() - started) / 1000), disk_free_mb: null,
          components: soundComponent() }),
      });
      if (!r.ok) return;
      const answer = await r.json();
      if (!fixed && answer.interval_s) interval = answer.interval_s;
      document.body.dataset.heartbeat = String(Date.now());
      for (const action of answer.actions || []) await carryOut(action);
    } catch (e) { /* the server is away: the next beat tries again */ }
  }

  function loop() {
    beat().finally(() => setTimeout(loop, interval * 1000));
  }
  setTimeout(loop, 300);
})();
