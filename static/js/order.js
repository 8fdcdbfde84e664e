// The order form is sent once: a second click while it is on its way does nothing.
document.getElementById("order-form").addEventListener("submit", function (e) {
  const button = document.getElementById("submit-order");
  if (button.dataset.sent) { e.preventDefault(); return; }
  button.dataset.sent = "1"; button.setAttribute("aria-busy", "true");
});
