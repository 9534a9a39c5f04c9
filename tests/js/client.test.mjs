// Runs the real `better-auth` npm client (pinned in package.json) against a running
// auth-server, once as a browser page would (cookie jar + Origin) and once as a
// bearer-token client (the documented `set-auth-token` pattern).
//
// Driven by tests/e2e/tests/better_auth_client.rs, which starts the server and sets:
//   AUTH_URL       e.g. http://127.0.0.1:PORT (where the server listens)
//   AUTH_ISSUER    expected JWT `iss`
//   AUTH_AUDIENCE  expected JWT `aud`
// By hand: AUTH_URL=http://127.0.0.1:8080 AUTH_ISSUER=… AUTH_AUDIENCE=… node --test tests/js/client.test.mjs

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { test } from "node:test";

import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { createRemoteJWKSet, jwtVerify } from "jose";

const AUTH_URL = (process.env.AUTH_URL ?? "").replace(/\/+$/, "");
if (!AUTH_URL) {
  throw new Error("AUTH_URL is not set (e.g. AUTH_URL=http://127.0.0.1:8080)");
}
const API = `${AUTH_URL}/api/auth`;
/** The browser origin the server trusts (its `trusted_origins`). */
const TRUSTED_ORIGIN = "http://localhost:3000";
const PASSWORD = "client-pass-123";
const SESSION_COOKIE = "better-auth.session_token";

/**
 * A fetch with a minimal cookie jar, behaving like a page on TRUSTED_ORIGIN:
 * remembers `Set-Cookie` (dropping cleared ones), sends the jar back as `cookie`
 * and always sends `origin`.
 */
