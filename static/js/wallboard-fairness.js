// The wallboard's contracts panel (issue 20): targets, service level live and today, seats, and
// which company the router favours now and why. Called by wallboard.js with each snapshot.
(function () {
  "use strict";
  const KINDS = { reserved: "Reserved seats unmet", starving: "Past the hard limit", behind: "By target", capped: "At its cap" };
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = text; if (cls) e.className = cls; return e; }
  function num(text) { return el("td", text === null || text === undefined ? "—" : text, "num"); }
  function pct(v) { return v === null || v === undefined ? "—" : v + "%"; }

  window.renderFairness = function (panel) {
    const body = document.getElementById("contracts"), favoured = document.getElementById("favoured");
    if (!panel || !body) return;
    body.replaceChildren();
    for (const r of panel.rows) {
      const tr = el("tr"); if (r.favoured) tr.className = "favoured";
      if (r.sl_live !== null && r.sl_live < r.target_percent) tr.classList.add("over");
      tr.append(el("td", r.tenant), el("td", r.queue), el("td", r.target), num(pct(r.sl_live)), num(pct(r.sl_today)),
        num(r.waiting), num(r.seats), num(r.reserved || "—"), num(r.cap), el("td", (r.favoured ? "▶ " : "") + (KINDS[r.kind] || r.kind)));
      tr.dataset.queue = r.queue_id; body.append(tr);
    }
    if (!panel.rows.length) { const tr = el("tr"); const td = el("td", "No calls yet.", "muted"); td.colSpan = 10; tr.append(td); body.append(tr); }
    favoured.textContent = panel.favoured
      ? "The next free operator goes to " + panel.favoured.tenant + " / " + panel.favoured.queue + ": " + panel.favoured.reason + "."
      : "No call is waiting.";
  };
})();
