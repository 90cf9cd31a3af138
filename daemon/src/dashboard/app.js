/* Vigil dashboard. Plain JavaScript, no build step, no framework, nothing from another origin.
 *
 * Sign-in trades the API token for an HttpOnly session cookie (POST /api/v1/session); this
 * script only ever holds the session's CSRF token, which it sends as X-CSRF-Token on
 * mutating calls. Everything else is the public admin API: /api/v1/stream (Server-Sent
 * Events: alert, kpi, drift) for what is live, and the stats, alerts, detectors, drift and
 * status routes, refreshed every few seconds. Every failure is shown on the page.
 * Text from alerts is only ever set as textContent, never parsed as HTML. */
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const ALERTS_REFRESH_MS = 10000;
  const TABLE_MAX = 300;
  // Alerts kept in memory for the table and the map's dots (the newest by event time).
  const KEEP_MAX = 1000;
  // Alerts from the stream are drawn in batches, at most this often.
  const DRAW_EVERY_MS = 1000;
  const SIGNED_IN_KEY = "vigil.signedIn";

  const $ = (id) => document.getElementById(id);
  const tpl = document.createElement("template");
  tpl.innerHTML = "<svg></svg>";
  const SVG_NS = tpl.content.firstChild.namespaceURI;

  const state = {
    csrf: null,
    alerts: new Map(),
    // By score: the lowest score of the last page when more alerts follow it, else null.
    scoreFloor: null,
    selected: null,
    stream: null,
    timers: [],
    lastRate: null,
    status: null,
    detectors: null,
    detectorNames: new Set(),
    fresh: new Set(),
    pending: [],
    drawTimer: null,
    busy: {},
    errors: new Map(),
  };

  /* ---------- helpers ---------- */

  class ApiFailure extends Error {
    constructor(status, detail, path) {
      super(detail);
      this.status = status;
      this.path = path;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, String(v));
    }
    return node;
  }

  function fmtInt(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(a >= 1e5 ? 0 : 1) + "k";
    return Math.round(n).toLocaleString("en");
  }

  function fmtNum(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    return Number(n).toFixed(digits);
  }

  function fmtTime(iso, withDate) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const t = d.toISOString();
    return withDate ? t.slice(0, 10) + " " + t.slice(11, 19) : t.slice(11, 19);
  }

  function fmtDuration(secs) {
    if (!Number.isFinite(secs)) return "–";
    const s = Math.floor(secs);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }

  function severityClass(sev) {
    if (sev === "red") return "sev-red";
    if (sev === "orange") return "sev-orange";
    return "sev-green";
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* ---------- errors shown on the page ---------- */

  function panelError(id, error) {
    const node = $(id);
    if (!node) return;
    if (error) {
      node.textContent = describe(error);
      node.hidden = false;
    } else {
      node.hidden = true;
      node.textContent = "";
    }
  }

  function describe(error) {
    if (error instanceof ApiFailure) {
      return error.path + ": " + (error.status ? error.status + " " : "") + error.message;
    }
    return String(error && error.message ? error.message : error);
  }

  function banner(text) {
    if (text) {
      $("banner-text").textContent = text;
      $("banner").hidden = false;
    } else {
      $("banner").hidden = true;
    }
  }

  /* ---------- API ---------- */

  async function api(path, options) {
    const opts = options || {};
    const method = opts.method || "GET";
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiFailure(0, "the server cannot be reached (" + error.message + ")", path);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        throw new ApiFailure(response.status, "the answer is not JSON", path);
      }
    }
    if (!response.ok) {
      const detail = data && data.detail ? data.detail : response.statusText;
      if (response.status === 401 && !opts.signIn) signedOut("Your session has ended: sign in again.");
      throw new ApiFailure(response.status, detail, path);
    }
    return data;
  }

  /* ---------- sign-in ---------- */

  function showSignIn(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    const error = $("signin-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("token").focus();
  }

  function signedOut(message) {
    if (!state.csrf) return;
    state.csrf = null;
    localStorage.removeItem(SIGNED_IN_KEY);
    stop();
    showSignIn(message);
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("token");
    const button = $("signin-submit");
    button.disabled = true;
    try {
      const session = await api("/api/v1/session", {
        method: "POST",
        body: { token: input.value.trim() },
        signIn: true,
      });
      input.value = "";
      begin(session);
    } catch (error) {
      const message =
        error.status === 401
          ? "Wrong token."
          : error.status === 403
            ? "Sign-in is disabled: " + error.message
            : describe(error);
      showSignIn(message);
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    try {
      await api("/api/v1/session", { method: "DELETE" });
    } catch (error) {
      banner("Sign-out failed: " + describe(error));
      return;
    }
    signedOut("Signed out.");
  }

  function begin(session) {
    state.csrf = session.csrf_token;
    localStorage.setItem(SIGNED_IN_KEY, "1");
    $("signin").hidden = true;
    $("app").hidden = false;
    start();
  }

  /* ---------- lifecycle ---------- */

  function start() {
    connect();
    refreshAll();
    refreshAlerts();
    state.timers.push(setInterval(refreshAll, REFRESH_MS));
    state.timers.push(setInterval(refreshAlerts, ALERTS_REFRESH_MS));
    state.timers.push(setInterval(tickUptime, 1000));
  }

  function stop() {
    for (const timer of state.timers) clearInterval(timer);
    state.timers = [];
    if (state.stream) state.stream.close();
    state.stream = null;
    state.alerts.clear();
    state.pending = [];
    state.kpiTicks = 0;
    state.lastRate = null;
    clearTimeout(state.drawTimer);
    state.drawTimer = null;
    closeDetail();
  }

  /* Runs `work` unless a previous run of the same name is still under way. */
  async function once(name, work) {
    if (state.busy[name]) return;
    state.busy[name] = true;
    try {
      await work();
    } finally {
      state.busy[name] = false;
    }
  }

  function refreshAll() {
    once("status", refreshStatus);
    once("summary", refreshSummary);
    once("timeseries", refreshTimeseries);
    once("tops", refreshTops);
    once("models", refreshModels);
    once("red", refreshOpenRed);
  }

  /* ---------- live stream ---------- */

  function setLive(ok, text) {
    const live = $("live");
    live.classList.toggle("ok", ok);
    live.classList.toggle("bad", !ok);
    $("live-text").textContent = text;
  }

  function connect() {
    if (state.stream) state.stream.close();
    const stream = new EventSource("/api/v1/stream");
    state.stream = stream;
    stream.addEventListener("open", () => setLive(true, "live"));
    stream.addEventListener("error", () => {
      if (stream.readyState === EventSource.CLOSED) {
        setLive(false, "stream closed");
        // Closed for good (401 after the session expired, or the server is gone): ask why.
        api("/api/v1/session")
          .then(() => setTimeout(() => state.csrf && connect(), 3000))
          .catch((error) => {
            if (error.status !== 401) banner("The live stream stopped: " + describe(error));
          });
      } else {
        setLive(false, "reconnecting");
      }
    });
    stream.addEventListener("kpi", (event) => onKpi(JSON.parse(event.data)));
    stream.addEventListener("alert", (event) => onAlert(JSON.parse(event.data)));
    stream.addEventListener("drift", () => once("models", refreshModels));
  }

  function onKpi(kpi) {
    const rate = kpi.events_per_sec;
    state.kpiTicks = (state.kpiTicks || 0) + 1;
    if (state.kpiTicks === 1) {
      // The first tick has no earlier one to measure a rate against.
      setKpi("rate", "…", document.createTextNode("measuring"));
    } else setKpi("rate", rate >= 100 ? fmtInt(rate) : fmtNum(rate, 1), trendFrom(rate, state.lastRate, "neutral", "/s"));
    state.lastRate = rate;
    $("top-decided").textContent = fmtInt(kpi.events_decided);
    if (kpi.champion) {
      $("top-champion").textContent = kpi.champion;
    }
  }

  function onAlert(alert) {
    state.pending.push(alert);
    if (!state.drawTimer) state.drawTimer = setTimeout(flushAlerts, DRAW_EVERY_MS);
  }

  /* Takes in the alerts the stream brought since the last draw, and draws once. */
  function flushAlerts() {
    state.drawTimer = null;
    const batch = state.pending;
    state.pending = [];
    for (const alert of batch) {
      state.alerts.set(alert.id, alert);
      state.fresh.add(alert.id);
    }
    trimAlerts();
    renderAlerts();
    const selected = state.selected && state.alerts.get(state.selected);
    if (selected && batch.some((a) => a.id === selected.id)) showDetail(selected);
  }

  function trimAlerts() {
    if (state.alerts.size <= KEEP_MAX) return;
    const newest = [...state.alerts.values()].sort((a, b) => (a.event_time < b.event_time ? 1 : -1));
    const keep = new Map();
    for (const alert of newest.slice(0, KEEP_MAX)) keep.set(alert.id, alert);
    const selected = state.selected && state.alerts.get(state.selected);
    if (selected) keep.set(selected.id, selected);
    state.alerts = keep;
  }

  /* ---------- KPIs ---------- */

  function setKpi(name, value, delta, alarm) {
    const tile = document.querySelector('[data-kpi="' + name + '"]');
    tile.querySelector(".kpi-value").textContent = value;
    const d = tile.querySelector(".kpi-delta");
    clear(d);
    if (delta) d.append(delta);
    tile.classList.toggle("alarm", Boolean(alarm));
  }

  /* An arrow and the change against `previous`: `upIs` says whether a rise is good, bad or neutral. */
  function trendFrom(value, previous, upIs, unit) {
    if (previous === null || previous === undefined || value === null || value === undefined) {
      return document.createTextNode("no earlier figure");
    }
    const diff = value - previous;
    const frag = document.createDocumentFragment();
    let arrow = "→";
    let cls = "flat neutral";
    if (diff > 1e-9) {
      arrow = "▲";
      cls = "up " + (upIs === "bad" ? "bad" : upIs === "good" ? "good" : "neutral");
    } else if (diff < -1e-9) {
      arrow = "▼";
      cls = "down " + (upIs === "bad" ? "good" : upIs === "good" ? "bad" : "neutral");
    }
    const digits = Math.abs(diff) < 10 && !Number.isInteger(diff) ? 2 : 0;
    const pct = previous ? " (" + (diff >= 0 ? "+" : "") + Math.round((diff / Math.abs(previous)) * 100) + "%)" : "";
    frag.append(el("span", { class: cls, text: arrow + " " + (diff >= 0 ? "+" : "") + (digits ? diff.toFixed(digits) : fmtInt(diff)) + (unit || "") }));
    frag.append(document.createTextNode(pct + " vs previous"));
    return frag;
  }

  async function refreshSummary() {
    try {
      const s = await api("/api/v1/stats/summary?window=1h");
      setKpi("events", fmtInt(s.events.value), trendFrom(s.events.value, s.events.previous, "neutral"));
      setKpi("anomalies", fmtInt(s.anomalies.value), trendFrom(s.anomalies.value, s.anomalies.previous, "bad"), s.anomalies.value > s.anomalies.previous && s.anomalies.value > 0);
      const ms = s.mean_score;
      setKpi("score", ms.value === null ? "–" : fmtNum(ms.value, 3), trendFrom(ms.value, ms.previous, "bad"));
      $("top-latest").textContent = fmtTime(s.until, true);
      // Attacking sources: distinct source addresses of the alerts in this hour and the one before.
      const now = await api("/api/v1/stats/top?by=src_ip&limit=1000&window=1h");
      const before = await api("/api/v1/stats/top?by=src_ip&limit=1000&window=1h&until=" + encodeURIComponent(s.previous.until));
      const count = (top) => top.top.length;
      const more = (top) => (top.other_alerts > 0 ? "+" : "");
      setKpi("attackers", fmtInt(count(now)) + more(now), trendFrom(count(now), count(before), "bad"));
      clearError("summary");
    } catch (error) {
      noteError("summary", "Key figures: " + describe(error));
    }
  }

  async function refreshOpenRed() {
    try {
      const page = await api("/api/v1/alerts?severity=red&limit=500");
      const open = page.alerts.filter((a) => a.state !== "resolved").length;
      const text = fmtInt(open) + (page.next_cursor ? "+" : "");
      const newest = page.alerts.find((a) => a.state !== "resolved");
      setKpi("red", text, document.createTextNode(newest ? "latest " + fmtTime(newest.event_time, true) : "none open"), open > 0);
      clearError("red");
    } catch (error) {
      noteError("red", "Open RED alerts: " + describe(error));
    }
  }

  /* Errors of the background refreshes: one banner line per kind until it succeeds again. */
  function noteError(kind, text) {
    state.errors.set(kind, text);
    showErrors();
  }

  function clearError(kind) {
    if (state.errors.delete(kind)) showErrors();
  }

  function showErrors() {
    const texts = [...state.errors.entries()].filter(([k]) => k !== "alerts").map(([, v]) => v);
    banner(texts.join(" · "));
  }

  /* ---------- status ---------- */

  let statusAt = null;

  async function refreshStatus() {
    try {
      const s = await api("/api/v1/status");
      state.status = s;
      statusAt = { uptime: s.uptime_secs, at: Date.now() };
      tickUptime();
      $("top-version").textContent = "v" + s.version;
      $("top-decided").textContent = fmtInt(s.events_decided);
      $("top-champion").textContent = s.champion || "none";
      renderGeoipNotice(s.geoip);
      clearError("status");
    } catch (error) {
      noteError("status", "Status: " + describe(error));
    }
  }

  function tickUptime() {
    if (!statusAt) return;
    $("top-uptime").textContent = fmtDuration(statusAt.uptime + (Date.now() - statusAt.at) / 1000);
  }

  /* ---------- alerts table ---------- */

  function filters() {
    return {
      severity: $("f-severity").value,
      detector: $("f-detector").value,
      src_ip: $("f-src").value.trim(),
      min_score: $("f-score").value.trim(),
    };
  }

  function matches(alert, f) {
    if (f.severity && alert.severity !== f.severity) return false;
    if (f.detector && alert.detector !== f.detector) return false;
    if (f.src_ip && alert.src_ip !== f.src_ip) return false;
    if (f.min_score && !(alert.score >= Number(f.min_score))) return false;
    return true;
  }

  /* The table's order, as the API names it: "by score" asks the store for the highest scores
   * first (its score index), "newest first" for the newest event times. */
  function alertOrder() {
    return $("f-sort").value === "time" ? "newest" : "score";
  }

  async function refreshAlerts() {
    await once("alerts", async () => {
      const f = filters();
      const order = alertOrder();
      const params = new URLSearchParams({ limit: "200", order });
      for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
      try {
        const page = await api("/api/v1/alerts?" + params.toString());
        if (order !== alertOrder()) {
          // The order changed while the page was on its way: ask again in the new one.
          setTimeout(refreshAlerts, 0);
          return;
        }
        // By score, the page is the top 200; when more follow, an alert from the stream
        // scoring below its last one is not among them and stays out of the table.
        const last = page.alerts[page.alerts.length - 1];
        state.scoreFloor = order === "score" && page.next_cursor && last ? last.score : null;
        const keep = new Map();
        for (const alert of page.alerts) keep.set(alert.id, alert);
        // Alerts the stream brought in since keep their place even if the page missed them.
        for (const [id, alert] of state.alerts) if (!keep.has(id) && state.fresh.has(id)) keep.set(id, alert);
        state.alerts = keep;
        state.errors.delete("alerts");
        panelError("alerts-error", null);
        renderAlerts();
      } catch (error) {
        state.errors.set("alerts", error);
        panelError("alerts-error", error);
      }
    });
  }

  function sortedAlerts() {
    const f = filters();
    const list = [...state.alerts.values()].filter((a) => matches(a, f));
    const byTime = (a, b) => (a.event_time < b.event_time ? 1 : a.event_time > b.event_time ? -1 : 0);
    if (alertOrder() === "newest") list.sort(byTime);
    else {
      // The API's order: highest score first, equal scores newest first. Alerts the stream
      // brought in take their place by score, unless they fall below the page's last.
      const floor = state.scoreFloor;
      if (floor !== null && floor !== undefined) {
        for (let i = list.length - 1; i >= 0; i--) if (list[i].score < floor) list.splice(i, 1);
      }
      list.sort((a, b) => b.score - a.score || byTime(a, b));
    }
    return list.slice(0, TABLE_MAX);
  }

  function renderAlerts() {
    const body = $("alerts-body");
    const list = sortedAlerts();
    clear(body);
    for (const alert of list) {
      const sev = severityClass(alert.severity);
      const row = el("tr", { class: sev + (state.selected === alert.id ? " selected" : "") + (state.fresh.has(alert.id) ? " fresh" : ""), "data-id": alert.id });
      const source = el("td", { class: "mono" }, alert.src_ip || "–");
      const cc = alert.src_geo && alert.src_geo.country_iso_code;
      if (cc) source.append(el("span", { class: "cc", title: alert.src_geo.country_name || cc, text: cc }));
      const target = [alert.dst_port ? ":" + alert.dst_port : "", alert.app_proto || alert.transport || ""].filter(Boolean).join(" ");
      const scoreCell = el("td", { class: "num" }, el("span", { class: "scorebar" }, el("i")), fmtNum(alert.score, 3));
      scoreCell.querySelector("i").style.width = Math.round(Math.max(0, Math.min(1, alert.score)) * 100) + "%";
      const stateCell = el("td", {}, el("span", { class: "state state-" + alert.state, text: alert.state }));
      if (alert.feedback) stateCell.append(el("span", { class: "verdict", text: alert.feedback === "true_positive" ? "TP" : "FP" }));
      row.append(
        el("td", {}, el("span", { class: "sev", text: (alert.severity || "").toUpperCase() })),
        scoreCell,
        el("td", { text: alert.detector }),
        source,
        el("td", { class: "mono", text: target || "–" }),
        el("td", { class: "num", text: fmtInt(alert.count) }),
        el("td", { class: "mono", title: fmtTime(alert.event_time, true), text: fmtTime(alert.event_time, true).slice(5) }),
        stateCell,
      );
      body.append(row);
    }
    state.fresh.clear();
    $("alerts-empty").hidden = list.length > 0;
    $("alerts-count").textContent = list.length ? "(" + list.length + (state.alerts.size > list.length ? " of " + state.alerts.size : "") + ")" : "";
  }

  /* ---------- alert detail ---------- */

  function showDetail(alert) {
    state.selected = alert.id;
    const drawer = $("detail");
    drawer.hidden = false;
    const sev = $("d-sev");
    sev.className = "sev " + severityClass(alert.severity);
    sev.textContent = (alert.severity || "").toUpperCase();
    $("d-id").textContent = alert.id;
    $("d-explanation").textContent = alert.explanation || "(no explanation)";
    const geo = alert.src_geo || {};
    const facts = [
      ["score", fmtNum(alert.score, 4)],
      ["detector", alert.detector + (alert.champion ? " (champion " + alert.champion + ")" : "")],
      ["state", alert.state + (alert.feedback ? ", verdict " + alert.feedback.replace("_", " ") : "")],
      ["count", fmtInt(alert.count)],
      ["event time", fmtTime(alert.event_time, true)],
      ["first / last seen", fmtTime(alert.first_seen, true) + " / " + fmtTime(alert.last_seen, true)],
      ["source", (alert.src_ip || "–") + (alert.src_port ? ":" + alert.src_port : "")],
      ["country", geo.country_iso_code ? geo.country_iso_code + (geo.country_name ? " " + geo.country_name : "") : "unknown"],
      ["location", geo.latitude !== undefined && geo.longitude !== undefined ? fmtNum(geo.latitude, 2) + ", " + fmtNum(geo.longitude, 2) : null],
      ["AS", geo.asn ? "AS" + geo.asn + (geo.as_org ? " " + geo.as_org : "") : null],
      ["destination", (alert.dst_ip || "–") + (alert.dst_port ? ":" + alert.dst_port : "")],
      ["protocol", [alert.transport, alert.app_proto].filter(Boolean).join(" / ") || null],
      ["sensor", alert.sensor_id + " (" + alert.sensor + "), " + alert.kind],
      ["user", alert.username || null],
      ["assignee", alert.assignee || null],
      ["note", alert.note || null],
      ["event seq", alert.seq === undefined ? null : String(alert.seq)],
    ];
    const dl = $("d-facts");
    clear(dl);
    for (const [k, v] of facts) {
      if (v === null || v === undefined) continue;
      dl.append(el("dt", { text: k }), el("dd", { text: v }));
    }
    const tbody = $("d-features").querySelector("tbody");
    clear(tbody);
    const features = alert.top_features || [];
    for (const f of features) {
      tbody.append(el("tr", {}, el("td", { class: "mono", text: f.name }), el("td", { class: "num", text: fmtNum(f.value, 3) }), el("td", { class: "num", text: (f.deviation >= 0 ? "+" : "") + fmtNum(f.deviation, 2) })));
    }
    if (!features.length) tbody.append(el("tr", {}, el("td", { class: "muted", colspan: 3, text: "none recorded (a rule's alert)" })));
    $("d-ack").disabled = alert.state !== "new";
    $("d-resolve").disabled = alert.state === "resolved";
    for (const row of document.querySelectorAll("#alerts-body tr")) row.classList.toggle("selected", row.dataset.id === alert.id);
  }

  function closeDetail() {
    state.selected = null;
    $("detail").hidden = true;
    $("d-result").hidden = true;
    for (const row of document.querySelectorAll("#alerts-body tr.selected")) row.classList.remove("selected");
  }

  function actionResult(text, failed) {
    const node = $("d-result");
    node.textContent = text;
    node.classList.toggle("err", Boolean(failed));
    node.hidden = false;
  }

  async function verdict(kind) {
    const id = state.selected;
    if (!id) return;
    try {
      const answer = await api("/api/v1/alerts/" + encodeURIComponent(id) + "/feedback", { method: "POST", body: { verdict: kind } });
      const alert = answer.alert;
      state.alerts.set(alert.id, alert);
      renderAlerts();
      showDetail(alert);
      actionResult("Verdict " + kind.replace("_", " ") + " recorded: pool " + answer.outcome + ", counted " + (answer.counted || "no") + ".");
      once("models", refreshModels);
    } catch (error) {
      actionResult("The verdict was not recorded: " + describe(error), true);
    }
  }

  async function setState(next) {
    const id = state.selected;
    if (!id) return;
    try {
      const alert = await api("/api/v1/alerts/" + encodeURIComponent(id), { method: "PATCH", body: { state: next } });
      state.alerts.set(alert.id, alert);
      renderAlerts();
      showDetail(alert);
      actionResult("Alert " + next + ".");
      once("red", refreshOpenRed);
    } catch (error) {
      actionResult("The alert was not updated: " + describe(error), true);
    }
  }

  /* ---------- time series ---------- */

  const RANGES = { auto: ["1m", 6 * 3600], "1h": ["1m", 3600], "6h": ["5m", 6 * 3600], "24h": ["15m", 86400] };
  // At most this many points in "auto": one-minute buckets, merged when the data spans more.
  const AUTO_POINTS = 90;

  /* Merges every `k` consecutive points into one (sums; the mean score weighted by events). */
  function merge(points, k) {
    const out = [];
    for (let i = 0; i < points.length; i += k) {
      const group = points.slice(i, i + k);
      let weight = 0;
      let sum = 0;
      for (const p of group) {
        if (p.mean_score === null || p.mean_score === undefined) continue;
        weight += p.events || 1;
        sum += p.mean_score * (p.events || 1);
      }
      out.push({
        start: group[0].start,
        events: group.reduce((n, p) => n + p.events, 0),
        anomalies: group.reduce((n, p) => n + p.anomalies, 0),
        mean_score: weight ? sum / weight : null,
      });
    }
    return out;
  }

  async function refreshTimeseries() {
    const range = $("t-range").value;
    const [bucket, span] = RANGES[range] || RANGES.auto;
    try {
      const s = await api("/api/v1/stats/summary?window=1m");
      const until = new Date(s.until);
      const since = new Date(until.getTime() - span * 1000);
      const q = new URLSearchParams({ bucket, since: since.toISOString().replace(/\.\d+Z$/, "Z"), until: until.toISOString().replace(/\.\d+Z$/, "Z") });
      const t = await api("/api/v1/stats/timeseries?" + q.toString());
      let points = t.points || [];
      if (range === "auto") {
        // From the first event on, in as few one-minute buckets merged as keep it readable.
        const first = points.findIndex((p) => p.events > 0);
        points = points.slice(first < 0 ? Math.max(0, points.length - 10) : Math.min(first, Math.max(0, points.length - 10)));
        const k = Math.max(1, Math.ceil(points.length / AUTO_POINTS));
        // Align the groups on the newest bucket, so the last point is whole.
        points = merge(points.slice(points.length % k), k);
      }
      drawChart(points);
      panelError("time-error", null);
    } catch (error) {
      panelError("time-error", error);
    }
  }

  function drawChart(allPoints) {
    const host = $("chart");
    // Leading empty buckets (before the first event) are left out, so a young run fills the chart.
    let first = allPoints.findIndex((p) => p.events > 0);
    if (first < 0) first = Math.max(0, allPoints.length - 10);
    first = Math.min(first, Math.max(0, allPoints.length - 10));
    const points = allPoints.slice(first);
    clear(host);
    const W = Math.max(host.clientWidth, 300);
    const H = Math.max(host.clientHeight, 200);
    const m = { l: 44, r: 40, t: 8, b: 22 };
    const scoreH = 54;
    const gap = 14;
    const mainH = H - m.t - m.b - scoreH - gap;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Events, anomalies and mean score per bucket" });
    host.append(root);
    if (!points.length) {
      root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis", fill: "#7f8ea3", text: "No events yet" }));
      return;
    }
    const n = points.length;
    const iw = W - m.l - m.r;
    const x = (i) => m.l + (n === 1 ? iw / 2 : (i / (n - 1)) * iw);
    const maxE = Math.max(1, ...points.map((p) => p.events));
    const maxA = Math.max(1, ...points.map((p) => p.anomalies));
    const yE = (v) => m.t + mainH - (v / maxE) * mainH;
    const yA = (v) => m.t + mainH - (v / maxA) * mainH * 0.9;
    const s0 = m.t + mainH + gap;
    const yS = (v) => s0 + scoreH - v * scoreH;
    const axis = svg("g", { class: "axis" });
    root.append(axis);
    for (let k = 0; k <= 4; k++) {
      const v = (maxE * k) / 4;
      const y = yE(v);
      axis.append(svg("line", { x1: m.l, x2: W - m.r, y1: y, y2: y, class: "grid-line" }));
      axis.append(svg("text", { x: m.l - 6, y: y + 3, "text-anchor": "end", text: fmtInt(v) }));
      axis.append(svg("text", { x: W - m.r + 6, y: yA((maxA * k) / 4) + 3, "text-anchor": "start", fill: "#ff4d4f", text: fmtInt((maxA * k) / 4) }));
    }
    axis.append(svg("line", { x1: m.l, x2: W - m.r, y1: s0 + scoreH, y2: s0 + scoreH, class: "grid-line" }));
    axis.append(svg("line", { x1: m.l, x2: W - m.r, y1: s0, y2: s0, class: "grid-line" }));
    axis.append(svg("text", { x: m.l - 6, y: s0 + 4, "text-anchor": "end", text: "1.0" }));
    axis.append(svg("text", { x: m.l - 6, y: s0 + scoreH + 3, "text-anchor": "end", text: "0" }));
    const ticks = Math.min(6, n);
    for (let k = 0; k < ticks; k++) {
      const i = Math.round((k * (n - 1)) / Math.max(1, ticks - 1));
      axis.append(svg("text", { x: x(i), y: H - 6, "text-anchor": k === 0 ? "start" : k === ticks - 1 ? "end" : "middle", text: fmtTime(points[i].start).slice(0, 5) }));
    }
    // Anomalies: bars on their own scale (right axis).
    const bw = Math.max(1, Math.min(10, (iw / n) * 0.6));
    for (let i = 0; i < n; i++) {
      if (!points[i].anomalies) continue;
      const y = yA(points[i].anomalies);
      root.append(svg("rect", { class: "bar-anom", x: x(i) - bw / 2, y, width: bw, height: m.t + mainH - y }));
    }
    // Events: an area.
    let d = "M" + x(0) + " " + yE(0);
    for (let i = 0; i < n; i++) d += "L" + x(i).toFixed(1) + " " + yE(points[i].events).toFixed(1);
    d += "L" + x(n - 1) + " " + yE(0) + "Z";
    root.append(svg("path", { class: "area-events", d }));
    // Mean score: a line in the lower band, with the ORANGE threshold.
    const threshold = state.detectors && state.detectors.thresholds ? state.detectors.thresholds.orange : null;
    if (threshold !== null) root.append(svg("line", { class: "threshold", x1: m.l, x2: W - m.r, y1: yS(threshold), y2: yS(threshold) }));
    let line = "";
    for (let i = 0; i < n; i++) {
      const v = points[i].mean_score;
      if (v === null || v === undefined) continue;
      line += (line ? "L" : "M") + x(i).toFixed(1) + " " + yS(v).toFixed(1);
    }
    if (line) root.append(svg("path", { class: "line-score", d: line }));
    root.append(svg("text", { x: m.l + 4, y: s0 + 10, fill: "#c792ea", "font-size": 10, text: "mean score" }));
    // Hover: a cursor and the bucket's figures.
    const cursor = svg("line", { class: "cursor", y1: m.t, y2: s0 + scoreH, x1: -10, x2: -10 });
    root.append(cursor);
    const tip = el("div", { class: "chart-tip", hidden: true });
    host.append(tip);
    root.addEventListener("mousemove", (event) => {
      const rect = root.getBoundingClientRect();
      const px = ((event.clientX - rect.left) / rect.width) * W;
      const i = Math.max(0, Math.min(n - 1, Math.round(((px - m.l) / iw) * (n - 1))));
      const p = points[i];
      cursor.setAttribute("x1", x(i));
      cursor.setAttribute("x2", x(i));
      tip.textContent = fmtTime(p.start, true) + "  events " + fmtInt(p.events) + "  anomalies " + fmtInt(p.anomalies) + "  mean score " + (p.mean_score === null ? "–" : fmtNum(p.mean_score, 3));
      tip.hidden = false;
      const left = (x(i) / W) * rect.width;
      tip.style.left = Math.min(left + 10, rect.width - 300) + "px";
      tip.style.top = "4px";
    });
    root.addEventListener("mouseleave", () => {
      tip.hidden = true;
      cursor.setAttribute("x1", -10);
      cursor.setAttribute("x2", -10);
    });
  }

  /* ---------- map and top lists ---------- */

  let mapBuilt = false;
  const countryPaths = new Map();

  function buildMap() {
    const host = $("map");
    const world = window.VIGIL_WORLD;
    if (!world) {
      panelError("map-error", new Error("the world map asset did not load"));
      return;
    }
    const root = svg("svg", { viewBox: "0 0 " + world.width + " " + world.height, role: "img", "aria-label": "Alerts by source country" });
    const countries = svg("g", {});
    for (const [code, c] of Object.entries(world.countries)) {
      const path = svg("path", { d: c.d, class: "country", "data-cc": code });
      countries.append(path);
      countryPaths.set(code, path);
    }
    root.append(countries);
    root.append(svg("g", { id: "map-dots" }));
    host.append(root);
    const tip = $("map-tip");
    root.addEventListener("mousemove", (event) => {
      const target = event.target;
      const code = target && target.getAttribute ? target.getAttribute("data-cc") : null;
      if (!code) {
        tip.hidden = true;
        return;
      }
      const c = world.countries[code];
      const n = Number(target.getAttribute("data-alerts") || 0);
      tip.textContent = code + " " + (c ? c.n : "") + ": " + fmtInt(n) + " alert" + (n === 1 ? "" : "s");
      const rect = host.getBoundingClientRect();
      tip.style.left = event.clientX - rect.left + 12 + "px";
      tip.style.top = event.clientY - rect.top + 8 + "px";
      tip.hidden = false;
    });
    root.addEventListener("mouseleave", () => (tip.hidden = true));
    mapBuilt = true;
  }

  function shade(t) {
    // Dark ember to red, by the share of the busiest country (log scale).
    const stops = [[59, 42, 34], [160, 64, 31], [255, 77, 79]];
    const s = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(s));
    const f = s - i;
    const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
    return "rgb(" + c.join(",") + ")";
  }

  function renderMap(top) {
    if (!mapBuilt) buildMap();
    if (!mapBuilt) return;
    const counts = new Map(top.top.map((e) => [String(e.value).toUpperCase(), e.alerts]));
    const max = Math.max(1, ...counts.values());
    for (const [code, path] of countryPaths) {
      const n = counts.get(code) || 0;
      path.setAttribute("data-alerts", n);
      path.classList.toggle("hit", n > 0);
      if (n > 0) path.style.fill = shade(Math.log(1 + n) / Math.log(1 + max));
      else path.style.removeProperty("fill");
    }
    const legend = $("map-legend");
    clear(legend);
    if (counts.size) legend.append(el("span", { text: "1" }), el("span", { class: "ramp" }), el("span", { text: fmtInt(max) + " alerts" }));
    else legend.append(el("span", { text: "no source country in this window" }));
  }

  function renderDots() {
    const group = document.getElementById("map-dots");
    const world = window.VIGIL_WORLD;
    if (!group || !world) return;
    clear(group);
    const seen = new Set();
    for (const alert of state.alerts.values()) {
      const g = alert.src_geo;
      if (!g || g.latitude === undefined || g.longitude === undefined) continue;
      const key = g.latitude.toFixed(1) + "," + g.longitude.toFixed(1);
      if (seen.has(key)) continue;
      seen.add(key);
      const cx = (g.longitude + 180) * world.scale;
      const cy = (world.lat_top - g.latitude) * world.scale;
      group.append(svg("circle", { class: "dot", cx, cy, r: alert.severity === "red" ? 3.2 : 2.4 }));
    }
  }

  function renderGeoipNotice(geoip) {
    const off = $("map-off");
    if (geoip && !geoip.enabled) {
      off.textContent = "GeoIP off: " + (geoip.reason || "no database loaded") + ". Countries cannot be shown.";
      off.hidden = false;
    } else {
      off.hidden = true;
    }
  }

  function renderBars(id, top, label) {
    const list = $(id);
    clear(list);
    const max = Math.max(1, ...top.top.map((e) => e.alerts));
    for (const e of top.top.slice(0, 8)) {
      const fill = el("span", { class: "fill" });
      fill.style.width = Math.round((e.alerts / max) * 100) + "%";
      list.append(el("li", { title: fmtInt(e.events) + " events" }, fill, el("span", { class: "mono", text: label ? label(e.value) : String(e.value) }), el("span", { class: "v", text: fmtInt(e.alerts) })));
    }
    if (!top.top.length) list.append(el("li", { class: "none", text: "none in this window" }));
  }

  async function refreshTops() {
    try {
      const get = (by, limit) => api("/api/v1/stats/top?by=" + by + "&window=24h&limit=" + limit);
      const [ports, apps, transports, sources, countries] = await Promise.all([get("dst_port", 8), get("app_proto", 8), get("transport", 8), get("src_ip", 8), get("country", 250)]);
      renderBars("top-dst_port", ports);
      renderBars("top-app_proto", apps);
      renderBars("top-transport", transports);
      renderBars("top-src_ip", sources);
      const names = window.VIGIL_WORLD ? window.VIGIL_WORLD.countries : {};
      renderBars("top-country", countries, (code) => code + (names[code] ? " " + names[code].n : ""));
      renderMap(countries);
      renderDots();
      panelError("tops-error", null);
      panelError("map-error", null);
    } catch (error) {
      panelError("tops-error", error);
      panelError("map-error", error);
    }
  }

  /* ---------- models ---------- */

  async function refreshModels() {
    try {
      const [det, drift] = await Promise.all([api("/api/v1/detectors"), api("/api/v1/drift?limit=6")]);
      state.detectors = det;
      renderModels(det, drift.drift_events || []);
      updateDetectorFilter(det);
      panelError("models-error", null);
    } catch (error) {
      panelError("models-error", error);
    }
  }

  function updateDetectorFilter(det) {
    const names = (det.rules || []).filter((r) => r.enabled).map((r) => r.name);
    if (det.pool) names.push("pool");
    const select = $("f-detector");
    for (const name of names) {
      if (state.detectorNames.has(name)) continue;
      state.detectorNames.add(name);
      select.append(el("option", { value: name, text: name }));
    }
  }

  function renderModels(det, drifts) {
    const pool = det.pool;
    $("threshold").textContent = det.thresholds ? fmtNum(det.thresholds.orange, 2) + " (RED " + fmtNum(det.thresholds.red, 2) + ")" : "–";
    const badge = $("drift-badge");
    const tbody = $("models-table").querySelector("tbody");
    clear(tbody);
    if (!pool) {
      $("champion").textContent = "pool off";
      $("signal").textContent = "–";
      badge.textContent = "RULES ONLY";
      badge.className = "badge";
    } else {
      $("champion").textContent = pool.champion || "none yet";
      $("signal").textContent = pool.signal === "errors" ? "errors (feedback)" : "scores";
      for (const model of pool.models || []) {
        tbody.append(
          el(
            "tr",
            {},
            el("td", { class: "mono" }, model.champion ? el("span", { class: "star", text: "★ " }) : "", model.model),
            el("td", { class: "num", text: fmtNum(model.estimate, 3) }),
            el("td", { class: "num", text: fmtInt(model.evidence) }),
            el("td", { class: "num", text: fmtInt(model.references) }),
            el("td", { class: "num", text: fmtInt(model.since_seq) }),
          ),
        );
      }
      for (const r of pool.retired || []) {
        tbody.append(el("tr", { class: "muted" }, el("td", { class: "mono", text: r.model }), el("td", { colspan: 4, class: "muted", text: "retired at event " + fmtInt(r.retired_seq) })));
      }
      // UNSTABLE: a drift decision within the last 2,000 events, or a model being refitted.
      const lastDrift = drifts.find((e) => e.kind === "drift_detected" || e.kind === "champion_changed");
      const recent = lastDrift && pool.last_seq - lastDrift.seq <= 2000;
      const refitting = (pool.collecting || []).length + (pool.fits || []).filter((f) => !f.installed).length > 0;
      const unstable = Boolean(recent || (refitting && lastDrift));
      badge.textContent = unstable ? "UNSTABLE" : "STABLE";
      badge.className = "badge " + (unstable ? "unstable" : "stable");
      badge.title = lastDrift ? "last drift decision at event " + lastDrift.seq + " (now " + pool.last_seq + ")" : "no drift decision yet";
    }
    const list = $("drift-list");
    clear(list);
    for (const e of drifts) {
      const when = e.event_time_micros ? new Date(e.event_time_micros / 1000).toISOString() : null;
      list.append(el("li", { title: e.reason || "" }, el("span", { class: "mono", text: when ? fmtTime(when) : "#" + e.seq }), el("span", { class: "drift-kind k-" + e.kind, text: String(e.kind).replace(/_/g, " ") }), el("span", { text: (e.model ? e.model + ": " : "") + (e.reason || "") })));
    }
    if (!drifts.length) list.append(el("li", {}, el("span", { class: "muted", text: "no drift events yet" })));
    const vbody = $("verdicts-table").querySelector("tbody");
    clear(vbody);
    for (const v of det.verdicts || []) {
      vbody.append(
        el(
          "tr",
          {},
          el("td", { text: v.detector }),
          el("td", { class: "num", text: fmtInt(v.true_positives) }),
          el("td", { class: "num", text: fmtInt(v.false_positives) }),
          el("td", { class: "num", text: fmtInt(v.false_negatives) }),
          el("td", { class: "num", text: fmtNum(v.precision, 2) }),
          el("td", { class: "num", text: fmtNum(v.recall, 2) }),
          el("td", { class: "num", text: fmtNum(v.f1, 2) }),
        ),
      );
    }
    if (!(det.verdicts || []).length) vbody.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "no verdicts yet: open an alert and give one" })));
  }

  /* ---------- wiring ---------- */

  function wire() {
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("banner-close").addEventListener("click", () => banner(null));
    $("alerts-body").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (!row) return;
      const alert = state.alerts.get(row.dataset.id);
      if (alert) {
        $("d-result").hidden = true;
        showDetail(alert);
      }
    });
    $("detail-close").addEventListener("click", closeDetail);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeDetail();
    });
    $("d-tp").addEventListener("click", () => verdict("true_positive"));
    $("d-fp").addEventListener("click", () => verdict("false_positive"));
    $("d-ack").addEventListener("click", () => setState("acknowledged"));
    $("d-resolve").addEventListener("click", () => setState("resolved"));
    let debounce = null;
    const refilter = () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        renderAlerts();
        refreshAlerts();
      }, 300);
    };
    for (const id of ["f-severity", "f-detector", "f-src", "f-score"]) $(id).addEventListener("input", refilter);
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    // Each order is its own query: the table asks the API again.
    $("f-sort").addEventListener("change", refilter);
    $("t-range").addEventListener("change", () => once("timeseries", refreshTimeseries));
    window.addEventListener("resize", () => once("timeseries", refreshTimeseries));
  }

  async function boot() {
    wire();
    // A browser that never signed in here goes straight to the form; one that did asks
    // whether its session is still valid (a reload recovers the CSRF token this way).
    if (!localStorage.getItem(SIGNED_IN_KEY)) {
      showSignIn();
      return;
    }
    try {
      const session = await api("/api/v1/session", { signIn: true });
      begin(session);
    } catch (error) {
      localStorage.removeItem(SIGNED_IN_KEY);
      showSignIn(error.status === 401 ? null : describe(error));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
