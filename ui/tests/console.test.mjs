// The console in a real browser: Debian's Chromium driven by playwright-core
// against the real grantd binary (built here from the repository), headless.
// It walks a system admin's everyday work, checks what an org admin and a
// plain user see, the session cookie's flags, CSRF, the security headers,
// and audits each main page with axe-core. Screenshots of the main pages go
// to $GRANTD_UI_SCREENSHOTS (make ui-screenshots writes docs/console/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const adminPassword = "console-admin-password";
const work = mkdtempSync(join(tmpdir(), "grantd-console-"));
const shots = process.env.GRANTD_UI_SCREENSHOTS || join(work, "shots");
let grantd, base, browser;

before(async () => {
  execFileSync("go", ["build", "-o", work + "/", "./cmd/grantd"], { cwd: "..", stdio: "inherit" });
  grantd = spawn(join(work, "grantd"), ["--data-dir", join(work, "data"), "--listen", "127.0.0.1:0"], {
    env: { ...process.env, GRANTD_ADMIN_PASSWORD: adminPassword },
    stdio: ["ignore", "ignore", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("grantd did not serve within 60s:\n" + buf)), 60000);
    grantd.stderr.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        try {
          const e = JSON.parse(line);
          if (e.msg === "serving") {
            clearTimeout(timer);
            resolve(`https://localhost:${e.addr.split(":").pop()}`);
          }
        } catch {}
      }
    });
    grantd.on("exit", (code) => reject(new Error(`grantd exited ${code}:\n${buf}`)));
  });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  grantd?.kill();
  rmSync(work, { recursive: true, force: true });
});

// A browser context of its own per person; bypassCSP only so that the
// test can inject axe-core (the CSP itself is checked without it).
async function person(opts = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width: 1280, height: 860 }, ...opts });
  const page = await ctx.newPage();
  const external = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:") && !r.url().startsWith("blob:")) external.push(r.url());
  });
  page.external = external;
  return { ctx, page };
}

async function login(page, user, password) {
  await page.goto(base + "/ui/");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

async function audit(page, name) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `accessibility violations on ${name}`,
  );
}

async function go(page, hash, title) {
  await page.goto(base + "/ui/#" + hash);
  await page.getByRole("heading", { level: 1, name: title }).waitFor();
}

// say waits for the status line an action reports.
async function say(page, text) {
  await page.getByRole("status").filter({ hasText: text }).first().waitFor();
}

