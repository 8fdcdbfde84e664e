// Forms with data-confirm ask before they are sent (instead of an inline onsubmit handler, which the
// Content-Security-Policy forbids).
document.addEventListener("submit", function (event) {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
