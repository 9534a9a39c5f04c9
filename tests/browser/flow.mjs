// The example Docusaurus site (production build) in Debian's chromium, driven by
// playwright-core, against the real auth-server and profile-api: a learner's whole
// life, in cookie mode (the site on localhost, one site with the auth-server) and
// in bearer mode (the same build at 127.0.0.1, another site).
//
// Any console error, page error, failed request or HTTP error the flow did not
// announce with `expect()` fails the step it happened in. Screenshots of every
// step go to ARTIFACTS_DIR (printed at the start and the end).
//
// Run by tests/e2e/tests/browser.rs, which starts the services, builds and serves
// the site, and sets:
//   SITE_PORT      where `docusaurus serve` listens (127.0.0.1)
//   AUTH_URL       the auth-server's public URL (http://localhost:<port>)
//   PROFILE_URL    the profile-api's
//   MAIL_DIR       the auth-server's mail outbox (.eml files)
//   OIDC_PORT      where this file starts the OpenID Connect provider ("mock")
//   ARTIFACTS_DIR  where the screenshots go
//   CHECKS_OUT     where each passed step's name is appended
//   CHROMIUM       the browser (default /usr/bin/chromium)

import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

import { chromium } from "playwright-core";
import { simpleParser } from "mailparser";
import { OAuth2Server } from "oauth2-mock-server";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v.replace(/\/+$/, "");
};
const SITE_PORT = Number(env("SITE_PORT"));
const AUTH_URL = env("AUTH_URL");
const PROFILE_URL = env("PROFILE_URL");
const MAIL_DIR = env("MAIL_DIR");
const OIDC_PORT = Number(env("OIDC_PORT"));
const ARTIFACTS = env("ARTIFACTS_DIR");
const CHECKS_OUT = process.env.CHECKS_OUT ?? "";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT = 15_000;

mkdirSync(ARTIFACTS, { recursive: true });
console.log(`screenshots: ${ARTIFACTS}`);

// ------------------------------------------------------------ the OIDC provider
const provider = new OAuth2Server();
/** The claims the provider puts into its next ID tokens: who "signs in" there. */
let providerUser = null;
provider.service.on("beforeTokenSigning", (token) => {
  if (providerUser) Object.assign(token.payload, providerUser);
});
await provider.issuer.keys.generate("RS256");
await provider.start(OIDC_PORT, "127.0.0.1");
// It names itself after "localhost"; the auth-server is configured with the address.
provider.issuer.url = `http://127.0.0.1:${OIDC_PORT}`;

// ------------------------------------------------------------ mail
async function mailsTo(address) {
  const found = [];
  for (const name of readdirSync(MAIL_DIR).filter((n) => n.endsWith(".eml")).sort()) {
    const mail = await simpleParser(readFileSync(join(MAIL_DIR, name)));
    if (mail.to?.text?.toLowerCase().includes(address.toLowerCase())) found.push(mail);
  }
  return found;
}