async function api(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const s = await (await fetch("/ui/session")).json();
      const r = await fetch(path, { method, headers: { "X-CSRF-Token": s.csrfToken, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
      return { status: r.status, body: await r.text() };
    },
    [method, path, body],
  );
}

test("a system admin builds, grants, reviews and revokes access in the console", async (tctx) => {
  const diagnostic = (m) => tctx.diagnostic(m);
  const { ctx, page } = await person();
  // A wrong password: the API's reason, verbatim.
  await page.goto(base + "/ui/");
  await audit(page, "the login page");
  await page.screenshot({ path: join(shots, "login.png") });
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: /invalid username or password|bad credentials/i }).waitFor();
  await login(page, "admin", adminPassword);

  // The session cookie: HttpOnly, Secure, SameSite=Strict, out of reach of scripts.
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === "__Host-grantd-session");
  assert.ok(session, "no session cookie: " + JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie.includes("grantd-session")), false);
  // CSRF: a state-changing call without the token is refused, with it admitted.
  const forged = await page.evaluate(async () => {
    const r = await fetch("/v1/orgs", { method: "POST", body: JSON.stringify({ name: "forged" }) });
    return { status: r.status, body: await r.text() };
  });
  assert.equal(forged.status, 403, forged.body);
  assert.match(forged.body, /X-CSRF-Token/);

  // People: users and orgs.
  await go(page, "/people", "People and orgs");
  for (const [u, p] of [["maria", "maria-password"], ["olga", "olga-password"]]) {
    await page.getByLabel("New user").fill(u);
    await page.getByLabel("Password", { exact: true }).fill(p);
    await page.getByRole("button", { name: "Create user" }).click();
    await say(page, `Created user ${u}`);
  }
  for (const o of ["acme", "beta"]) {
    await page.getByLabel("New org").fill(o);
    await page.getByRole("button", { name: "Create org" }).click();
    await say(page, `Created org ${o}`);
  }
  await page.screenshot({ path: join(shots, "people.png"), fullPage: true });
  await audit(page, "people");
  await page.getByRole("link", { name: "acme" }).click();
  await page.getByRole("heading", { level: 1, name: "Org acme" }).waitFor();
  await page.getByLabel("New team").fill("web");
  await page.getByRole("button", { name: "Create team" }).click();
  await say(page, "Created team acme/web");
  await page.getByLabel("Add org member").fill("olga");
  await page.getByLabel("org admin").check();
  await page.getByRole("button", { name: "Add member" }).click();
  await say(page, "Added olga to acme");
  await page.getByLabel("Team", { exact: true }).fill("web");
  await page.getByLabel("User to add to the team").fill("maria");
  await page.getByRole("button", { name: "Add to team" }).click();
  await say(page, "Added maria to acme/web");

  // The collection tree: /production/web.
  await go(page, "/collections", "Collections");
  await page.getByLabel("New child collection").fill("production");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await say(page, "Created /production");
  await page.getByRole("button", { name: "production", exact: true }).click();
  await page.getByRole("heading", { level: 2, name: "/production" }).waitFor();
  await page.getByLabel("New child collection").fill("web");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await say(page, "Created /production/web");

  // The tree at the size the console is built for: 20,000 collections on
  // one level, loaded 200 at a time. The timings are reported, not asserted.
  const made = await page.evaluate(async () => {
    const s = await (await fetch("/ui/session")).json();
    const post = (path) =>
      fetch("/v1/collections", { method: "POST", headers: { "X-CSRF-Token": s.csrfToken }, body: JSON.stringify({ path }) }).then((r) => r.status);
    let bad = (await post("/wide")) === 200 ? 0 : 1;
    let next = 0;
    const worker = async () => {
      while (next < 20000) {
        const n = next++;
        if ((await post(`/wide/c${String(n).padStart(5, "0")}`)) !== 200) bad++;
      }
    };
    await Promise.all([...Array(16)].map(worker));
    return bad;
  });
  assert.equal(made, 0);
  await go(page, "/collections/wide", "Collections");
  await page.reload(); // the tree loaded / before the API made /wide
  let t = Date.now();
  await page.getByRole("button", { name: "Expand /wide" }).click();
  await page.getByRole("button", { name: "c00199", exact: true }).waitFor();
  const firstPage = Date.now() - t;
  assert.equal(await page.getByRole("button", { name: "c00200", exact: true }).count(), 0);
  t = Date.now();
  await page.getByRole("button", { name: "Show more of /wide" }).click();
  await page.getByRole("button", { name: "c00399", exact: true }).waitFor();
  const nextPage = Date.now() - t;
  t = Date.now();
  await page.getByRole("button", { name: "c00250", exact: true }).click();
  await page.getByRole("heading", { level: 2, name: "/wide/c00250" }).waitFor();
  const select = Date.now() - t;
  diagnostic(`a level of 20,000 collections: first page ${firstPage} ms, next page ${nextPage} ms, a node's grants ${select} ms`);

  // A custom role from the catalog, with an option.
  await go(page, "/roles", "Roles");
  await page.getByLabel("Role name").fill("deployer");
  await page.getByLabel("Display name").fill("Deployer");
  for (const op of ["container.view", "container.exec", "container.create"]) await page.locator("#op-" + op.replace(".", "\\.")).check();
  await page.locator("#opt-container\\.create-privileged").check();
  await page.getByRole("button", { name: "Create role" }).click();
  await say(page, "Created role deployer");
  await audit(page, "roles");
  await page.screenshot({ path: join(shots, "roles.png") });

  // Grant it to the team on /production.
  await go(page, "/grants", "Grants");
  await page.getByLabel("Grant to subject").fill("team:acme/web");
  await page.getByLabel("Role to grant").selectOption("deployer");
  await page.getByLabel("On object").fill("collection:/production");
  await page.getByRole("button", { name: "Grant", exact: true }).click();
  await say(page, "Granted deployer to team:acme/web on collection:/production");
  const row = page.getByRole("row").filter({ hasText: "team:acme/web" });
  await row.waitFor();
  await audit(page, "grants");
  await page.screenshot({ path: join(shots, "grants.png") });

  // The tree shows the grant at its node.
  await go(page, "/collections/production", "Collections");
  await page.getByRole("cell", { name: "team:acme/web", exact: true }).waitFor();
  await audit(page, "collections");
  await page.screenshot({ path: join(shots, "collections.png") });

  // Who can exec in /production/web, and why maria can.
  await go(page, "/access", "Access review");
  await page.getByLabel("Operation").first().fill("container.exec");
  await page.getByLabel("On object").fill("collection:/production/web");
  await page.getByRole("button", { name: "Who can?" }).click();
  const who = page.locator("#who-can-result");
  await who.getByRole("cell", { name: "user:maria", exact: true }).waitFor();
  assert.match(await who.innerText(), /deployer on collection:\/production/);
  await page.locator("#f-why-subject").fill("user:maria");
  await page.locator("#f-why-operation").fill("container.exec");
  await page.locator("#f-why-collection").fill("/production/web");
  await page.getByRole("button", { name: "Explain" }).click();
  await page.locator("#why-result").filter({ hasText: "Allowed" }).waitFor();
  assert.match(await page.locator("#why-result").innerText(), /deployer on collection:\/production/);
  await audit(page, "access review");
  await page.screenshot({ path: join(shots, "access-review.png"), fullPage: true });

  // Revoke, and the answer changes.
  await go(page, "/grants?subject=team:acme/web", "Grants");
  await page.getByRole("button", { name: /Revoke grant .*deployer for team:acme\/web/ }).click();
  await say(page, "Revoked grant");
  await go(page, "/access", "Access review");
  await page.locator("#f-why-subject").fill("user:maria");
  await page.locator("#f-why-operation").fill("container.exec");
  await page.locator("#f-why-collection").fill("/production/web");
  await page.getByRole("button", { name: "Explain" }).click();
  await page.locator("#why-result").filter({ hasText: "Denied" }).waitFor();

  // The audit log has both.
  await go(page, "/audit", "Audit log");
  const events = page.locator("#audit-events");
  await events.getByRole("cell", { name: "grant.create" }).first().waitFor();
  await events.getByRole("cell", { name: "grant.delete" }).first().waitFor();
  await events.getByRole("cell", { name: "role.create" }).first().waitFor();
  await audit(page, "audit log");
  await page.screenshot({ path: join(shots, "audit.png") });

  // LDAP: the configuration round-trips (no reader password ever shown),
  // and a sync of a directory that is not configured reports why, verbatim.
  await go(page, "/ldap", "LDAP");
  const config = page.getByLabel(/Configuration \(JSON/);
  await page.waitForFunction(() => document.querySelector("#ldap-config")?.value.includes("{"));
  assert.doesNotMatch(await config.inputValue(), /"readerPassword"\s*:/);
  await page.getByRole("button", { name: "Save" }).click();
  await say(page, "Saved the LDAP configuration");
  await page.getByRole("button", { name: "Sync now" }).click();
  await page.getByText("LDAP integration is not enabled").first().waitFor();
  await audit(page, "LDAP");

  // Keyboard: the main navigation is reachable by Tab and followed by Enter.
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1 }).waitFor();

  assert.deepEqual(page.external, [], "requests to other origins");
  // Logging out ends the session: the cookie no longer opens the API.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  assert.equal((await ctx.cookies()).some((c) => c.name === "__Host-grantd-session" && c.value), false);
  await ctx.close();
});

