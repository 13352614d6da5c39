// 好差评 on the ticket's progress page (/t/<code>): choose a level (none is preselected),
// reasons only for a 差评, optional comment, submit with the ticket's public code.
"use strict";
(function () {
  var card = document.getElementById("rating");
  if (!card) { return; }
  var code = card.dataset.code;
  var level = null;
  var levels = card.querySelectorAll("#rating-levels button");
  var submit = document.getElementById("rating-submit");
  var reasonsBox = document.getElementById("rating-reasons");
  function chosenReasons() {
    return Array.prototype.map.call(reasonsBox.querySelectorAll("input:checked"), function (x) { return x.value; });
  }
  function update() {
    var bad = level !== null && level <= 2;
    reasonsBox.classList.toggle("hidden", !bad);
    submit.disabled = level === null || (bad && chosenReasons().length === 0);
  }
  Array.prototype.forEach.call(levels, function (b) {
    b.addEventListener("click", function () {
      level = Number(b.dataset.level);
      Array.prototype.forEach.call(levels, function (x) { x.setAttribute("aria-pressed", x === b ? "true" : "false"); });
      update();
    });
  });
  Array.prototype.forEach.call(reasonsBox.querySelectorAll("label"), function (l) {
    var input = l.querySelector("input");
    input.addEventListener("change", function () { l.classList.toggle("on", input.checked); update(); });
  });
  submit.addEventListener("click", function () {
    var payload = { code: code, level: level, channel: "phone" };
    if (level <= 2) { payload.reasons = chosenReasons(); }
    var comment = document.getElementById("rating-comment").value.trim();
    if (comment) { payload.comment = comment; }
    submit.disabled = true;
    fetch("/api/evaluations", { method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(payload) })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (res) {
        if (res.ok) {
          card.classList.add("hidden");
          document.getElementById("rating-thanks").classList.remove("hidden");
          return;
        }
        var e = document.getElementById("rating-error");
        e.textContent = res.d.error ? res.d.error.message + " · " + res.d.error.message_en : "提交失败 Failed";
        e.classList.remove("hidden");
        update();
      })
      .catch(function () {
        var e = document.getElementById("rating-error");
        e.textContent = "网络中断，请稍后重试 · Network error, try again";
        e.classList.remove("hidden");
        update();
      });
  });
})();