function browserLikeFetch() {
  const jar = new Map();
  const impl = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("origin", TRUSTED_ORIGIN);
    if (jar.size > 0) {
      headers.set(
        "cookie",
        [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
      );
    }
    const res = await fetch(input, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const cleared = attrs.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (cleared || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  return { impl, jar };
}

/** A client in `mode` ("cookie" | "bearer") plus a way to make raw authenticated calls. */
function makeClient(mode) {
  if (mode === "cookie") {
    const { impl, jar } = browserLikeFetch();
    const client = createAuthClient({
      baseURL: AUTH_URL,
      plugins: [jwtClient()],
      fetchOptions: { customFetchImpl: impl },
    });
    return {
      client,
      /** Raw fetch carrying the same credentials the client has. */
      rawFetch: (url, init = {}) => impl(url, init),
      hasCredential: () => jar.has(SESSION_COOKIE),
    };
  }
  let stored = "";
  const client = createAuthClient({
    baseURL: AUTH_URL,
    plugins: [jwtClient()],
    fetchOptions: {
      // Node's fetch sends `sec-fetch-mode: cors`, which makes sign-in/sign-up
      // require an Origin (wire spec §6); a browser would send one anyway.
      headers: { origin: TRUSTED_ORIGIN },
      onSuccess: (ctx) => {
        const token = ctx.response.headers.get("set-auth-token");
        if (token) stored = token;
      },
      auth: { type: "Bearer", token: () => stored },
    },
  });
  return {
    client,
    rawFetch: (url, init = {}) => {
      const headers = new Headers(init.headers);
      if (stored) headers.set("authorization", `Bearer ${stored}`);
      return fetch(url, { ...init, headers });
    },
    hasCredential: () => stored !== "",
  };
}

/**
 * Where each passed check's name is appended, one a line (set by the Rust wrapper,
 * which compares the file with the list of checks it expects).
 */
const CHECKS_OUT = process.env.CHECKS_OUT ?? "";

/**
 * Runs `fn` as sub-test `name` of `t`. A skip is a failure: the context handed to
 * `fn` throws on `skip()`/`todo()`. The name is recorded only once `fn` returns
 * without throwing, so a check that never ran is missing from CHECKS_OUT.
 */
async function check(t, mode, name, fn) {
  await t.test(name, async (st) => {
    const strict = new Proxy(st, {
      get(target, prop) {
        if (prop === "skip" || prop === "todo") {
          return (why) => {
            throw new Error(`check "${name}" tried to ${String(prop)} (${why}): skips are failures`);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await fn(strict);
    if (CHECKS_OUT) appendFileSync(CHECKS_OUT, `${mode}: ${name}\n`);
    else console.log(`check passed: ${mode}: ${name}`);
  });
}

/** Describes a client result for assertion messages. */
const show = (result) =>
  JSON.stringify({ data: result?.data ?? null, error: result?.error ?? null });

/** Asserts `{data, error}` is a success and returns `data`. */
function ok(result, what) {
  assert.equal(result.error, null, `${what} failed: ${show(result)}`);
  return result.data;
}

for (const mode of ["cookie", "bearer"]) {
  test(`better-auth client, ${mode} mode`, async (t) => {
    const { client, rawFetch, hasCredential } = makeClient(mode);
    const email = `Client-${mode}-${Date.now()}-${randomUUID().slice(0, 8)}@Example.com`;
    const lower = email.toLowerCase();
    let userId;
    let currentToken;

    await check(t, mode, "signUp.email lower-cases the email and starts a session", async () => {
      const res = await client.signUp.email({ name: "Client User", email, password: PASSWORD });
      const data = ok(res, "signUp.email");
      assert.equal(data.user.email, lower);
      assert.equal(typeof data.user.id, "string");
      assert.equal(typeof data.token, "string", `sign-up returned no session token: ${show(res)}`);
      assert.ok(hasCredential(), `no session credential received in ${mode} mode`);
      userId = data.user.id;
      const session = ok(await client.getSession(), "getSession after sign-up");
      assert.ok(session?.session, "no session after sign-up");
      assert.equal(session.user.id, userId);
    });

    await check(t, mode, "signIn.email with a wrong password is 401 INVALID_EMAIL_OR_PASSWORD", async () => {
      const res = await client.signIn.email({ email, password: "wrong-pass-999" });
      assert.equal(res.data, null, show(res));
      assert.ok(res.error, show(res));
      assert.equal(res.error.status, 401, show(res));
      assert.equal(res.error.code, "INVALID_EMAIL_OR_PASSWORD", show(res));
    });

    await check(t, mode, "signIn.email succeeds", async () => {
      const data = ok(await client.signIn.email({ email, password: PASSWORD }), "signIn.email");
      assert.equal(data.user.email, lower);
      assert.equal(data.user.id, userId);
      assert.equal(typeof data.token, "string");
      assert.equal(data.redirect, false);
    });

    await check(t, mode, "getSession returns the session with a Date expiresAt in the future", async () => {
      const data = ok(await client.getSession(), "getSession");
      assert.ok(data, "getSession returned null after sign-in");
      assert.ok(
        data.session.expiresAt instanceof Date,
        `expiresAt is not revived as a Date: ${JSON.stringify(data.session.expiresAt)}`,
      );
      assert.ok(data.session.expiresAt.getTime() > Date.now(), "expiresAt is in the past");
      assert.equal(data.user.email, lower);
      assert.equal(data.user.id, userId);
      assert.equal(data.session.userId, userId);
      assert.equal(typeof data.session.token, "string");
      currentToken = data.session.token;
    });

    await check(t, mode, "updateUser changes the name seen by getSession", async () => {
      const newName = `Renamed ${mode}`;
      const data = ok(await client.updateUser({ name: newName }), "updateUser");
      assert.equal(data.status, true);
      const session = ok(await client.getSession(), "getSession after updateUser");
      assert.ok(session, "session lost after updateUser");
      assert.equal(session.user.name, newName);
    });

    await check(t, mode, "token() gives a JWT that verifies against /jwks", async () => {
      const probe = await rawFetch(`${API}/token`);
      await probe.body?.cancel();
      assert.equal(probe.status, 200, "GET /api/auth/token with a session");
      const issuer = process.env.AUTH_ISSUER;
      const audience = process.env.AUTH_AUDIENCE;
      assert.ok(issuer && audience, "AUTH_ISSUER and AUTH_AUDIENCE must be set");

      const data = ok(await client.token(), "token()");
      assert.equal(typeof data.token, "string", show({ data }));
      const jwks = createRemoteJWKSet(new URL(`${API}/jwks`));
      const { payload } = await jwtVerify(data.token, jwks, { issuer, audience });
      assert.equal(payload.sub, userId);
      assert.equal(typeof payload.exp, "number");
      assert.ok(payload.exp * 1000 > Date.now(), "JWT already expired");
    });

    await check(t, mode, "listSessions returns revocation handles, not credentials", async () => {
      const list = ok(await client.listSessions(), "listSessions");
      assert.ok(Array.isArray(list), `listSessions is not an array: ${JSON.stringify(list)}`);
      assert.ok(list.length >= 2, `expected >= 2 sessions (sign-up + sign-in), got ${list.length}`);
      for (const s of list) {
        assert.equal(s.userId, userId);
        assert.equal(typeof s.token, "string");
        assert.notEqual(s.token, currentToken, "list-sessions exposes the current session token");
        const res = await fetch(`${API}/get-session`, {
          headers: { authorization: `Bearer ${s.token}` },
        });
        assert.equal(res.status, 200);
        assert.equal(
          await res.text(),
          "null",
          `list-sessions token ${s.token} works as a bearer credential`,
        );
      }
    });

    await check(t, mode, "revokeOtherSessions leaves only the current session", async () => {
      const data = ok(await client.revokeOtherSessions(), "revokeOtherSessions");
      assert.equal(data.status, true);
      const list = ok(await client.listSessions(), "listSessions after revokeOtherSessions");
      assert.equal(list.length, 1, `sessions left: ${JSON.stringify(list)}`);
      assert.notEqual(list[0].token, currentToken);
      const session = ok(await client.getSession(), "getSession after revokeOtherSessions");
      assert.ok(session, "revokeOtherSessions ended the current session");
      assert.equal(session.session.token, currentToken);
    });

    await check(t, mode, "signOut ends the session", async () => {
      const data = ok(await client.signOut(), "signOut");
      assert.equal(data.success, true);
      const res = await client.getSession();
      assert.equal(res.error, null, show(res));
      assert.equal(res.data, null, `still signed in after signOut: ${show(res)}`);
    });
  });
}
