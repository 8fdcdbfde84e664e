// Live supervision on the wallboard (R21): the live calls come with each pushed snapshot; a
// supervisor joins one listening, whispering or barging, switches mode, and leaves. Every change is
// a POST; the answer (or Twilio's refusal, as a message) is what the page then shows.
(function () {
  "use strict";
  const root = document.getElementById("supervision");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const MODES = { listen: "Listen", whisper: "Whisper", barge: "Barge" };
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  let session = null, calls = [], busy = false;

  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = text; if (cls) e.className = cls; return e; }
  function clock(s) { const m = Math.floor(s / 60), r = s % 60; return m + ":" + String(r).padStart(2, "0"); }
  function say(text, error) { const s = $("supervision-status"); s.textContent = text; s.classList.toggle("error", !!error); }

  async function post(url, body) {
    const response = await fetch(url, { method: "POST", credentials: "same-origin", body: JSON.stringify(body || {}),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf } });
    const data = await response.json().catch(() => ({ error: "The server did not answer (" + response.status + ")." }));
    if (!response.ok) throw new Error(data.error || "Refused (" + response.status + ").");
    return data;
  }

  function show(state) {
    session = state.session;
    if (state.phone !== undefined && document.activeElement !== $("supervision-phone")) $("supervision-phone").value = state.phone;
    $("supervision-leave").hidden = !session;
    const call = session && calls.find((c) => c.id === session.call);
    if (session) say("Monitoring " + (call ? call.tenant + " / " + call.queue + " (" + call.operator + ")" : "a call") + ": " + MODES[session.mode] + (session.mode === "whisper" ? " (only the operator hears you)" : session.mode === "listen" ? " (muted)" : " (caller and operator hear you)"));
    else say("Not monitoring a call.");
    render();
  }

  async function act(url, body) {
    if (busy) return;
    busy = true;
    try { show(await post(url, body)); } catch (error) { say(error.message, true); } finally { busy = false; render(); }
  }

  function render() {
    const body = $("live-calls"); body.replaceChildren();
    for (const c of calls) {
      const tr = el("tr"); tr.dataset.call = c.id;
      const company = el("td"); const dot = el("span", "", "dot"); dot.style.background = c.brand_color; company.append(dot, document.createTextNode(c.tenant));
      const who = el("td", c.monitors.map((m) => m.name + " (" + MODES[m.mode] + ")").join(", ") || "—");
      const actions = el("td"); actions.className = "monitor";
      const mine = session && session.call === c.id;
      for (const mode of Object.keys(MODES)) {
        const b = el("button", MODES[mode], mine && session.mode === mode ? "" : "secondary");
        b.type = "button"; b.dataset.mode = mode; b.disabled = busy || (mine && session.mode === mode) || (!!session && !mine);
        b.setAttribute("aria-pressed", String(!!(mine && session.mode === mode)));
        b.setAttribute("aria-label", MODES[mode] + ": " + c.tenant + ", " + c.queue + ", " + c.operator);
        b.addEventListener("click", () => act(root.dataset.monitorUrl.replace(/0$/, String(c.id)), { mode, device: $("supervision-device").value }));
        actions.append(b);
      }
      tr.append(company, el("td", c.queue), el("td", c.operator), el("td", clock(c.talking), "num"), who, actions);
      body.append(tr);
    }
    if (!calls.length) { const tr = el("tr"); const td = el("td", "No call in progress.", "muted"); td.colSpan = 6; tr.append(td); body.append(tr); }
  }

  document.addEventListener("wallboard:snapshot", (event) => {
    calls = event.detail.calls || [];
    if (session && !calls.some((c) => c.id === session.call)) { refresh(); return; } // the call ended
    const me = Number(root.dataset.me);
    if (!session && calls.some((c) => c.monitors.some((m) => m.supervisor === me))) { refresh(); return; }
    render();
  });
  $("supervision-leave").addEventListener("click", () => act(root.dataset.leaveUrl));
  $("supervision-phone-save").addEventListener("click", async () => {
    try { show(await post(root.dataset.phoneUrl, { phone: $("supervision-phone").value })); say("Number saved."); } catch (error) { say(error.message, true); }
  });

  async function refresh() {
    try { const r = await fetch(root.dataset.stateUrl, { credentials: "same-origin" }); if (r.ok) show(await r.json()); } catch (e) { /* the next snapshot tries again */ }
  }
  refresh();
})();
