// Live validation of a script node: post the unsaved form to the check URL, show what it returns.
(function () {
  "use strict";
  const form = document.getElementById("node-form");
  if (!form || !form.dataset.checkUrl) return;
  const own = document.getElementById("node-problems");
  const ok = document.getElementById("node-ok");
  const others = document.getElementById("other-problems");
  const state = document.getElementById("check-state");
  let timer = null;
  let latest = 0;

  function item(problem, withNode) {
    const li = document.createElement("li");
    if (withNode && problem.node) {
      const code = document.createElement("code");
      code.textContent = problem.node;
      li.append(code, ": ");
    } else if (problem.code) {
      const code = document.createElement("code");
      code.textContent = problem.code;
      li.append(code, " ");
    }
    li.append(problem.message);
    return li;
  }

  async function check() {
    const ticket = ++latest;
    state.textContent = "checking…";
    let data;
    try {
      const response = await fetch(form.dataset.checkUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (error) {
      if (ticket === latest) state.textContent = "could not check (" + error.message + ")";
      return;
    }
    if (ticket !== latest) return;
    own.replaceChildren(...data.problems.map((p) => item(p, false)));
    ok.hidden = data.problems.length > 0;
    others.replaceChildren(...(data.other_problems.length ? data.other_problems.map((p) => item(p, true)) : [Object.assign(document.createElement("li"), { className: "muted", textContent: "Nothing." })]));
    form.querySelectorAll("[data-error-for]").forEach((el) => {
      const message = data.field_errors[el.dataset.errorFor] || "";
      el.textContent = message;
      el.closest(".field").classList.toggle("invalid", Boolean(message));
    });
    state.textContent = data.problems.length ? data.problems.length + " problem(s)" : "all good";
  }

  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(check, 50); });
  // Anything typed before this script loaded is checked now.
  check().then(() => { form.dataset.live = "on"; });
})();
