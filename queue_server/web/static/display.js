// Hall display: renders the hall state from the event stream, highlights and announces calls.
"use strict";
(() => {
  const RECENT = 8;
  const body = document.body;
  let state = { hall: {}, windows: [], recent_calls: [], waiting: [] };
  // The newest notice.changed event wins over a state message: the server reads hall
  // settings through a short cache, so a state computed just after another server
  // process changed the notice may still carry the old one.
  let noticeEvent = null;
  // ?voice=off on all but one screen per room: several screens playing the same call a
  // few hundred milliseconds apart sound like an echo.
  const voice = Yc.params.get("voice") === "off" ? { push() {} } : Yc.voiceQueue({ maxAge: 45 });

  function chooseLayout() {
    const forced = body.dataset.layout || Yc.params.get("layout");
    const layout = forced === "landscape" || forced === "portrait" ? forced
      : (window.innerWidth >= window.innerHeight ? "landscape" : "portrait");
    body.classList.toggle("landscape", layout === "landscape");
    body.classList.toggle("portrait", layout === "portrait");
  }

  function windowByNumber(n) {
    return (state.windows || []).find((w) => w.number === n);
  }

  /** The newest call at a window that is still open: a paused or closed window drops out
   * of 正在叫号 at once (its window.paused / window.closed event), not at the next call. */
  function nowCalling() {
    return (state.recent_calls || []).find((c) => {
      const w = windowByNumber(c.window);
      return !w || w.status === "open";
    });
  }

  function renderNow() {
    const last = nowCalling();
    if (!last) {
      Yc.text("now-number", "—");
      Yc.text("now-kind", "");
      Yc.text("now-window-text", "请留意叫号");
      Yc.text("now-window-name", "Please wait for your number");
      return;
    }
    Yc.text("now-number", last.number);
    Yc.text("now-kind", last.kind === "recall" ? "重呼" : "");
    Yc.text("now-window-text", `请到 ${last.window} 号窗口`);
    const w = windowByNumber(last.window);
    Yc.text("now-window-name", w ? Yc.windowName(w) : "");
  }

  function renderRecent() {
    const list = document.getElementById("recent");
    const items = (state.recent_calls || []).slice(0, RECENT).map((c) => {
      const li = Yc.make("li");
      const num = Yc.make("span", "num", c.number);
      if (c.kind === "recall") num.appendChild(Yc.make("span", "tag", "重呼"));
      li.append(num, Yc.make("span", "win", `${c.window} 号窗口`));
      return li;
    });
    list.replaceChildren(...items);
  }

  function renderWaiting() {
    const list = document.getElementById("waiting");
    const items = (state.waiting || []).map((c) => {
      const li = Yc.make("li");
      li.append(Yc.make("span", "prefix", c.prefix), Yc.make("span", "name", c.name),
        Yc.make("span", "count", c.count));
      li.title = c.name_en || "";
      return li;
    });
    list.replaceChildren(...items);
  }

  function renderNotice() {
    const notice = (state.hall && state.hall.notice) || "欢迎来到政务服务大厅，请留意叫号，过号请到窗口咨询。";
    const el = Yc.text("notice", notice);
    el.style.setProperty("--marquee", `${Math.max(18, notice.length * 0.45)}s`);
  }

  function render() {
    Yc.text("hall-name", (state.hall && state.hall.name) || "政务服务大厅");
    renderNow();
    renderRecent();
    renderWaiting();
    renderNotice();
  }

  function tick() {
    const portrait = body.classList.contains("portrait");
    Yc.text("date", Yc.clock.format(portrait ? { month: "long", day: "numeric", weekday: "long" }
      : { year: "numeric", month: "long", day: "numeric", weekday: "long" }));
    Yc.text("clock", Yc.clock.format({ hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }));
  }

  function flash() {
    const now = document.getElementById("now");
    now.classList.remove("flash");
    void now.offsetWidth; // restart the animation
    now.classList.add("flash");
  }

  function onCall(type, d) {
    const kind = type === "ticket.recalled" ? "recall" : "call";
    state.recent_calls = [{ number: d.number, window: d.window, kind, ts: d.called_at },
      ...(state.recent_calls || [])].slice(0, 20);
    const w = windowByNumber(d.window);
    if (w) w.current = { ticket_id: d.ticket_id, number: d.number, service: d.service, status: "called", called_at: d.called_at };
    render();
    flash();
    voice.push(d.number, d.window, kind, d.called_at);
  }

  function apply(s) {
    state = s;
    if (noticeEvent && state.hall) state.hall.notice = noticeEvent.notice;
    Yc.clock.sync(s);
    render();
    body.dataset.lastEventId = s.last_event_id;
  }

  const stream = Yc.stream({
    snapshot(s) { noticeEvent = null; apply(s); tick(); link.contact(); },
    state: apply,
    event(type, d, id) {
      body.dataset.lastEventId = id;
      link.contact();
      if (type === "ticket.called" || type === "ticket.recalled") onCall(type, d);
      else if (type.startsWith("window.")) {
        const w = windowByNumber(d.window);
        if (w) { w.status = d.status; w.pause_reason = d.reason; }
        renderNow();
      } else if (type === "notice.changed") {
        noticeEvent = { id, notice: d.notice };
        state.hall.notice = d.notice;
        renderNotice();
      }
    },
    status(up) {
      body.classList.toggle("disconnected", !up);
      document.getElementById("link").classList.toggle("down", !up);
    },
  });

  const link = Yc.watchLink({ stream });

  chooseLayout();
  window.addEventListener("resize", chooseLayout);
  render();
  tick();
  setInterval(tick, 1000);
})();
