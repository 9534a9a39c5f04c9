// The account lifecycle through the real better-auth client's own calls
// (sendVerificationEmail, verifyEmail, changeEmail, requestPasswordReset,
// resetPassword, listAccounts, deleteUser), in cookie and in bearer mode. The
// server writes its mails as .eml files to MAIL_DIR (its development transport);
// the links in them are opened like a browser opens them.
//
// Driven by tests/e2e/tests/better_auth_client.rs, which also sets:
//   MAIL_DIR    where the server writes mails
//   LINK_BASE   the server's configured base URL (links name it; we open them at AUTH_URL)

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { simpleParser } from "mailparser";

import { API, AUTH_URL, PASSWORD, TRUSTED_ORIGIN, check, makeClient, ok, show } from "./harness.mjs";

const MAIL_DIR = process.env.MAIL_DIR ?? "";
const LINK_BASE = (process.env.LINK_BASE ?? "").replace(/\/+$/, "");
if (!MAIL_DIR || !LINK_BASE) throw new Error("MAIL_DIR and LINK_BASE must be set");

/** Mails to `address` so far, oldest first, parsed. */
async function mailsTo(address) {
  const found = [];
  for (const name of readdirSync(MAIL_DIR).filter((n) => n.endsWith(".eml")).sort()) {
    const mail = await simpleParser(readFileSync(join(MAIL_DIR, name)));
    if (mail.to?.text?.toLowerCase().includes(address.toLowerCase())) found.push(mail);
  }
  return found;
}

/** Waits for the `n`-th mail to `address` and returns the link in it, opened at AUTH_URL. */
async function nthLink(address, n) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const mails = await mailsTo(address);
    if (mails.length >= n) {
      const link = mails[n - 1].text.match(/https?:\/\/\S+/)?.[0];
      assert.ok(link?.startsWith(`${LINK_BASE}/api/auth/`), `mail without our link: ${mails[n - 1].text}`);
      return AUTH_URL + link.slice(LINK_BASE.length);
    }
    assert.ok(Date.now() < deadline, `no mail #${n} for ${address} (have ${mails.length})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const tokenOf = (link) => new URL(link).searchParams.get("token");

for (const mode of ["cookie", "bearer"]) {
  test(`better-auth client account lifecycle, ${mode} mode`, async (t) => {
    const { client, rawFetch } = makeClient(mode);
    const email = `life-${mode}-${Date.now()}-${randomUUID().slice(0, 8)}@example.com`;
    const moved = `moved-${mode}-${randomUUID().slice(0, 8)}@example.com`;
    const newPassword = "reset-pass-456";
    let mailsToFirst = 0;

    await check(t, mode, "signUp.email sends the verification mail", async () => {
      ok(await client.signUp.email({ name: "Life Cycle", email, password: PASSWORD }), "signUp.email");
      await nthLink(email, 1);
      mailsToFirst = 1;
      const session = ok(await client.getSession(), "getSession");
      assert.equal(session.user.emailVerified, false);
    });

    await check(t, mode, "sendVerificationEmail mails a fresh link", async () => {
      const data = ok(
        await client.sendVerificationEmail({ email, callbackURL: "/verified" }),
        "sendVerificationEmail",
      );
      assert.equal(data.status, true);
      const link = await nthLink(email, ++mailsToFirst);
      assert.equal(new URL(link).searchParams.get("callbackURL"), "/verified");
    });

    await check(t, mode, "verifyEmail with the mailed token verifies the address", async () => {
      const token = tokenOf(await nthLink(email, mailsToFirst));
      const data = ok(await client.verifyEmail({ query: { token } }), "verifyEmail");
      assert.equal(data.status, true);
      const session = ok(await client.getSession(), "getSession after verifyEmail");
      assert.equal(session.user.emailVerified, true);
      const again = await client.verifyEmail({ query: { token: "forged-token" } });
      assert.equal(again.error?.status, 401, show(again));
      assert.equal(again.error?.code, "INVALID_TOKEN", show(again));
    });

    await check(t, mode, "listAccounts shows the credential account", async () => {
      const list = ok(await client.listAccounts(), "listAccounts");
      assert.equal(list.length, 1, JSON.stringify(list));
      assert.equal(list[0].providerId, "credential");
      assert.ok(list[0].createdAt instanceof Date, "dates revived");
      assert.equal(list[0].password, undefined);
    });

    await check(t, mode, "changeEmail is confirmed from the old address, then the new one", async () => {
      const data = ok(await client.changeEmail({ newEmail: moved, callbackURL: "/settings" }), "changeEmail");
      assert.equal(data.status, true);
      const confirm = await nthLink(email, ++mailsToFirst);
      const res = await rawFetch(confirm, { redirect: "manual" });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), "/settings");
      const token = tokenOf(await nthLink(moved, 1));
      ok(await client.verifyEmail({ query: { token } }), "verifyEmail for the new address");
      const session = ok(await client.getSession(), "getSession after the change");
      assert.equal(session.user.email, moved);
    });

    await check(t, mode, "requestPasswordReset and resetPassword replace the password", async () => {
      const data = ok(
        await client.requestPasswordReset({ email: moved, redirectTo: `${TRUSTED_ORIGIN}/reset` }),
        "requestPasswordReset",
      );
      assert.equal(data.status, true);
      const landing = await fetch(await nthLink(moved, 2), { redirect: "manual" });
      assert.equal(landing.status, 302);
      const target = new URL(landing.headers.get("location"));
      assert.equal(target.origin + target.pathname, `${TRUSTED_ORIGIN}/reset`);
      const token = target.searchParams.get("token");
      ok(await client.resetPassword({ newPassword, token }), "resetPassword");
      const old = await client.signIn.email({ email: moved, password: PASSWORD });
      assert.equal(old.error?.status, 401, show(old));
      ok(await client.signIn.email({ email: moved, password: newPassword }), "signIn with the new password");
      const reused = await client.resetPassword({ newPassword: "another-pass-789", token });
      assert.equal(reused.error?.code, "INVALID_TOKEN", show(reused));
    });

    await check(t, mode, "deleteUser deletes the account", async () => {
      const data = ok(await client.deleteUser(), "deleteUser");
      assert.equal(data.success, true);
      assert.equal(data.message, "User deleted");
      const session = await client.getSession();
      assert.equal(session.data, null, show(session));
      const res = await client.signIn.email({ email: moved, password: newPassword });
      assert.equal(res.error?.status, 401, show(res));
      const probe = await fetch(`${API}/ok`);
      assert.equal(probe.status, 200);
    });
  });
}
