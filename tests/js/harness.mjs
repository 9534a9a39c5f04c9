// What the JS suites share: the server's address, a client per mode (a browser
// page with a cookie jar, or a bearer-token client), and strict checks whose names
// are recorded for the Rust driver (tests/e2e/tests/better_auth_client.rs).

import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";

import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";

export const AUTH_URL = (process.env.AUTH_URL ?? "").replace(/\/+$/, "");
if (!AUTH_URL) {
  throw new Error("AUTH_URL is not set (e.g. AUTH_URL=http://127.0.0.1:8080)");
}
export const API = `${AUTH_URL}/api/auth`;
/** The browser origin the server trusts (its `trusted_origins`). */
export const TRUSTED_ORIGIN = "http://localhost:3000";
export const PASSWORD = "client-pass-123";
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
export function makeClient(mode) {
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
export async function check(t, mode, name, fn) {
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
export const show = (result) =>
  JSON.stringify({ data: result?.data ?? null, error: result?.error ?? null });

/** Asserts `{data, error}` is a success and returns `data`. */
export function ok(result, what) {
  assert.equal(result.error, null, `${what} failed: ${show(result)}`);
  return result.data;
}

