// Clerk console: the 核验亮证 box. A keyboard-wedge scanner types the QR's text (ZW1:…) and
// Enter; a pasted code is checked at once. The answer (POST /api/licences/verify) shows big
// and plain: 有效 with the licence's holder-safe details, or the reason it is not valid;
// "replayed" says when and by whom the code was first accepted. A code from another hall
// (checked with the city's trust list) shows the issuing hall, the masked holder and the
// status as of the list's date: that hall's register is not here. docs/licences.md.
"use strict";
(() => {
  const REASONS = {
    ok: ["有效", "Valid"],
    bad_format: ["不是亮证码", "Not an e-licence code"],
    unknown_key: ["签发密钥未知：非本系统签发或密钥已停用", "Unknown signing key (not issued here, or the key is retired)"],
    bad_signature: ["签名无效，二维码可能被篡改", "Bad signature: the code may have been altered"],
    expired: ["亮证码已过期，请持证人刷新后重新出示", "The code has expired; ask the holder to show a fresh one"],
    not_yet_valid: ["亮证码尚未生效，请检查设备时间", "The code is not valid yet; check the clocks"],
    revoked: ["证照已失效（已注销或已有新版本）", "The licence is no longer valid (revoked or superseded)"],
    licence_expired: ["证照已过有效期", "The licence itself has expired"],
    licence_not_yet_valid: ["证照尚未生效", "The licence is not in force yet"],
    replayed: ["该码已被核验过，不能重复使用", "This code was already accepted once"],
    wrong_purpose: ["用证事由不符", "Shown for another purpose"],
  };
  const STATUS = { valid: "有效 Valid", revoked: "已注销 Revoked", expired: "已过期 Expired",
    superseded: "已有新版本 Superseded", not_yet_valid: "尚未生效 Not yet in force" };

  const form = document.getElementById("lic-form");
  const input = document.getElementById("lic-scan");
  const purpose = document.getElementById("lic-purpose");
  const box = document.getElementById("lic-result");
  if (!form || !input) return;
  let busy = false;

  fetch("/api/licences/purposes").then((r) => r.json()).then((d) => {
    purpose.replaceChildren(...(d.purposes || []).map((p) => {
      const o = Yc.make("option", "", `${p.code} ${p.name}`);
      o.value = p.code;
      o.title = p.name_en;
      return o;
    }));
  }).catch(() => {});

  function row(k, v, cls) { return [Yc.make("dt", "", k), Yc.make("dd", cls || "", v)]; }

  function show(res) {
    const [zh, en] = REASONS[res.reason] || [res.reason, res.reason];
    box.hidden = false;
    box.className = "lic-result " + (res.valid ? "good" : "bad");
    box.dataset.reason = res.reason;
    Yc.text("lic-verdict", res.valid ? "✔ 有效 VALID" : "✘ 无效 NOT VALID");
    Yc.text("lic-reason", res.valid ? "持证人亮证有效，可替代纸质证照 / The licence is shown validly" : `${zh} / ${en}`);
    const rows = [];
    if (res.first_verified) {
      rows.push(...row("首次核验 First accepted",
        `${Yc.timeOf(res.first_verified.at)} · ${res.first_verified.by}`, "first"));
    }
    const l = res.licence;
    if (l && l.issuer_hall) {
      rows.push(...row("亮证大厅 Issuing hall", `${l.issuer_hall_name || ""} (${l.issuer_hall})`.trim(), "hall"));
      rows.push(...row("持证人 Holder", l.holder_masked || "—"));
      rows.push(...row("证照状态 Status", STATUS[l.status] || l.status));
      if (res.status_as_of) {
        rows.push(...row("状态截至 Status as of",
          `${new Date(res.status_as_of * 1000).toLocaleString("zh-CN", { hour12: false })}（信任列表 trust list）`));
      }
      rows.push(...row("证照详情 Details", "证照类型、编号和有效期由签发大厅保存，本厅看不到 / " +
        "Type, number and validity stay with the issuing hall"));
    } else if (l) {
      rows.push(...row("证照 Licence", l.type_name));
      rows.push(...row("证照编号 Number", l.number));
      rows.push(...row("持证人 Holder", l.holder_masked));
      rows.push(...row("颁发机构 Issuer", l.issuer));
      if (l.valid_from && l.status === "not_yet_valid") rows.push(...row("生效日期 In force from", l.valid_from));
      rows.push(...row("有效期至 Valid to", l.valid_to || "长期 No end date"));
      rows.push(...row("证照状态 Status", STATUS[l.status] || l.status));
    }
    document.getElementById("lic-details").replaceChildren(...rows);
    box.scrollIntoView({ block: "nearest" });
  }

  async function check() {
    const qr = input.value.replace(/^\s+/, "").replace(/[\r\n\t]+$/, "");
    if (!qr || busy) return;
    busy = true;
    input.value = "";
    try {
      const headers = { "Content-Type": "application/json", Accept: "application/json" };
      const t = sessionStorage.getItem("yc.token");
      if (t) headers.Authorization = "Bearer " + t;
      const resp = await fetch("/api/licences/verify", {
        method: "POST", headers, body: JSON.stringify({ qr, purpose: Number(purpose.value) || 1 }) });
      const data = await resp.json();
      if (!resp.ok) throw new Error((data.error && data.error.message) || `核验失败 (${resp.status})`);
      show(data);
    } catch (e) {
      box.hidden = false;
      box.className = "lic-result bad";
      box.dataset.reason = "error";
      Yc.text("lic-verdict", "未能核验 Could not check");
      Yc.text("lic-reason", e.message || String(e));
      document.getElementById("lic-details").replaceChildren();
    } finally {
      busy = false;
      input.focus();
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); check(); });
  input.addEventListener("paste", () => setTimeout(check, 0));

  // A scan while nothing has focus: the scanner's first character is the Z of ZW1:. Send it
  // and the rest into the box instead of the console's single-key shortcuts (R, S, F, N, T,
  // P and the space would otherwise act on the current ticket).
  document.addEventListener("keydown", (ev) => {
    if (document.body.dataset.view !== "view-desk" || document.querySelector("dialog[open]")) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.key !== "Z") return;
    ev.preventDefault();
    ev.stopImmediatePropagation();
    input.value = "Z";
    input.focus();
  }, true);
})();