/** Waits for the `n`-th mail to `address` and returns its link (on the auth-server). */
async function nthLink(address, n) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const mails = await mailsTo(address);
    if (mails.length >= n) {
      const link = mails[n - 1].text.match(/https?:\/\/\S+/)?.[0];
      assert.ok(link?.startsWith(`${AUTH_URL}/api/auth/`), `mail without our link: ${mails[n - 1].text}`);
      return link;
    }
    assert.ok(Date.now() < deadline, `no mail #${n} for ${address} (have ${mails.length})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ------------------------------------------------------------ watching pages
/**
 * Everything that went wrong in the pages of one mode since the last step, and the
 * failures the current step announced (`expect(method, path, status)`).
 */
class Watch {
  constructor() {
    this.problems = [];
    this.expected = [];
    /** URLs whose failure was expected: Chrome logs "Failed to load resource" for them. */
    this.expectedUrls = new Set();
  }

  expect(method, path, status) {
    this.expected.push({ method, path, status });
  }

  attach(page, label) {
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const url = msg.location()?.url ?? "";
      if (/^Failed to load resource: the server responded with a status of \d+/.test(msg.text())) {
        // Judged once the step ends: its response may be reported after this.
        this.problems.push({ kind: "console", label, text: msg.text(), url });
      } else {
        this.problems.push({ kind: "console", label, text: msg.text(), url, fatal: true });
      }
    });
    page.on("pageerror", (err) => this.problems.push({ kind: "pageerror", label, text: String(err), fatal: true }));
    page.on("requestfailed", (req) => {
      const why = req.failure()?.errorText ?? "";
      // A navigation replacing the page cancels what it was still loading.
      if (why === "net::ERR_ABORTED") return;
      this.problems.push({ kind: "requestfailed", label, text: `${req.method()} ${req.url()}: ${why}`, fatal: true });
    });
    page.on("response", (res) => {
      if (res.status() < 400) return;
      const url = new URL(res.url());
      const method = res.request().method();
      const i = this.expected.findIndex(
        (e) => e.method === method && url.pathname.endsWith(e.path) && e.status === res.status(),
      );
      if (i >= 0) {
        this.expected.splice(i, 1);
        this.expectedUrls.add(res.url());
        return;
      }
      this.problems.push({ kind: "http", label, text: `${method} ${res.url()} -> ${res.status()}`, fatal: true });
    });
  }

  /** Throws if anything unexpected happened or an announced failure never came. */
  settle(step) {
    const bad = this.problems.filter((p) => p.fatal || !this.expectedUrls.has(p.url));
    const missing = this.expected;
    this.problems = [];
    this.expected = [];
    this.expectedUrls = new Set();
    assert.ok(bad.length === 0, `step "${step}": unexpected console errors or failed requests:\n${JSON.stringify(bad, null, 2)}`);
    assert.ok(missing.length === 0, `step "${step}": expected failures that never happened: ${JSON.stringify(missing)}`);
  }
}

// ------------------------------------------------------------ the flow
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});

let failed = false;
try {
  for (const mode of ["cookie", "bearer"]) {
    await runMode(mode);
  }
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  await provider.stop();
  console.log(`screenshots: ${ARTIFACTS}`);
}
process.exit(failed ? 1 : 0);

async function runMode(mode) {
  // Same build, two origins: localhost is the auth-server's site, 127.0.0.1 is not.
  const site = mode === "cookie" ? `http://localhost:${SITE_PORT}` : `http://127.0.0.1:${SITE_PORT}`;
  const tag = `${mode}-${randomUUID().slice(0, 8)}`;
  const email = `ada-${tag}@example.com`;
  const password = "first-pass-123";
  const newPassword = "second-pass-456";
  const watch = new Watch();
  let shot = 0;

  const newContext = async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    context.setDefaultTimeout(TIMEOUT);
    return context;
  };
  const newPage = async (context, label) => {
    const page = await context.newPage();
    watch.attach(page, label);
    return page;
  };

  const context = await newContext();
  const page = await newPage(context, "tab 1");

  async function step(name, fn) {
    const started = Date.now();
    try {
      await fn();
      // Let late responses and console messages of this step arrive.
      await page.waitForLoadState("networkidle").catch(() => {});
      watch.settle(name);
    } catch (e) {
      await page.screenshot({ path: join(ARTIFACTS, `${mode}-${String(++shot).padStart(2, "0")}-FAILED.png`), fullPage: true }).catch(() => {});
      throw new Error(`${mode}: ${name}: ${e.message}`, { cause: e });
    }
    await page.screenshot({ path: join(ARTIFACTS, `${mode}-${String(++shot).padStart(2, "0")}-${name.replace(/\W+/g, "-")}.png`), fullPage: true });
    const line = `${mode}: ${name}`;
    console.log(`ok ${line} (${Date.now() - started} ms)`);
    if (CHECKS_OUT) appendFileSync(CHECKS_OUT, `${line}\n`);
  }

  const signedInAs = (p, who) => p.getByRole("link", { name: `Signed in as ${who}` });
  // A page is usable once React has hydrated it (src/theme/Root.tsx marks <html>):
  // before that, typed values are reset and a click submits the form natively.
  const ready = (p) => p.locator('html[data-hydrated="1"]').waitFor({ state: "attached" });
  const logIn = async (p, who, pass) => {
    await ready(p);
    await p.getByLabel("E-mail", { exact: true }).fill(who);
    await p.getByLabel("Password", { exact: true }).fill(pass);
    await p.getByRole("button", { name: "Log in", exact: true }).click();
  };
  const signOut = async (p) => {
    await p.getByRole("button", { name: "Sign out", exact: true }).click();
    await p.waitForURL(/\/login/);
    await p.getByRole("link", { name: "Log in", exact: true }).waitFor();
  };

  await step("register", async () => {
    await page.goto(`${site}/register`);
    await ready(page);
    await page.getByLabel("Name", { exact: true }).fill("Ada");
    await page.getByLabel("E-mail", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("We sent a verification link to").waitFor();
    await signedInAs(page, email).waitFor();
  });

  await step("verify by the mail link", async () => {
    await page.goto(await nthLink(email, 1));
    await ready(page);
    await page.waitForURL(`${site}/verify-email`);
    await page.getByText("Your e-mail address is verified.").waitFor();
    await page.goto(`${site}/account`);
    await ready(page);
    await page.getByText("(verified)").waitFor();
  });

  await step("sign out", async () => {
    await signOut(page);
  });

  await step("protected page redirects to log in and back", async () => {
    await page.goto(`${site}/profile`);
    await ready(page);
    await page.waitForURL(/\/login\?next=%2Fprofile/);
    watch.expect("POST", "/api/auth/sign-in/email", 401);
    await logIn(page, email, "not-the-password");
    await page.getByRole("alert").filter({ hasText: /invalid email or password/i }).waitFor();
  });

  await step("sign in", async () => {
    // Lands on the profile page; a learner without a profile gets the profile-api's 404.
    watch.expect("GET", "/api/profile", 404);
    await logIn(page, email, password);
    await page.waitForURL(`${site}/profile`);
    await signedInAs(page, email).waitFor();
    await page.getByText("You have no profile yet").waitFor();
  });

  await step("edit profile", async () => {
    // A learner without a profile: the profile-api's 404 means "none yet".
    await page.getByText("You have no profile yet").waitFor();
    await page.getByLabel("Display name", { exact: true }).fill("Ada L.");
    await page.getByLabel("Avatar URL", { exact: true }).fill("javascript:alert(1)");
    await page.getByLabel("Software background", { exact: true }).selectOption("advanced");
    await page.getByLabel("Programming languages", { exact: true }).fill("Python, Rust");
    // The browser's own check lets this through only as type=url; skip it to see
    // the server's 422 next to its field.
    await page.locator("form[aria-label='Your profile']").evaluate((f) => (f.noValidate = true));
    watch.expect("PUT", "/api/profile", 422);
    await page.getByRole("button", { name: "Save profile" }).click();
    const avatar = page.getByLabel("Avatar URL", { exact: true });
    await page.locator(".auth-field", { has: avatar }).getByRole("alert").waitFor();
    assert.equal(await avatar.getAttribute("aria-invalid"), "true");
    await avatar.fill("https://example.com/ada.png");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("Profile saved.").waitFor();
  });

  await step("reload persists", async () => {
    await page.reload();
    await page.getByLabel("Display name", { exact: true }).waitFor();
    assert.equal(await page.getByLabel("Display name", { exact: true }).inputValue(), "Ada L.");
    assert.equal(await page.getByLabel("Software background", { exact: true }).inputValue(), "advanced");
    assert.equal(await page.getByLabel("Programming languages", { exact: true }).inputValue(), "Python, Rust");
  });

  await step("edit in a second tab and see the conflict", async () => {
    const tab2 = await newPage(context, "tab 2");
    await tab2.goto(`${site}/profile`);
    await ready(tab2);
    await tab2.getByLabel("Display name", { exact: true }).fill("Ada from tab 2");
    await tab2.getByRole("button", { name: "Save profile" }).click();
    await tab2.getByText("Profile saved.").waitFor();
    await tab2.close();
    // Tab 1 still holds the old version.
    await page.getByLabel("Display name", { exact: true }).fill("Ada from tab 1");
    watch.expect("PATCH", "/api/profile", 412);
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("This profile was changed elsewhere — reload").waitFor();
    await page.getByRole("button", { name: "Reload" }).click();
    await page.waitForFunction(() => document.querySelector("input[name=display_name]")?.value === "Ada from tab 2");
  });

  await step("forgot password", async () => {
    await page.goto(`${site}/forgot-password`);
    await ready(page);
    await page.getByLabel("E-mail", { exact: true }).fill(email);
    await page.getByRole("button", { name: "Send me a reset link" }).click();
    await page.getByText("a reset link is on its way").waitFor();
  });

  await step("reset by the mail link", async () => {
    await page.goto(await nthLink(email, 2));
    await ready(page);
    await page.waitForURL(/\/reset-password\?token=/);
    await page.getByLabel("New password", { exact: true }).fill(newPassword);
    await page.getByRole("button", { name: "Set password" }).click();
    await page.getByText("Password changed.").waitFor();
  });

  await step("old password refused", async () => {
    await page.goto(`${site}/login`);
    await ready(page);
    watch.expect("POST", "/api/auth/sign-in/email", 401);
    await logIn(page, email, password);
    await page.getByRole("alert").filter({ hasText: /invalid email or password/i }).waitFor();
    await logIn(page, email, newPassword);
    await page.waitForURL(`${site}/profile`);
    await signedInAs(page, email).waitFor();
  });

  if (mode === "cookie") {
    await step("social sign-in through the OpenID Connect provider", async () => {
      await signOut(page);
      const social = `sam-${tag}@example.com`;
      providerUser = { sub: `sam-${tag}`, email: social, email_verified: true, name: "Sam" };
      // A user created by this sign-in lands on the profile page, with no profile yet.
      watch.expect("GET", "/api/profile", 404);
      await page.getByRole("button", { name: "Continue with Mock" }).click();
      await page.waitForURL(`${site}/profile`);
      await signedInAs(page, social).waitFor();
      await page.getByText("You have no profile yet").waitFor();
      await signOut(page);
      await logIn(page, email, newPassword);
      await page.waitForURL(`${site}/profile`);
    });

    await step("link and unlink the provider", async () => {
      await page.goto(`${site}/account`);
      await ready(page);
      providerUser = { sub: `ada-${tag}`, email, email_verified: true, name: "Ada" };
      await page.getByRole("button", { name: "Link Mock" }).click();
      await page.waitForURL(`${site}/account`);
      await page.getByRole("button", { name: "Unlink Mock" }).click();
      await page.getByText("Mock unlinked.").waitFor();
      assert.equal(await page.getByRole("button", { name: "Unlink Mock" }).count(), 0);
      await page.getByRole("button", { name: "Link Mock" }).waitFor();
    });
  } else {
    await step("no provider buttons where the flow cannot end", async () => {
      await page.goto(`${site}/account`);
      await ready(page);
      await page.getByText("E-mail and password").waitFor();
      assert.equal(await page.getByRole("button", { name: "Link Mock" }).count(), 0);
      await signOut(page);
      await page.getByText("Provider sign-in needs this site and the sign-in service on one site").waitFor();
      assert.equal(await page.getByRole("button", { name: "Continue with Mock" }).count(), 0);
      await logIn(page, email, newPassword);
      await page.waitForURL(`${site}/profile`);
    });
  }

  await step("revoke the other session", async () => {
    const other = await newContext();
    const device = await newPage(other, "other device");
    await device.goto(`${site}/login?next=%2Faccount`);
    await ready(device);
    await logIn(device, email, newPassword);
    await device.waitForURL(`${site}/account`);
    await page.goto(`${site}/account`);
    await ready(page);
    await page.getByRole("button", { name: "Sign out this session" }).click();
    await page.getByText("Session signed out.").waitFor();
    assert.equal(await page.getByRole("button", { name: "Sign out this session" }).count(), 0);
    // Its next request finds the session gone.
    await device.reload();
    await device.waitForURL(/\/login\?next=%2Faccount/);
    await device.getByRole("link", { name: "Log in", exact: true }).waitFor();
    await device.screenshot({ path: join(ARTIFACTS, `${mode}-other-device-signed-out.png`) });
    await other.close();
  });

  await step("delete account", async () => {
    await page.getByLabel("I understand this deletes my account", { exact: true }).check();
    await page.getByRole("button", { name: "Delete my account" }).click();
    await page.waitForURL(`${site}/?deleted=1`);
    await page.getByText("Your account was deleted.").waitFor();
    await page.goto(`${site}/login`);
    await ready(page);
    watch.expect("POST", "/api/auth/sign-in/email", 401);
    await logIn(page, email, newPassword);
    await page.getByRole("alert").filter({ hasText: /invalid email or password/i }).waitFor();
  });

  await context.close();
}
