// Drives headless Chromium (Debian's /usr/bin/chromium, through playwright-core) against a
// running `vigil demo`: signs in through the form, waits up to 10 s for the KPIs, an alert
// row, the chart, a shaded country on the map and the model panel's champion, gives a
// "false positive" verdict on an alert and checks through the API (bearer token) that the
// alert carries it, saves screenshots, and prints one JSON line of what it saw. Any console error or
// page error fails the run.
//
// Environment: VIGIL_URL (the dashboard, e.g. http://127.0.0.1:8787/), VIGIL_TOKEN (the
// sign-in token), VIGIL_SCREENSHOT (PNG path), CHROMIUM (default /usr/bin/chromium).
// Exit status 0 when every check passed, 1 otherwise (the JSON line says which failed).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.VIGIL_URL;
const token = process.env.VIGIL_TOKEN;
const screenshot = process.env.VIGIL_SCREENSHOT || "dashboard.png";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url || !token) {
  console.error("VIGIL_URL and VIGIL_TOKEN are required");
  process.exit(2);
}
const base = url.endsWith("/") ? url : url + "/";

const report = { ok: false, failures: [], console_errors: [], page_errors: [] };
const fail = (what) => report.failures.push(what);
const started = Date.now();

const profile = mkdtempSync(join(tmpdir(), "vigil-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") {
      report.console_errors.push(message.text() + " @ " + (message.location().url || "?"));
    }
  });
  page.on("pageerror", (error) => report.page_errors.push(String(error)));

  await page.goto(base, { waitUntil: "domcontentloaded" });
  await page.locator("#token").waitFor({ state: "visible", timeout: 10_000 });
  await page.fill("#token", token);
  const signInAt = Date.now();
  await page.click("#signin-submit");
  await page.locator("#app").waitFor({ state: "visible", timeout: 10_000 });

  // Everything that must show data within 10 s of signing in.
  const probe = () => {
    const text = (sel) => (document.querySelector(sel)?.textContent || "").trim();
    const kpis = {};
    for (const tile of document.querySelectorAll("[data-kpi]")) {
      kpis[tile.dataset.kpi] = tile.querySelector(".kpi-value").textContent.trim();
    }
    const champion = text("#champion");
    return {
      kpis,
      kpis_ready: Object.keys(kpis).length === 6 && Object.values(kpis).every((v) => v && v !== "–" && v !== "…"),
      alert_rows: document.querySelectorAll("#alerts-body tr[data-id]").length,
      chart_paths: document.querySelectorAll("#chart path.area-events, #chart path.line-score").length,
      shaded_countries: document.querySelectorAll("#map path.country.hit").length,
      countries_drawn: document.querySelectorAll("#map path.country").length,
      map_off: !document.getElementById("map-off").hidden,
      champion,
      champion_ready: champion !== "" && champion !== "–" && champion !== "none yet",
      drift_badge: text("#drift-badge"),
      live: text("#live-text"),
      banner: document.getElementById("banner").hidden ? null : text("#banner-text"),
    };
  };
  const ready = (s) => s.kpis_ready && s.alert_rows >= 1 && s.chart_paths >= 2 && s.shaded_countries >= 1 && s.champion_ready;
  let seen = await page.evaluate(probe);
  while (!ready(seen) && Date.now() - signInAt < 10_000) {
    await page.waitForTimeout(200);
    seen = await page.evaluate(probe);
  }
  report.ready_after_ms = Date.now() - signInAt;
  Object.assign(report, seen);
  if (!seen.kpis_ready) fail("KPIs without data: " + JSON.stringify(seen.kpis));
  if (seen.alert_rows < 1) fail("no alert row");
  if (seen.chart_paths < 2) fail("the time-series chart has no paths");
  if (seen.shaded_countries < 1) fail("no shaded country on the map" + (seen.map_off ? " (GeoIP off)" : ""));
  if (!seen.champion_ready) fail("the model panel shows no champion: " + JSON.stringify(seen.champion));
  if (seen.banner) fail("error banner: " + seen.banner);

  await page.screenshot({ path: screenshot, fullPage: true });
  report.screenshot = screenshot;

  // A verdict from the detail view, then checked through the API with the bearer token.
  if (seen.alert_rows >= 1) {
    // The newest alert: its event is the likeliest to be within the verdict window.
    await page.selectOption("#f-sort", "time");
    await page.click("#alerts-body tr[data-id]");
    await page.locator("#detail").waitFor({ state: "visible", timeout: 5_000 });
    const id = (await page.textContent("#d-id")).trim();
    report.alert_id = id;
    report.explanation = (await page.textContent("#d-explanation")).trim();
    await page.click("#d-fp");
    const result = page.locator("#d-result");
    await result.waitFor({ state: "visible", timeout: 10_000 });
    report.verdict_shown = (await result.textContent()).trim();
    if (await result.evaluate((node) => node.classList.contains("err"))) fail("the verdict failed: " + report.verdict_shown);
    const auth = { headers: { Authorization: "Bearer " + token } };
    const alert = await (await fetch(base + "api/v1/alerts/" + id, auth)).json();
    report.alert_feedback = alert.feedback ?? null;
    if (alert.feedback !== "false_positive") fail("the alert's feedback is " + JSON.stringify(alert.feedback));
    const detectors = await (await fetch(base + "api/v1/detectors", auth)).json();
    const counted = (detectors.verdicts || []).reduce((n, v) => n + v.false_positives + v.true_negatives, 0);
    // Counted only when the event is within the detectors' verdict window: reported, not required.
    report.verdicts_counted = counted;
    await page.waitForTimeout(300);
    const detail = screenshot.replace(/\.png$/, "") + "-detail.png";
    await page.screenshot({ path: detail });
    report.screenshot_detail = detail;
    await page.click("#detail-close");
  }

  // The same page on a laptop screen.
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.waitForTimeout(400);
  const laptop = screenshot.replace(/\.png$/, "") + "-1366.png";
  await page.screenshot({ path: laptop });
  report.screenshot_laptop = laptop;
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  report.horizontal_overflow_px = overflow;
  if (overflow > 0) fail("the page is wider than a 1366 px screen by " + overflow + " px");
} catch (error) {
  fail("the run stopped: " + (error && error.stack ? error.stack.split("\n")[0] : String(error)));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

if (report.console_errors.length) fail("console errors: " + report.console_errors.join(" | "));
if (report.page_errors.length) fail("page errors: " + report.page_errors.join(" | "));
report.elapsed_ms = Date.now() - started;
report.ok = report.failures.length === 0;
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
