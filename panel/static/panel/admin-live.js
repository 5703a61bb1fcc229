// Keeps an admin page current (a change list, the index's fleet status box): listens to
// /ws/fleet and reloads the page when a change of one of this script's `data-kinds` arrives.
// While the operator has rows ticked or is typing, it only says that the list changed, so a
// reload never throws away a selection.
"use strict";

(() => {
  const kinds = new Set((document.currentScript.dataset.kinds || "").split(","));
  const QUIET_MS = 700;
  let timer = null;
  let attempt = 0;

  function busy() {
    const form = document.getElementById("changelist-form");
    if (!form) return false;
    return Boolean(form.querySelector("input.action-select:checked")) || form.contains(document.activeElement);
  }

  function notice() {
    if (document.querySelector(".live-notice")) return;
    const box = document.createElement("p");
    box.className = "live-notice";
    box.setAttribute("role", "status");
    box.append("This list has changed.");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Reload";
    button.addEventListener("click", () => location.reload());
    box.append(button);
    const list = document.getElementById("changelist") || document.body;
    list.prepend(box);
  }

  function changed() {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      if (busy()) notice();
      else location.reload();
    }, QUIET_MS);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/fleet`);
    socket.onopen = () => {
      // Back after a drop: whatever changed meanwhile was not announced to this page.
      if (attempt > 0) changed();
      attempt = 0;
      document.documentElement.dataset.live = "open";
    };
    socket.onmessage = (event) => {
      try {
        if (kinds.has(JSON.parse(event.data).kind)) changed();
      } catch {
        // not a change announcement
      }
    };
    socket.onclose = () => {
      delete document.documentElement.dataset.live;
      attempt += 1;
      setTimeout(connect, Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)));
    };
  }

  connect();
})();
