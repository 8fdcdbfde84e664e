// The operator console: one socket for state and offers, JSON endpoints for the call (no framework).
(function () {
  "use strict";
  const root = document.getElementById("console");
  const base = root.dataset.base;
  const csrf = root.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  const LABELS = { offline: "Offline", available: "Available", reserved: "Ringing", on_call: "On a call", wrap_up: "Wrap-up", break: "Break" };
  let ws = null, retry = 500, stateSince = Date.now(), shiftStart = null, offerExpires = null;
  let reservation = null, phase = null, step = null, answeredAt = null, endedAt = null, audio = null;
  let outbound = null, onHold = false, connected = false, stepVersion = 0;
  // Accepted offers that failed to connect (the operator's phone did not join, or nobody could
  // connect it): their "accepted" reply may arrive after the push that says so.
  const lost = new Set();
  const LOST_BECAUSE = {
    "no-answer": "your phone did not answer", busy: "your phone was busy", failed: "the line to your phone failed",
    canceled: "the call to your phone was cancelled", "Twilio unavailable": "the telephone service did not respond, not your fault",
    "the platform could not connect it": "a fault on the platform's side, not yours",
  };

  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }
  function when(iso) { return new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" }); }
  function showError(text) { const e = $("error"); e.textContent = text || ""; e.hidden = !text; }

  async function api(path, body) {
    const options = body === undefined ? {} : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json", "X-CSRFToken": csrf } };
    const response = await fetch(base + path, Object.assign({ credentials: "same-origin" }, options));
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || ("The server answered " + response.status));
    return data;
  }

  function setState(state, reason, since) {
    const pill = $("state");
    pill.dataset.state = state;
    pill.textContent = (LABELS[state] || state) + (reason ? " (" + reason + ")" : "");
    stateSince = since ? Date.parse(since) : Date.now();
    if (state === "available" && !shiftStart) shiftStart = Date.now();
  }

  function tick() {
    $("state-timer").textContent = clock(Date.now() - stateSince);
    $("shift-timer").textContent = shiftStart ? clock(Date.now() - shiftStart) : "—";
    if (offerExpires) $("offer-timer").textContent = "Rings for " + Math.max(0, Math.ceil((offerExpires - Date.now()) / 1000)) + " s more";
    if (answeredAt) $("call-timer").textContent = clock((endedAt || Date.now()) - answeredAt);
    if (endedAt) $("wrap-timer").textContent = clock(Date.now() - endedAt);
  }

  function ring(on) {
    if (!on) { if (audio) { audio.close(); audio = null; } return; }
    try {
      audio = new (window.AudioContext || window.webkitAudioContext)();
      for (let i = 0; i < 3; i++) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 660; gain.gain.value = 0.08;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + i * 0.6); osc.stop(audio.currentTime + i * 0.6 + 0.3);
      }
    } catch (e) { audio = null; }
  }

  function renderPop(pop) {
    root.style.setProperty("--tenant", pop.tenant.brand_color || "");
    $("pop-company").textContent = pop.tenant.name;
    $("pop-queue").textContent = "Queue " + pop.queue + " · waited " + clock(pop.waited * 1000);
    $("pop-greeting").textContent = pop.greeting;
    $("pop-script").textContent = pop.script || "none";
    $("pop-announcement").textContent = pop.announcement || "";
    const kept = $("pop-callback"); kept.hidden = !pop.callback;
    kept.textContent = pop.callback ? "Callback keeping the caller's place: the platform calls " + pop.callback.number + " back (try " + pop.callback.attempt + " of " + pop.callback.max_attempts + ")." : "";
    const card = $("pop-contact"); card.replaceChildren();
    const c = pop.contact;
    const rows = [["Name", c.name || "Unknown caller"], ["Phone", c.phone], ["Company", c.company], ["Email", c.email], ["Language", c.language], ["Notes", c.notes]];
    for (const [k, v] of rows) if (v) { card.append(el("dt", k), el("dd", v)); }
    if (c.vip) card.append(el("dt", "Status"), el("dd", "VIP", "vip"));
    const history = $("pop-history"); history.replaceChildren();
    for (const h of pop.history) history.append(el("li", when(h.at) + " · " + [h.disposition || h.outcome || "no outcome", h.operator].filter(Boolean).join(" · ")));
    if (!pop.history.length) history.append(el("li", "First call with this company.", "muted"));
    const callbacks = $("pop-callbacks"); callbacks.replaceChildren();
    for (const cb of pop.callbacks) callbacks.append(el("li", cb.reason + " · due " + when(cb.due_at)));
    if (!pop.callbacks.length) callbacks.append(el("li", "None.", "muted"));
  }

  async function showOffer(id) {
    const pop = await api("offers/" + id);
    if (pop.state !== "offered") return refresh();
    reservation = id; phase = "offer";
    if ($("state").dataset.state !== "reserved") setState("reserved", "", pop.offered_at);
    showError("");
    renderPop(pop);
    offerExpires = Date.parse(pop.expires_at);
    $("pop-kind").textContent = pop.callback ? "Callback (place kept)" : "Incoming call";
    $("offer-actions").hidden = false;
    $("pop").classList.add("ringing");
    $("idle").hidden = true; $("call").hidden = true; $("pop").hidden = false;
    $("accept").focus();
    ring(true);
  }

  function clearCall() {
    ring(false); reservation = null; phase = null; step = null; offerExpires = null; answeredAt = null; endedAt = null;
    outbound = null; onHold = false; connected = false; $("preview-actions").hidden = true;
    $("pop").hidden = true; $("call").hidden = true; $("idle").hidden = false;
    $("pop").classList.remove("ringing");
    document.dispatchEvent(new CustomEvent("console:idle"));
  }

  async function showCall(id) {
    ring(false);
    const seen = stepVersion;
    const view = await api("calls/" + id);
    if (lost.has(id)) return;  // it failed to connect while this view was on its way
    reservation = id; phase = "call"; offerExpires = null;
    renderPop(view);
    $("pop-kind").textContent = "On the line";
    $("offer-actions").hidden = true; $("offer-timer").textContent = "";
    $("pop").classList.remove("ringing");
    $("idle").hidden = true; $("pop").hidden = false; $("call").hidden = false;
    answeredAt = Date.parse(view.call.answered_at);
    endedAt = view.call.ended_at ? Date.parse(view.call.ended_at) : null;
    $("call-live").textContent = view.call.live ? "The caller is on the line." : "The call has ended: wrap it up.";
    if (view.callback) $("pop-kind").textContent = "Callback (place kept)";
    if (view.callback && view.call.live && !view.call.connected) $("call-live").textContent = "Calling " + view.callback.number + " back…";
    $("script-name").textContent = view.script || "No script for this company";
    fillSelect($("specialist"), view.specialists.map((s) => [s.key, s.available ? s.name : `${s.name} (out now: ${s.hours})`]), "No specialists");
    fillSelect($("disposition"), view.dispositions.map((d) => [d.code, d.label]), null, "Choose…");
    const notes = $("notes"); notes.replaceChildren(); for (const n of view.notes) notes.append(el("li", n));
    // The operator answered a step while this view was on its way: theirs is newer, keep it.
    if (stepVersion === seen) renderStep(view.step, view.answers, null);
    renderOutbound(view);
    document.dispatchEvent(new CustomEvent("console:call", { detail: { reservation: id, view: view } }));
  }

  const PHASES = { preview: "Outbound call: read the card, then dial", dialing: "Dialing…", connected: "On the line (outbound)", ended: "The outbound call has ended" };

  function renderOutbound(view) {
    outbound = view.outbound; onHold = !!view.call.on_hold; connected = !!view.call.connected;
    const o = outbound, box = $("pop-outbound");
    box.hidden = !o;
    $("preview-actions").hidden = !(o && o.phase === "preview");
    $("opt-out").hidden = !(o && o.phase === "connected");
    $("hold").hidden = !connected || !view.call.live;
    $("mute-line").hidden = !connected || !view.call.live || !!view.outbound;
    $("hold").textContent = onHold ? "Take back from hold" : "Hold";
    $("hold").setAttribute("aria-pressed", onHold ? "true" : "false");
    $("hold").append(" ", el("kbd", "H"));
    $("next").disabled = !!(o && o.phase === "preview"); $("back").disabled = !!(o && o.phase === "preview");
    document.querySelector(".greeting").hidden = !!o;
    $("pop-contact-title").textContent = o ? "Person to call" : "Caller";
    const preview = !!(o && o.phase === "preview");
    for (const id of ["hang-up", "wrap", "transfer", "transfer-warm", "specialist", "specialist-label"]) $(id).hidden = preview;
    if (!o) return;
    $("pop-kind").textContent = PHASES[o.phase] || "Outbound call";
    if (o.phase === "dialing") $("call-live").textContent = "Ringing " + view.contact.phone + "…";
    if (o.phase === "preview") { $("call-live").textContent = "Not dialed yet."; $("dial").focus(); }
    $("outbound-campaign").textContent = [o.campaign, o.kind].filter(Boolean).join(" · ");
    $("outbound-attempt").textContent = o.attempt_number ? "Attempt " + o.attempt_number + (o.max_attempts ? " of " + o.max_attempts : "") : "";
    const list = $("outbound-attempts"); list.replaceChildren();
    for (const a of o.attempts) list.append(el("li", when(a.at) + " · " + a.outcome));
  }

  async function outboundAction(path, body) {
    try { await api("calls/" + reservation + "/" + path, body || {}); showError(""); } catch (e) { showError(e.message); }
    if (reservation) await showCall(reservation).catch(() => refresh());
  }

  function fillSelect(select, pairs, emptyText, prompt) {
    const chosen = select.value; select.replaceChildren();
    if (prompt) select.append(new Option(prompt, ""));
    for (const [value, label] of pairs) select.append(new Option(label, value));
    if (!pairs.length && emptyText) select.append(new Option(emptyText, ""));
    if (chosen && Array.from(select.options).some((o) => o.value === chosen)) select.value = chosen;
  }

  function renderStep(s, answers, error) {
    // A re-render of the step on screen (a late push, a reconnect) keeps what the operator has
    // typed or ticked and not yet sent.
    let typed = null;
    try { if (step && s && step.node === s.node && !step.final && step.question) typed = currentValue(); } catch (e) { typed = null; }
    step = s; stepVersion += 1;
    const form = $("step"); form.replaceChildren();
    $("step-error").textContent = error || "";
    const list = $("answers"); list.replaceChildren();
    for (const [k, v] of Object.entries(answers || {})) list.append(el("dt", k), el("dd", Array.isArray(v) ? v.join(", ") : String(v)));
    if (!s) { form.append(el("p", "Talk with the caller, then choose a disposition.", "muted")); return; }
    form.append(el("p", s.text, "say"));
    if (s.final) {
      form.append(el("p", "End of the script. Choose the disposition and finish the call.", "muted"));
      if (s.disposition) $("disposition").value = s.disposition;
      $("next").disabled = true;
      return;
    }
    $("next").disabled = false;
    const q = s.question;
    if (!(s.kind === "question" || s.kind === "automatic") || !q) return;
    const name = "answer-" + s.node;
    if (q.type === "choice" || q.type === "yes_no" || q.type === "multi_choice") {
      const options = q.type === "yes_no" ? ["yes", "no"] : q.options;
      const group = el("fieldset"); group.append(el("legend", "Answer"));
      const wrap = el("div", undefined, "choices");
      for (const option of options) {
        const label = el("label", undefined, "choice"), input = el("input");
        input.type = q.type === "multi_choice" ? "checkbox" : "radio"; input.name = name; input.value = option;
        const chosen = s.value ?? typed;
        if (chosen === option || (Array.isArray(chosen) && chosen.includes(option))) input.checked = true;
        label.append(input, document.createTextNode(" " + option)); wrap.append(label);
      }
      group.append(wrap); form.append(group);
    } else {
      const label = el("label", "Answer"); label.htmlFor = name;
      const input = el("input"); input.id = name; input.name = name;
      input.type = { number: "number", date: "date", email: "email", phone: "tel" }[q.type] || "text";
      const value = s.value ?? typed;
      if (value !== null && value !== undefined) input.value = value;
      input.required = q.required;
      input.setAttribute("aria-describedby", "step-error");
      form.append(label, input);
      setTimeout(() => input.focus(), 0);
    }
  }

  function currentValue() {
    const q = step.question, name = "answer-" + step.node;
    if (q.type === "multi_choice") return Array.from(document.querySelectorAll("input[name='" + name + "']:checked")).map((i) => i.value);
    if (q.type === "choice" || q.type === "yes_no") { const c = document.querySelector("input[name='" + name + "']:checked"); return c ? c.value : null; }
    const v = $(name).value; return v === "" ? null : v;
  }

  async function next() {
    if (!step || step.final || phase !== "call" || (outbound && outbound.phase === "preview")) return;
    const answering = step.kind === "question" || step.kind === "automatic";
    const body = answering ? { action: "answer", node: step.node, value: currentValue() } : { action: "ack", node: step.node };
    try {
      const result = await api("calls/" + reservation + "/script", body);
      renderStep(result.step, result.answers, result.error);
      document.dispatchEvent(new CustomEvent("console:step", { detail: result }));
    } catch (e) { showError(e.message); }
  }

  async function back() {
    try { const r = await api("calls/" + reservation + "/script", { action: "back" }); renderStep(r.step, r.answers, r.error); document.dispatchEvent(new CustomEvent("console:step", { detail: r })); } catch (e) { showError(e.message); }
  }

  let statePushes = 0;  // state pushes received: a read begun before one of them is older than it
  async function refresh() {
    const pushesBefore = statePushes;
    const s = await api("state");
    // Read before a push arrived (a state set just after the socket opened): the push is newer.
    if (statePushes === pushesBefore) setState(s.state, s.reason, s.state_since);
    if (s.shift_started) shiftStart = Date.parse(s.shift_started);
    const missed = $("missed");
    missed.hidden = !s.missed.length;
    missed.textContent = s.missed.length ? "Missed: " + s.missed.map((m) => m.tenant + " (" + m.queue + ") at " + when(m.at)).join("; ") : "";
    if (s.phase === "offer") await showOffer(s.reservation);
    else if (s.phase === "call") await showCall(s.reservation);
    else clearCall();
  }

  function send(message) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)); else showError("Not connected; retrying…"); }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/operator/");
    ws.onopen = () => { retry = 500; $("link").textContent = "connected"; $("link").classList.add("up"); showError(""); refresh().catch((e) => showError(e.message)); };
    ws.onclose = () => {
      $("link").textContent = "reconnecting…"; $("link").classList.remove("up");
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "state") {
        statePushes += 1;
        setState(m.state, m.reason);
        if ((m.state === "on_call" || m.state === "wrap_up") && reservation && phase && phase !== "finishing") showCall(reservation).catch((e) => showError(e.message));
        if (m.state === "available" && phase === "call") refresh().catch((e) => showError(e.message));
      } else if (m.type === "offer") showOffer(m.reservation).catch((e) => showError(e.message));
      else if (m.type === "offer_cancelled" && m.reservation === reservation && phase === "offer") {
        clearCall(); const missed = $("missed"); missed.hidden = false; missed.textContent = "The offer was withdrawn (" + m.reason + ").";
      } else if (m.type === "accepted") showCall(m.reservation).catch((e) => showError(e.message));
      else if (m.type === "call_lost") {
        lost.add(m.reservation);
        if (m.reservation === reservation) {
          clearCall(); const missed = $("missed"); missed.hidden = false;
          missed.textContent = "The call could not be connected (" + (LOST_BECAUSE[m.reason] || m.reason) + "): it went back in line.";
        }
      }
      else if (m.type === "outbound" || (m.type === "connected" && m.reservation === reservation)) showCall(m.reservation).catch((e) => showError(e.message));
      else if (m.type === "outbound_ended" && m.reservation === reservation) {
        clearCall(); const missed = $("missed"); missed.hidden = false; missed.textContent = "The outbound call ended: " + m.reason + ".";
      }
      else if (m.type === "error") showError(m.error);
      else if (m.type === "resync") refresh().catch((e) => showError(e.message));  // a push may have been lost
    };
  }

  $("accept").addEventListener("click", () => { if (phase === "offer") send({ type: "accept", reservation: reservation }); });
  $("reject").addEventListener("click", () => { if (phase === "offer") { send({ type: "reject", reservation: reservation }); clearCall(); } });
  $("next").addEventListener("click", next);
  $("back").addEventListener("click", back);
  $("step").addEventListener("submit", (e) => { e.preventDefault(); next(); });
  $("state-choice").addEventListener("change", () => { $("break-reason").hidden = $("state-choice").value !== "break"; });
  $("state-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const state = $("state-choice").value;
    send({ type: "set_state", state: state, reason: state === "break" ? $("break-reason").value : "" });
  });
  $("add-note").addEventListener("click", async () => {
    const text = $("note").value.trim(); if (!text) return;
    try { await api("calls/" + reservation + "/script", { action: "note", value: text }); $("notes").append(el("li", text)); $("note").value = ""; } catch (e) { showError(e.message); }
  });
  $("transfer").addEventListener("click", async () => {
    const key = $("specialist").value; if (!key) return;
    try { await api("calls/" + reservation + "/transfer", { specialist: key, mode: "blind" }); $("call-live").textContent = "Transferring: you leave when the specialist answers."; } catch (e) { showError(e.message); }
  });
  const warm = (on) => { $("transfer-complete").hidden = !on; $("transfer-cancel").hidden = !on; };
  $("transfer-warm").addEventListener("click", async () => {
    const key = $("specialist").value; if (!key) return;
    try { await api("calls/" + reservation + "/transfer", { specialist: key, mode: "warm" }); warm(true); $("call-live").textContent = "The caller is on hold; the specialist is ringing."; } catch (e) { showError(e.message); }
  });
  for (const [id, action] of [["transfer-complete", "complete"], ["transfer-cancel", "cancel"]]) {
    $(id).addEventListener("click", async () => {
      try { await api("calls/" + reservation + "/transfer", { action }); warm(false); await showCall(reservation); } catch (e) { showError(e.message); }
    });
  }
  let muted = false;
  $("mute-line").addEventListener("click", async () => {
    try { await api("calls/" + reservation + "/mute", { on: !muted }); muted = !muted; $("mute-line").setAttribute("aria-pressed", muted ? "true" : "false"); $("mute-line").textContent = muted ? "Unmute my line" : "Mute my line"; } catch (e) { showError(e.message); }
  });
  $("dial").addEventListener("click", () => { if (outbound && outbound.phase === "preview") outboundAction("dial"); });
  $("skip").addEventListener("click", async () => {
    if (!(outbound && outbound.phase === "preview")) return;
    try { await api("calls/" + reservation + "/skip", {}); clearCall(); await refresh(); } catch (e) { showError(e.message); }
  });
  $("opt-out").addEventListener("click", () => {
    if (window.confirm("Put this number on the company's do-not-call list?")) outboundAction("opt-out");
  });
  $("hold").addEventListener("click", () => { if (connected) outboundAction("hold", { on: !onHold }); });
  $("hang-up").addEventListener("click", async () => {
    try { await api("calls/" + reservation + "/hang-up", {}); await showCall(reservation); } catch (e) { showError(e.message); }
  });
  $("wrap").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("disposition").value && $("disposition").options.length > 1) { showError("Choose a disposition."); $("disposition").focus(); return; }
    // While the wrap-up is sent, the pushes it causes (wrap-up, available) must not reload this call.
    const finishing = reservation; phase = "finishing";
    try {
      await api("calls/" + finishing + "/wrap-up", { disposition: $("disposition").value, note: $("wrap-note").value, available: $("then-available").checked });
      $("wrap-note").value = ""; showError(""); clearCall(); await refresh();
    } catch (err) { phase = "call"; showError(err.message); }
  });
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "a" && !typing && phase === "offer") { e.preventDefault(); $("accept").click(); }
    else if (key === "n" && !typing && phase === "call") { e.preventDefault(); next(); }
    else if (key === "d" && !typing && phase === "call") { e.preventDefault(); $("disposition").focus(); }
    else if (key === "c" && !typing && outbound && outbound.phase === "preview") { e.preventDefault(); $("dial").click(); }
    else if (key === "h" && !typing && connected) { e.preventDefault(); $("hold").click(); }
  });
  setInterval(tick, 500);
  connect();
})();
