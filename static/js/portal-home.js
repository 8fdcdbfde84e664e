// Who is online in the portal now: the portal socket greets us and tells who comes and goes.
(function () {
  const list = document.getElementById("online");
  const online = new Set();
  const draw = () => { list.replaceChildren(...[...online].sort().map(u => { const li = document.createElement("li"); li.textContent = u; return li; })); };
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/portal/");
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "hello") { online.add(msg.user); }
    if (msg.type === "presence") { msg.online ? online.add(msg.user) : online.delete(msg.user); }
    draw();
  };
})();
