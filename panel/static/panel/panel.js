// The panel's live part. The page arrives rendered with data; this script subscribes to /ws/fleet,
// re-fetches /panel/state.json (debounced) whenever something changes and rebuilds the sections.
// Every value goes into the page as text (textContent / text nodes), never as HTML. Authentication
// is the staff session cookie: no key is kept anywhere in the browser.
"use strict";

(() => {
  const body = document.body;
  const STATE_URL = body.dataset.stateUrl;
  const CSRF = body.dataset.csrf;
  const REFRESH_DEBOUNCE_MS = 150;
  const MAX_CHART_POINTS = 720;
  const $ = (selector) => document.querySelector(selector);

  let snapshot = null;
  let selectedId = streamIdFromHash();

  // ---- Words (the same rules as panel/templatetags/panel_format.py) -------------------------------
  function duration(seconds) {
    seconds = Math.floor(seconds);
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }
  const secondsSince = (iso) => Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  function ago(iso) {
    if (!iso) return "never";
    const seconds = secondsSince(iso);
    return seconds < 5 ? "just now" : `${duration(seconds)} ago`;
  }
  const uptime = (iso) => (iso ? duration(secondsSince(iso)) : "—");
  const secondsUntil = (iso) => Math.max(0, Math.floor((Date.parse(iso) - Date.now()) / 1000));
  function countdown(iso) {
    if (!iso) return "—";
    const left = secondsUntil(iso);
    const pad = (n) => String(n).padStart(2, "0");
    if (left < 60) return `${left} s`;
    if (left < 3600) return `${Math.floor(left / 60)} min ${pad(left % 60)} s`;
    return `${Math.floor(left / 3600)} h ${pad(Math.floor((left % 3600) / 60))} min`;
  }
  function speed(kb) {
    if (typeof kb !== "number") return "—";
    return kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB/s` : `${kb} KB/s`;
  }
  const orDash = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));
  const FORMATS = { ago, uptime, countdown };

  // ---- DOM helpers: attributes and text only ------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const timeEl = (iso, format) =>
    el("time", { "data-fmt": format, datetime: iso || "" }, FORMATS[format](iso));

  function tickTimes() {
    for (const node of document.querySelectorAll("time[data-fmt]:not([data-fmt=countdown])")) {
      node.textContent = FORMATS[node.dataset.fmt](node.getAttribute("datetime"));
    }
  }

  // The open breaker turns half-open by time alone, with nothing to announce it: count down each
  // second, and read the state again when the count reaches zero.
  function tickCountdowns() {
    for (const node of document.querySelectorAll("time[data-fmt=countdown]")) {
      const iso = node.getAttribute("datetime");
      node.textContent = countdown(iso);
      if (iso && secondsUntil(iso) === 0 && node.dataset.expired !== "1") {
        node.dataset.expired = "1";
        scheduleRefresh(1000);
      }
    }
  }

  let toastTimer = null;
  function toast(message, isError) {
    const box = $("#toast");
    box.textContent = message;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  // ---- Rendering ---------------------------------------------------------------------------------
  function renderBanner(problem) {
    const banner = $("#banner");
    banner.hidden = !problem.blocked;
    if (!problem.blocked) return;
    banner.className = `banner banner-${problem.level}`;
    const set = (name, ...content) => $(`[data-banner="${name}"]`).replaceChildren(...content);
    set("title", problem.title);
    set("code", problem.code);
    set("message", problem.message);
    set("advice", problem.advice, ...(problem.countdown_until ? [" ", el("span", { class: "nowrap" },
      "Half-open in ", timeEl(problem.countdown_until, "countdown"), ".")] : []));
    set("actions", ...problem.actions.map((action) => el("a", { class: "button", href: action.url }, action.label)));
  }

  function renderKpis(kpis) {
    const set = (name, text) => { $(`[data-kpi="${name}"]`).textContent = text; };
    set("healthy", kpis.engines.healthy);
    $('[data-kpi="healthy"]').className = `kpi-value ${kpis.engines.healthy_level}`;
    set("healthy_detail", kpis.engines.min_replicas ? `of ${kpis.engines.min_replicas} wanted` : "");
    set("unhealthy", kpis.engines.unhealthy);
    $('[data-kpi="unhealthy"]').className = kpis.engines.unhealthy ? "kpi-value bad" : "kpi-value";
    set("unknown", kpis.engines.unknown);
    set("active_streams", kpis.active_streams);
    set("speed_down", speed(kpis.speed_down));
    set("speed_up", speed(kpis.speed_up));
    set("peers", kpis.peers);
    set("vpn", kpis.vpn.status);
    $('[data-kpi="vpn"]').className = `kpi-value vpn-${kpis.vpn.status}`;
    const detail = [kpis.vpn.public_ip, kpis.vpn.forwarded_port ? `port ${kpis.vpn.forwarded_port}` : ""];
    set("vpn_detail", detail.filter(Boolean).join(" · "));
  }

  function engineRow(engine) {
    const badges = [
      engine.forwarded && el("span", { class: "badge fwd", title: "holds the VPN's forwarded port as its P2P port" },
        `P2P ${engine.p2p_port}`),
      !engine.managed && el("span", { class: "badge" }, "external"),
      engine.state !== "running" && el("span", { class: "badge warn" }, engine.state),
    ].filter(Boolean).flatMap((badge) => [" ", badge]);
    const labels = Object.entries(engine.labels || {});
    const button = (action, text, extraClass) => el("button", {
      type: "button", class: extraClass, "data-action": action, "data-id": engine.id, "data-name": engine.name,
    }, text);
    const playing = engine.playing || [];
    return el("tr", { "data-engine": engine.id },
      el("td", { "data-label": "Engine" },
        el("div", { class: "name" }, engine.name, badges),
        labels.length && el("div", { class: "chips" },
          labels.map(([key, value]) => el("span", { class: "chip" }, `${key}=${value}`))),
        playing.length && el("div", { class: "chips" },
          playing.map((key) => el("span", { class: "chip playing", title: "played by the orchestrator" }, `▶ ${key}`)))),
      el("td", { "data-label": "Health", class: "nowrap" },
        el("span", { class: `health health-${engine.health}` }, engine.health),
        engine.health_error && el("div", { class: "reason" }, engine.health_error)),
      el("td", { "data-label": "Address", class: "nowrap" }, el("span", { class: "mono" }, `${engine.host}:${orDash(engine.port)}`)),
      el("td", { "data-label": "Streams" }, engine.active_streams),
      el("td", { "data-label": "Last used", class: "nowrap" }, timeEl(engine.last_used, "ago")),
      el("td", { "data-label": "Last check", class: "nowrap" }, timeEl(engine.last_check, "ago")),
      el("td", { "data-label": "Uptime", class: "nowrap" }, timeEl(engine.running_since, "uptime")),
      el("td", { class: "actions" }, button("check", "Check now"), button("delete", "Delete", "danger")));
  }

  function renderEngines(engines) {
    $("#engine-count").textContent = engines.length;
    const rows = engines.length
      ? engines.map(engineRow)
      : [el("tr", { class: "empty" }, el("td", { colspan: 8 }, "No engines yet."))];
    $("#engines tbody").replaceChildren(...rows);
  }

  function renderVpn(vpn) {
    const status = $('[data-vpn="status"]');
    status.textContent = vpn.status;
    status.className = `pill vpn-${vpn.status}`;
    const set = (name, ...content) => $(`[data-vpn="${name}"]`).replaceChildren(...content);
    set("health", vpn.health);
    set("container", (vpn.container_name || "—") + (vpn.container_status ? ` (${vpn.container_status})` : ""));
    set("public_ip", orDash(vpn.public_ip));
    set("forwarded_port", orDash(vpn.forwarded_port));
    set("last_check", timeEl(vpn.last_check, "ago"));
    set("last_error", orDash(vpn.last_error));
    const items = vpn.transitions.length
      ? vpn.transitions.map((t) => el("li", {}, timeEl(t.ts, "ago"), " ", el("strong", {}, t.kind), " ",
        el("span", { class: "muted" }, t.detail)))
      : [el("li", { class: "muted" }, "None recorded.")];
    $("#transitions").replaceChildren(...items);
  }

  function streamItem(stream) {
    const latest = stream.latest || {};
    return el("li", {}, el("button", {
      type: "button", class: "stream", "data-id": stream.id, "aria-pressed": String(stream.id === selectedId),
    },
    el("span", { class: "stream-key" }, el("span", { class: "badge" }, stream.key_type), " ",
      stream.played_by_orchestrator && el("span", { class: "badge players", "data-players": stream.players },
        `${stream.players} player${stream.players === 1 ? "" : "s"}`), " ",
      el("span", { class: "mono" }, stream.id)),
    el("span", { class: "stream-meta" },
      `${stream.engine || "unknown engine"} · ↓ ${speed(latest.speed_down)} · ↑ ${speed(latest.speed_up)} · `
      + `${orDash(latest.peers)} peers · started `, timeEl(stream.started_at, "ago"))));
  }

  function renderStreams(streams) {
    $("#stream-count").textContent = streams.length;
    const items = streams.length ? streams.map(streamItem) : [el("li", { class: "muted empty" }, "No started streams.")];
    $("#streams").replaceChildren(...items);
  }

  function renderDetail() {
    const fields = $("#detail-fields");
    const stream = snapshot && selectedId ? snapshot.streams.find((s) => s.id === selectedId) : null;
    $("#detail-empty").hidden = Boolean(selectedId);
    $("#chart-box").hidden = !selectedId;
    fields.hidden = !selectedId;
    if (!selectedId) return;
    if (!stream) {
      fields.replaceChildren(el("dt", {}, "Stream"), el("dd", { class: "mono" }, selectedId),
        el("dt", {}, "Status"), el("dd", {}, snapshot ? "no longer started" : "loading…"));
      return;
    }
    const latest = stream.latest || {};
    const rows = [
      ["Stream", el("span", { class: "mono" }, stream.id)],
      ["Key", el("span", { class: "mono" }, `${stream.key_type}: ${stream.key}`)],
      ["Engine", `${stream.engine || "unknown"} (${stream.container_id.slice(0, 12) || "—"})`],
      ["Session", el("span", { class: "mono" }, orDash(stream.playback_session_id))],
      ["Live", stream.is_live ? "yes" : "no"],
      ["Started", timeEl(stream.started_at, "ago")],
      ["Now", `↓ ${speed(latest.speed_down)} · ↑ ${speed(latest.speed_up)} · ${orDash(latest.peers)} peers`
        + (latest.status ? ` · ${latest.status}` : "")],
      ["Labels", Object.entries(stream.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ];
    fields.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  }

  function render(state) {
    snapshot = state;
    renderBanner(state.provisioning);
    $("#security-banner").hidden = !state.security.open_api;
    renderKpis(state.kpis);
    renderEngines(state.engines);
    renderVpn(state.vpn);
    renderStreams(state.streams);
    renderDetail();
    const updated = $("#updated");
    updated.setAttribute("datetime", state.generated_at);
    updated.textContent = ago(state.generated_at);
  }

  // ---- Snapshot refresh (debounced: a burst of changes costs one fetch) ----------------------------
  let refreshTimer = null;
  let refreshing = false;
  let refreshAgain = false;

  function scheduleRefresh(delay = REFRESH_DEBOUNCE_MS) {
    if (refreshTimer === null) refreshTimer = setTimeout(refresh, delay);
  }

  async function refresh() {
    refreshTimer = null;
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try {
      const response = await fetch(STATE_URL, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401 || response.status === 403) { loggedOut(); return; }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
    } catch (error) {
      setLink("down", `cannot load the fleet state (${error.message})`);
    } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; scheduleRefresh(0); }
    }
  }

  // ---- Chart of the selected stream ---------------------------------------------------------------
  let chart = null;
  let chartFor = null;
  let lastTs = null;
  let chartLoading = false;

  const statsUrl = (id) => `/streams/${encodeURIComponent(id)}/stats`;
  const label = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });

  function makeChart() {
    Chart.defaults.color = "#8b949e";
    Chart.defaults.borderColor = "#2a3340";
    const line = (name, color, axis) => ({
      label: name, data: [], yAxisID: axis, borderColor: color, backgroundColor: color,
      borderWidth: 2, pointRadius: 0, tension: 0.25,
    });
    return new Chart($("#chart"), {
      type: "line",
      data: { labels: [], datasets: [line("Download KB/s", "#58a6ff", "y"), line("Upload KB/s", "#3fb950", "y"),
        line("Peers", "#d29922", "y1")] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } },
          y: { position: "left", beginAtZero: true, title: { display: true, text: "KB/s" } },
          y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "peers" } },
        },
      },
    });
  }

  function addPoints(points) {
    const fresh = lastTs ? points.filter((p) => Date.parse(p.ts) > Date.parse(lastTs)) : points;
    if (!fresh.length) return;
    const [down, up, peers] = chart.data.datasets;
    for (const point of fresh) {
      chart.data.labels.push(label(point.ts));
      down.data.push(point.speed_down);
      up.data.push(point.speed_up);
      peers.data.push(point.peers);
    }
    const excess = chart.data.labels.length - MAX_CHART_POINTS;
    if (excess > 0) for (const series of [chart.data.labels, down.data, up.data, peers.data]) series.splice(0, excess);
    lastTs = fresh[fresh.length - 1].ts;
    chart.update("none");
  }

  async function loadChart() {
    if (!selectedId || chartLoading) return;
    const id = selectedId;
    const since = chartFor === id && lastTs ? `?since=${encodeURIComponent(lastTs)}` : "";
    chartLoading = true;
    try {
      const response = await fetch(statsUrl(id) + since, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok || id !== selectedId) return;
      const points = await response.json();
      if (chartFor !== id) {
        chart = chart || makeChart();
        chart.data.labels = [];
        for (const dataset of chart.data.datasets) dataset.data = [];
        chartFor = id;
        lastTs = null;
      }
      addPoints(points);
    } catch (error) {
      toast(`could not load the stream's history: ${error.message}`, true);
    } finally {
      chartLoading = false;
    }
  }

  function streamIdFromHash() {
    const match = location.hash.match(/^#stream=(.+)$/);
    if (!match) return null;
    try { return decodeURIComponent(match[1]); } catch { return null; }
  }

  function select(id) {
    selectedId = id;
    history.replaceState(null, "", `#stream=${encodeURIComponent(id)}`);
    for (const node of document.querySelectorAll("button.stream")) {
      node.setAttribute("aria-pressed", String(node.dataset.id === id));
    }
    renderDetail();
    loadChart();
  }

  // ---- Staff actions ------------------------------------------------------------------------------
  async function engineAction(button) {
    const { action, id, name } = button.dataset;
    if (action === "delete" && !window.confirm(`Stop and remove ${name}? Its streams end.`)) return;
    const url = body.dataset[`${action}Url`].replace("/0/", `/${encodeURIComponent(id)}/`);
    button.disabled = true;
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": CSRF },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) { toast(`${name}: ${answer.detail || `HTTP ${response.status}`}`, true); return; }
      toast(action === "delete" ? `${name} removed`
        : `${name}: ${answer.health}${answer.reason ? ` (${answer.reason})` : ""}`, false);
      scheduleRefresh(0);
    } catch (error) {
      toast(`${name}: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // ---- The socket: announcements of changes, with reconnection and resync -------------------------
  let attempt = 0;
  let stopped = false;

  function setLink(kind, text) {
    const link = $("#link");
    link.className = `pill pill-${kind}`;
    link.textContent = text;
  }

  function loggedOut() {
    stopped = true;
    setLink("down", "logged out");
    const box = $("#toast");
    box.replaceChildren("Your session has ended. ", el("a", { href: `/admin/login/?next=${encodeURIComponent("/panel")}` },
      "Log in again"));
    box.className = "error";
    box.hidden = false;
  }

  function connect() {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${body.dataset.socketPath}`);
    socket.onopen = () => {
      attempt = 0;
      setLink("ok", "live");
      // Whatever changed while the page loaded or the socket was down: fetch it once now.
      scheduleRefresh(0);
      loadChart();
    };
    socket.onmessage = (event) => {
      let change;
      try { change = JSON.parse(event.data); } catch { return; }
      scheduleRefresh();
      if (change.kind === "stats" || change.kind === "stream") loadChart();
    };
    socket.onclose = () => {
      attempt += 1;
      const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
      setLink("down", `disconnected · retrying in ${Math.round(delay / 1000)} s`);
      setTimeout(connect, delay);
      // A refused handshake looks like any other drop: the state URL tells a lost session apart.
      if (attempt === 1 || attempt % 3 === 0) refresh();
    };
  }

  // ---- Start ---------------------------------------------------------------------------------------
  $("#engines").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) engineAction(button);
  });
  $("#streams").addEventListener("click", (event) => {
    const button = event.target.closest("button.stream");
    if (button) select(button.dataset.id);
  });
  if (selectedId) renderDetail();
  setInterval(tickTimes, 5000);
  setInterval(tickCountdowns, 1000);
  connect();
})();