test("an org admin sees their org only, a plain user no admin pages", async () => {
  const { ctx, page } = await person();
  await login(page, "olga", "olga-password");
  await go(page, "/people", "People and orgs");
  const orgs = page.locator("#org-list");
  await orgs.getByRole("link", { name: "acme" }).waitFor();
  assert.equal(await orgs.getByRole("link", { name: "beta" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Audit log" }).count(), 0);
  await go(page, "/audit", "Not for you");
  await ctx.close();

  const m = await person();
  await login(m.page, "maria", "maria-password");
  for (const link of ["Collections", "Audit log", "LDAP", "Access review"]) {
    assert.equal(await m.page.getByRole("link", { name: link }).count(), 0, link + " is in a plain user's menu");
  }
  await go(m.page, "/collections", "Not for you");
  await go(m.page, "/ldap", "Not for you");
  // The API refuses the same, whatever the page does.
  const r = await api(m.page, "GET", "/v1/audit");
  assert.equal(r.status, 403, r.body);
  await go(m.page, "/grants", "Grants");
  await audit(m.page, "a plain user's grants");
  await m.ctx.close();
});

test("the console's pages carry a strict CSP that stops inline script", async () => {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  const resp = await page.goto(base + "/ui/");
  const h = resp.headers();
  assert.match(h["content-security-policy"], /default-src 'none'/);
  assert.match(h["content-security-policy"], /script-src 'self'(;|$)/);
  assert.match(h["content-security-policy"], /frame-ancestors 'none'/);
  assert.equal(h["x-frame-options"], "DENY");
  assert.equal(h["x-content-type-options"], "nosniff");
  const ran = await page.evaluate(async () => {
    window.__ran = false;
    const s = document.createElement("script");
    s.textContent = "window.__ran = true";
    document.body.appendChild(s);
    await new Promise((r) => setTimeout(r, 50));
    return window.__ran;
  });
  assert.equal(ran, false, "an inline script ran");
  await ctx.close();
});
