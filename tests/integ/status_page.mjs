// Drives Debian's headless chromium through playwright-core for test_status_page.py: one JSON
// command per line on stdin, one JSON answer per line on stdout. playwright-core never
// downloads a browser here: it launches /usr/bin/chromium (the Debian package).
//
// Commands: {"cmd":"open","url":U,"user":..,"password":..,"javascript":true}
//           {"cmd":"state"}  the backends' rows as the DOM has them now, and the refresh count
//           {"cmd":"wait_refresh","after":N,"timeout_ms":T}  until data-refreshes > N
//           {"cmd":"screenshot","path":P}   {"cmd":"quit"}
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const CHROMIUM = process.env.IWR_CHROMIUM || "/usr/bin/chromium";
let browser = null, context = null, page = null;

function reply(o) { process.stdout.write(JSON.stringify(o) + "\n"); }

async function state() {
  return page.evaluate(() => {
    const rows = Array.from(document.querySelectorAll("#backends tr.backend")).map((tr) => ({
      name: tr.getAttribute("data-backend"),
      state: tr.getAttribute("data-state"),
      cls: tr.className,
      lag: Number(tr.getAttribute("data-lag-records")),
      state_bg: getComputedStyle(tr.querySelector("td.state")).backgroundColor,
    }));
    const charts = Array.from(document.querySelectorAll("figure.chart")).map((f) => ({
      id: f.id, caption: f.querySelector("figcaption").textContent,
      points: f.querySelectorAll("polyline").length,
    }));
    return {
      rows, charts,
      refreshes: Number(document.body.getAttribute("data-refreshes") || "0"),
      stale: document.body.getAttribute("data-stale"),
      text: document.body.innerText.length,
    };
  });
}

async function handle(m) {
  switch (m.cmd) {
  case "open": {
    if (!browser) {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-default-apps",
               "--disable-features=Translate,MediaRouter,OptimizationHints"],
      });
    }
    if (context) await context.close();
    const opts = { javaScriptEnabled: m.javascript !== false, viewport: { width: 1280, height: 800 } };
    if (m.user) opts.httpCredentials = { username: m.user, password: m.password || "" };
    context = await browser.newContext(opts);
    page = await context.newPage();
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(new URL(m.url).origin)) external.push(r.url()); });
    page.externalRequests = external;
    // Without credentials a headless browser gives up on the 401 challenge (goto then fails
    // with ERR_INVALID_AUTH_CREDENTIALS): the status is the document's last answer seen.
    let last = 0, challenge = "";
    page.on("response", (r) => {
      if (r.url() === m.url) { last = r.status(); challenge = r.headers()["www-authenticate"] || ""; }
    });
    try {
      const resp = await page.goto(m.url, { waitUntil: "load", timeout: 20000 });
      return { status: resp ? resp.status() : 0, title: await page.title() };
    } catch (e) {
      if (last === 0) throw e;
      return { status: last, challenge, error: String(e.message).split("\n")[0] };
    }
  }
  case "state":
    return { ...(await state()), external: page.externalRequests };
  case "wait_refresh":
    await page.waitForFunction(
      (n) => Number(document.body.getAttribute("data-refreshes") || "0") > n, m.after,
      { timeout: m.timeout_ms || 15000, polling: 100 });
    return { ...(await state()), external: page.externalRequests };
  case "screenshot":
    await page.screenshot({ path: m.path, fullPage: true });
    return { path: m.path };
  case "quit":
    if (browser) await browser.close();
    browser = null;
    return { bye: true };
  default:
    throw new Error("unknown command " + m.cmd);
  }
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let m;
  try {
    m = JSON.parse(line);
    reply({ ok: true, result: await handle(m) });
  } catch (e) {
    reply({ ok: false, error: String(e && e.stack || e) });
  }
  if (m && m.cmd === "quit") break;
}
if (browser) await browser.close();
process.exit(0);
