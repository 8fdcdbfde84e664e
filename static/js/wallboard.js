// The wallboard: the server pushes a snapshot every few seconds; supervisors can force a state.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const LABELS = { offline: "Offline", available: "Available", reserved: "Ringing", on_call: "On a call", wrap_up: "Wrap-up", break: "Break" };
  let ws = null, retry = 500;
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = text; if (cls) e.className = cls; return e; }
  function clock(s) { if (s === null || s === undefined) return "—"; const m = Math.floor(s / 60), r = s % 60; return m + ":" + String(r).padStart(2, "0"); }
  function pct(v) { return v === null || v === undefined ? "—" : v + "%"; }
  function num(text) { return el("td", text, "num"); }

  function render(snap) {
    const alerts = $("alerts"); alerts.replaceChildren();
    for (const a of snap.alerts) alerts.append(el("li", a, "alert"));
    if (!snap.alerts.length) alerts.append(el("li", "None.", "muted"));
    const queues = $("queues"); queues.replaceChildren();
    for (const q of snap.queues) {
      const tr = el("tr"); if (q.alert) tr.className = "over";
      const company = el("td"); const dot = el("span", "", "dot"); dot.style.background = q.brand_color; company.append(dot, document.createTextNode(q.tenant));
      tr.append(company, el("td", q.queue), num(q.waiting), num(clock(q.longest_wait)), num(q.offered), num(q.answered), num(pct(q.service_level)), num(pct(q.abandon_rate)));
      tr.dataset.queue = q.id; queues.append(tr);
    }
    if (!snap.queues.length) { const tr = el("tr"); const td = el("td", "No calls yet today.", "muted"); td.colSpan = 8; tr.append(td); queues.append(tr); }
    const operators = $("operators"); operators.replaceChildren();
    for (const o of snap.operators) {
      const tr = el("tr"); if (o.alert) tr.className = "over";
      const state = el("td"); const pill = el("span", (LABELS[o.state] || o.state) + (o.reason ? " (" + o.reason + ")" : ""), "pill"); pill.dataset.state = o.state; state.append(pill);
      const force = el("td"), select = el("select"), go = el("button", "Set", "secondary");
      select.setAttribute("aria-label", "Force the state of " + o.name);
      for (const s of ["available", "break", "offline"]) select.append(new Option(LABELS[s], s));
      go.type = "button"; go.addEventListener("click", () => ws.send(JSON.stringify({ type: "force_state", operator: o.id, state: select.value })));
      force.append(select, go); force.className = "force";
      tr.append(el("td", o.name), state, num(clock(o.in_state)), num(o.handled), num(clock(o.aht)), num(pct(o.occupancy)), num(o.missed), force);
      tr.dataset.operator = o.id; operators.append(tr);
    }
    if (!snap.operators.length) { const tr = el("tr"); const td = el("td", "Nobody logged in today.", "muted"); td.colSpan = 8; tr.append(td); operators.append(tr); }
    if (window.renderFairness) window.renderFairness(snap.fairness);
    $("link").textContent = "live · " + new Date(snap.at).toLocaleTimeString();
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/wallboard/");
    ws.onopen = () => { retry = 500; $("link").classList.add("up"); };
    ws.onclose = () => { $("link").textContent = "reconnecting…"; $("link").classList.remove("up"); setTimeout(connect, retry); retry = Math.min(retry * 2, 10000); };
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "snapshot") { render(m); document.dispatchEvent(new CustomEvent("wallboard:snapshot", { detail: m })); }
      else if (m.type === "error") $("link").textContent = m.error;
    };
  }
  connect();
})();
