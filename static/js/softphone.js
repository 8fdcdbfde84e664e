// The operator's browser phone: Twilio's Voice JavaScript SDK (vendored), registered with a token
// from /console/token. An accepted offer is bridged by the server to <Client>operator-N</Client>;
// the call that then rings here is answered at once (the operator already accepted in the console).
(function () {
  "use strict";
  const panel = document.getElementById("softphone");
  if (!panel || panel.dataset.enabled !== "on") return;
  const status = document.getElementById("softphone-status");
  const mute = document.getElementById("softphone-mute");
  let device = null, current = null;

  function say(text, state) { status.textContent = text; panel.dataset.state = state; }

  async function token() {
    const response = await fetch(panel.dataset.tokenUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error("no phone token (" + response.status + ")");
    return (await response.json()).token;
  }

  function track(call) {
    current = call;
    mute.disabled = false;
    call.on("disconnect", () => { current = null; mute.disabled = true; mute.setAttribute("aria-pressed", "false"); say("Phone ready", "ready"); });
    call.on("error", (error) => say("Call audio failed: " + error.message, "error"));
    say("Caller connected", "call");
  }

  async function start() {
    if (!window.Twilio || !window.Twilio.Device) { say("Phone unavailable: the Voice SDK did not load", "error"); return; }
    say("Phone connecting…", "connecting");
    try {
      device = new window.Twilio.Device(await token(), { closeProtection: "A call is in progress.", codecPreferences: ["opus", "pcmu"] });
    } catch (error) { say("Phone unavailable: " + error.message, "error"); return; }
    device.on("registered", () => say("Phone ready", "ready"));
    device.on("unregistered", () => say("Phone offline", "offline"));
    device.on("error", (error) => say("Phone error: " + error.message, "error"));
    device.on("tokenWillExpire", async () => { try { device.updateToken(await token()); } catch (e) { say("Phone token: " + e.message, "error"); } });
    device.on("incoming", (call) => { call.accept(); track(call); });
    device.register().catch((error) => say("Phone offline: " + error.message, "error"));
  }

  mute.addEventListener("click", () => {
    if (!current) return;
    const muted = !current.isMuted();
    current.mute(muted);
    mute.setAttribute("aria-pressed", String(muted));
    mute.textContent = muted ? "Unmute" : "Mute";
  });
  window.addEventListener("beforeunload", () => { if (device) device.destroy(); });
  start();
})();
