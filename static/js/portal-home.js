// Who is online in the portal now: the portal socket greets us with the list and sends it again
// whenever somebody comes or goes (and every 20 s: a list, so nothing missed stays wrong).
(function () {
  const list = document.getElementById("online");
  const draw = (names) => { list.replaceChildren(...[...names].sort().map(u => { const li = document.createElement("li"); li.textContent = u; return li; })); };
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/portal/");
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "hello") draw(msg.online);
    else if (msg.type === "online") draw(msg.users);
  };
})();
