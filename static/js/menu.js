// The main menu on a narrow screen: folded behind a "Menu" button (shown only when this script
// runs, so without it the menu simply wraps and stays usable).
(function () {
  const button = document.querySelector(".menu-button");
  const nav = document.getElementById("main-nav");
  if (!button || !nav) { return; }
  document.documentElement.classList.add("has-menu-button");
  button.hidden = false;
  button.addEventListener("click", function () {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
})();
