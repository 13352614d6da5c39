// 一窗通 shared page code: the event-stream connection, the hall clock, the voice queue.
// No framework, no CDN (halls are often offline). Text is only ever set with textContent.
"use strict";

const Yc = (() => {
  const params = new URLSearchParams(location.search);

  /** Token from ?token= (display pages) or from the console's session. */
  function token() {
    return params.get("token") || sessionStorage.getItem("yc.token") || "";
  }

  /** Set an element's text (never HTML). Accepts an element or an id. */
  function text(el, value) {
    const node = typeof el === "string" ? document.getElementById(el) : el;
    if (node) node.textContent = value == null ? "" : String(value);
    return node;
  }

  /** Create an element with a class and text. */
  function make(tag, cls, value) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (value != null) node.textContent = String(value);
    return node;
  }

  const EVENT_TYPES = [
    "ticket.issued", "ticket.called", "ticket.recalled", "ticket.started", "ticket.finished",
    "ticket.no_show", "ticket.transferred", "ticket.cancelled", "window.opened", "window.paused",
    "window.resumed", "window.closed", "notice.changed", "day.reset",
  ];

  /**
   * Keep one event stream open. handlers: {snapshot(state), state(state), event(type, data, id),
   * status(connected:boolean)}. Display pages use EventSource with ?token= (read-only
   * roles); the browser reconnects by itself with Last-Event-ID and the server replays what
   * was missed or sends a fresh snapshot. If the stream fails hard (an HTTP error during a
   * restart) we open a new one after a jittered, growing delay, resuming from the last id.
   * opts.bearer (the clerk console) reads the stream with fetch() instead, so the session
   * token travels in a header and never in a URL. One connection per page, never a poll.
   */
  function stream(handlers, opts) {
    const bearer = opts && opts.bearer;
    let lastId = null;
    let closed = false;
    let es = null;
    let ctrl = null;
    let retryDelay = 1000;

    function dispatch(type, data, id) {
      if (id) lastId = id;
      if (type === "snapshot") handlers.snapshot && handlers.snapshot(JSON.parse(data));
      else if (type === "state") handlers.state && handlers.state(JSON.parse(data));
      else if (EVENT_TYPES.includes(type)) handlers.event && handlers.event(type, JSON.parse(data), Number(id));
    }
    function later() {
      if (closed) return;
      const wait = retryDelay * (0.75 + Math.random() * 0.5);
      retryDelay = Math.min(retryDelay * 2, 15000);
      setTimeout(open, wait);
    }
    function url() {
      const q = new URLSearchParams();
      const t = token();
      if (t && !bearer) q.set("token", t);
      if (lastId !== null) q.set("last_event_id", lastId);
      return "/api/events?" + q.toString();
    }
    function openEventSource() {
      es = new EventSource(url());
      es.onopen = () => { retryDelay = 1000; handlers.status && handlers.status(true); };
      es.onerror = () => {
        handlers.status && handlers.status(false);
        if (es.readyState === EventSource.CLOSED) later();
      };
      for (const type of ["snapshot", "state", ...EVENT_TYPES]) {
        es.addEventListener(type, (m) => dispatch(type, m.data, m.lastEventId));
      }
    }
    async function openFetch() {
      ctrl = new AbortController();
      try {
        const resp = await fetch(url(), { headers: { Authorization: "Bearer " + bearer, Accept: "text/event-stream" },
          signal: ctrl.signal, cache: "no-store" });
        if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
        retryDelay = 1000;
        handlers.status && handlers.status(true);
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let type = "message", data = "", id = null;
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
              else if (line.startsWith("id: ")) id = line.slice(4);
            }
            if (data) dispatch(type, data, id);
          }
        }
      } catch (e) {
        if (closed) return;
      }
      handlers.status && handlers.status(false);
      later();
    }
    function open() { if (!closed) (bearer ? openFetch() : openEventSource()); }
    open();
    return {
      close() { closed = true; if (es) es.close(); if (ctrl) ctrl.abort(); },
      /** Reconnect now if the stream gave up (after the link watcher saw the server again). */
      revive() {
        retryDelay = 1000;
        if (es && es.readyState === EventSource.CLOSED) open();
      },
    };
  }

  /** Server clock: offset learned from state.hall.now, so every screen shows the same time. */
  const clock = {
    offset: 0,
    tz: undefined,
    sync(state) {
      if (state && state.hall && state.hall.now) this.offset = state.hall.now * 1000 - Date.now();
      if (state && state.hall && state.hall.timezone) this.tz = state.hall.timezone;
    },
    now() { return new Date(Date.now() + this.offset); },
    seconds() { return (Date.now() + this.offset) / 1000; },
    format(opts) {
      try {
        return new Intl.DateTimeFormat("zh-CN", { ...opts, timeZone: this.tz || "Asia/Shanghai" }).format(this.now());
      } catch (e) {
        return new Intl.DateTimeFormat("zh-CN", opts).format(this.now());
      }
    },
  };

  /**
   * Announcements play one after another, never overlapping. Calls older than maxAge
   * seconds (replayed after a reconnect) are not spoken. Returns {push(number, window, kind, calledAt)}.
   */
  function voiceQueue(opts) {
    const maxAge = (opts && opts.maxAge) || 45;
    const queue = [];
    const audio = new Audio();
    let playing = false;
    function next() {
      const item = queue.shift();
      if (!item) { playing = false; document.body.dataset.speaking = ""; return; }
      playing = true;
      document.body.dataset.speaking = item.number;
      const q = new URLSearchParams({ number: item.number, window: String(item.window), kind: item.kind });
      const t = token();
      if (t) q.set("token", t);
      audio.src = "/api/voice/announce.wav?" + q.toString();
      const p = audio.play();
      if (p && p.catch) p.catch(() => setTimeout(next, 200)); // autoplay blocked: skip, keep order
    }
    audio.addEventListener("ended", () => setTimeout(next, 300));
    audio.addEventListener("error", () => setTimeout(next, 200));
    return {
      push(number, window, kind, calledAt) {
        if (calledAt && clock.seconds() - calledAt > maxAge) return;
        if (queue.length >= 12) queue.shift(); // a burst: drop the oldest waiting one
        queue.push({ number, window, kind });
        if (!playing) next();
      },
      get length() { return queue.length + (playing ? 1 : 0); },
    };
  }

  /** A window's name without a leading "3号窗口" that repeats its number ("综合窗口"). */
  function windowName(w) {
    if (!w || !w.name) return "";
    const rest = w.name.replace(new RegExp("^\\s*" + w.number + "\\s*号窗口\\s*"), "");
    return rest || w.name;
  }

  /** A Unix time as HH:MM:SS in the hall's time zone. */
  function timeOf(ts) {
    if (!ts) return "—";
    const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    try {
      return new Intl.DateTimeFormat("zh-CN", { ...opts, timeZone: clock.tz || "Asia/Shanghai" }).format(new Date(ts * 1000));
    } catch (e) {
      return new Intl.DateTimeFormat("zh-CN", opts).format(new Date(ts * 1000));
    }
  }

  /**
   * The link watcher of a display page: it asks the server who its token is
   * (GET /api/me?token=) every few seconds. When the server answers 401 (the token is
   * unknown, revoked or expired), or nothing has reached the server for LOST_AFTER_MS, a
   * full-screen notice in Chinese and English says why and what to do, instead of a
   * picture that is no longer true. It goes away by itself as soon as the server answers
   * again (and the event stream is reopened). opts.stream: the page's Yc.stream handle.
   */
  function watchLink(opts) {
    const LOST_AFTER_MS = Number(params.get("lost_after")) * 1000 || 10000;
    const EVERY_MS = Number(params.get("probe")) * 1000 || 4000;
    let lastOk = Date.now();
    let shown = "";
    const REASONS = {
      token: ["显示屏令牌无效或已被吊销", "This screen's token is unknown or has been revoked",
        "请技术人员在设备管理页（/tech）为本屏重新生成令牌，并更新本屏的网址。",
        "A technician should issue a new display token on /tech and update this screen's address."],
      offline: ["已超过 10 秒无法连接叫号服务器", "The queue server has not been reached for 10 seconds",
        "请检查网线、Wi-Fi 和服务器电源；连接恢复后本屏自动恢复。",
        "Check the network cable, Wi-Fi and the server's power; this screen recovers by itself."],
    };
    function overlay() {
      let el = document.getElementById("link-notice");
      if (el) return el;
      el = make("div", "link-notice");
      el.id = "link-notice";
      el.setAttribute("role", "alert");
      el.hidden = true;
      const box = make("div", "link-notice-box");
      box.append(make("div", "ln-title", "叫号屏未连接 — 请联系技术人员"),
        make("div", "ln-title-en", "Display not connected — please call a technician"),
        make("div", "ln-reason"), make("div", "ln-reason-en"), make("div", "ln-todo"), make("div", "ln-todo-en"),
        make("div", "ln-since"));
      el.appendChild(box);
      document.body.appendChild(el);
      return el;
    }
    function show(reason) {
      const el = overlay();
      const [zh, en, todo, todoEn] = REASONS[reason];
      if (shown !== reason) {
        text(el.querySelector(".ln-reason"), "原因：" + zh);
        text(el.querySelector(".ln-reason-en"), "Reason: " + en);
        text(el.querySelector(".ln-todo"), todo);
        text(el.querySelector(".ln-todo-en"), todoEn);
      }
      text(el.querySelector(".ln-since"), `最后连接 Last contact ${timeOf(lastOk / 1000)}`);
      el.hidden = false;
      shown = reason;
      document.body.dataset.link = reason;
    }
    function hide() {
      if (!shown) return;
      overlay().hidden = true;
      shown = "";
      document.body.dataset.link = "ok";
      if (opts && opts.stream) opts.stream.revive();
    }
    async function probe() {
      let status = 0;
      try {
        const r = await fetch("/api/me?token=" + encodeURIComponent(token()), { cache: "no-store" });
        status = r.status;
      } catch (e) { status = 0; }
      if (status === 200) { lastOk = Date.now(); hide(); }
      else if (status === 401 || status === 403) show("token");
      else if (Date.now() - lastOk >= LOST_AFTER_MS) show("offline");
      setTimeout(probe, status === 200 ? EVERY_MS : Math.min(EVERY_MS, 2000));
    }
    document.body.dataset.link = "ok";
    setTimeout(probe, 500);
    return { contact() { lastOk = Date.now(); } };
  }

  /** A request's "am I still the newest of my kind?": call it before sending, ask the returned
   *  function after the answer. A page draws only the newest answer, so an earlier, slower one
   *  (a first load, a filter changed twice) never puts back what the user has just left. */
  const latest = {};
  function newest(kind) {
    const n = (latest[kind] || 0) + 1;
    latest[kind] = n;
    return () => latest[kind] === n;
  }

  /** A staff page's login (the token kept in sessionStorage under ``key``): ``api`` calls the
   *  JSON API with it in a header (a 401 logs out; an error is thrown with the API's message in
   *  the page's language, ``L``), ``msg`` flashes a line in #msg for 4 s, ``logout`` ends the
   *  session and calls ``onLogout`` (which shows the login form again). */
  function staffSession(key, L, onLogout) {
    let flashTimer = null;
    const s = {
      token: sessionStorage.getItem(key) || "",
      login(tok) {
        s.token = tok; sessionStorage.setItem(key, tok);
        const m = document.getElementById("msg");
        if (m && !m.classList.contains("ok")) m.hidden = true;  // a failed try's "wrong password" is over
      },
      logout() {
        if (s.token) fetch("/api/logout", { method: "POST", headers: { Authorization: "Bearer " + s.token } }).catch(() => {});
        s.token = ""; sessionStorage.removeItem(key); onLogout();
      },
      async api(path, opts) {
        const o = opts || {};
        const headers = { Authorization: "Bearer " + s.token, Accept: "application/json" };
        if (o.json !== undefined) headers["Content-Type"] = "application/json";
        const r = await fetch(path, { method: o.method || "GET", headers, cache: "no-store",
          body: o.json !== undefined ? JSON.stringify(o.json) : undefined });
        const d = await r.json().catch(() => ({}));
        if (r.status === 401) { s.logout(); throw new Error(L("登录已过期，请重新登录", "Session expired; log in again")); }
        if (!r.ok) throw new Error(d.error ? L(d.error.message, d.error.message_en) : "HTTP " + r.status);
        return d;
      },
      msg(line, ok) {
        const m = document.getElementById("msg");
        m.textContent = line;
        m.className = ok ? "msg ok" : "msg";
        m.hidden = false;
        clearTimeout(flashTimer);
        flashTimer = setTimeout(() => { m.hidden = true; }, 4000);
      },
    };
    return s;
  }

  return { params, token, text, make, stream, clock, voiceQueue, windowName, timeOf, watchLink, newest, staffSession };
})();
