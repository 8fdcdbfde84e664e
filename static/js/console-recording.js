// PCI pause on the operator console: the call's recording paused for card data and resumed.
// console.js tells this file about the call shown (console:call), script moves (console:step) and
// the console going idle (console:idle); the state shown is always the server's answer.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const base = root.dataset.base, csrf = root.dataset.csrf;
  const button = document.getElementById("pause-recording"), status = document.getElementById("recording-status");
  let reservation = null, live = false, paused = false;
  const seen = new Set();

  function time(iso) { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }); }

  function render(state, error) {
    if (!state || !state.recorded) { button.hidden = true; status.hidden = true; return; }
    paused = !!state.paused;
    button.hidden = !live;
    button.textContent = paused ? "Resume recording" : "Pause recording (card data)";
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    status.hidden = false;
    status.dataset.paused = paused ? "true" : "false";
    status.textContent = paused
      ? "Recording paused since " + time(state.paused_since) + (state.paused_by ? " by " + state.paused_by : "") + (state.reason && state.reason.startsWith("sensitive step") ? " (sensitive step)" : "")
      : "Recording.";
    if (error) status.textContent += " " + error;
    status.setAttribute("role", error ? "alert" : "status");
  }

  async function post(body) {
    const response = await fetch(base + "calls/" + reservation + "/recording", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || ("The server answered " + response.status));
    return data;
  }

  document.addEventListener("console:call", (e) => {
    const view = e.detail.view;
    reservation = e.detail.reservation;
    live = !!(view.call.live && view.call.connected);
    render(view.recording, null);
    // Back on a call whose recording is paused (a reload): it stays paused, and the call's events say so.
    if (!seen.has(reservation)) {
      seen.add(reservation);
      if (view.recording && view.recording.paused && live) post({ keep: true }).catch(() => {});
    }
    // Connected while the script stands on a sensitive step (e.g. the first): pause as entering one does.
    if (live && view.step && view.step.sensitive && view.recording && view.recording.recorded && !view.recording.paused) {
      post({ follow: true }).then((r) => render(r.recording, r.recording_error)).catch((err) => render(view.recording, err.message));
    }
  });
  document.addEventListener("console:step", (e) => { if (e.detail.recording) render(e.detail.recording, e.detail.recording_error); });
  document.addEventListener("console:idle", () => { reservation = null; live = false; render(null); });
  button.addEventListener("click", async () => {
    if (!reservation) return;
    button.disabled = true;
    try { render(await post({ on: !paused }), null); } catch (err) {
      status.hidden = false; status.setAttribute("role", "alert");
      status.textContent = err.message;
    } finally { button.disabled = false; }
  });
})();
