// Window screen: this window's number and name, current ticket, clerk, pause state.
"use strict";
(() => {
  const body = document.body;
  const number = Number(body.dataset.window);
  let win = null;

  function render() {
    if (!win) {
      Yc.text("win-name", "");
      Yc.text("current", "—");
      Yc.text("status", "本窗口未设置 Unknown window");
      return;
    }
    Yc.text("win-name", Yc.windowName(win));
    const cur = win.current;
    Yc.text("current", cur ? cur.number : "—");
    if (win.status === "closed") Yc.text("status", "暂未开放 Closed");
    else if (!cur) Yc.text("status", "请稍候 Please wait");
    else if (cur.status === "serving") Yc.text("status", "正在办理 Now serving");
    else Yc.text("status", `请 ${cur.number} 号到本窗口办理`);
    Yc.text("clerk-name", win.clerk ? win.clerk.name : "—");
    Yc.text("clerk-no", win.clerk ? (win.clerk.staff_no || "—") : "—");
    const paused = win.status === "paused";
    document.getElementById("paused").hidden = !paused;
    Yc.text("paused-reason", paused ? (win.pause_reason || "") : "");
  }

  function fromState(s) {
    Yc.clock.sync(s);
    win = (s.windows || []).find((w) => w.number === number) || null;
    body.dataset.lastEventId = s.last_event_id;
    render();
  }

  function flash() {
    const el = document.getElementById("current");
    el.classList.remove("flash");
    void el.offsetWidth;
    el.classList.add("flash");
  }

  const stream = Yc.stream({
    snapshot: fromState,
    state: fromState,
    event(type, d, id) {
      body.dataset.lastEventId = id;
      if (type === "ticket.transferred" && win && win.current && win.current.ticket_id === d.ticket_id) {
        win.current = null;
        render();
        return;
      }
      if (!win || d.window !== number) return;
      if (type === "ticket.called" || type === "ticket.recalled") {
        win.current = { ticket_id: d.ticket_id, number: d.number, service: d.service, status: "called", called_at: d.called_at };
        render();
        flash();
      } else if (type === "ticket.started" && win.current && win.current.ticket_id === d.ticket_id) {
        win.current.status = "serving";
        render();
      } else if (["ticket.finished", "ticket.no_show", "ticket.cancelled"].includes(type)
                 && win.current && win.current.ticket_id === d.ticket_id) {
        win.current = null;
        render();
      } else if (type.startsWith("window.")) {
        win.status = d.status;
        win.pause_reason = d.reason;
        render();
      }
    },
    status(up) { document.getElementById("link").classList.toggle("down", !up); },
  });
  Yc.watchLink({ stream });
  render();
})();
