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
import { test } from "node:test";

import { createRemoteJWKSet, jwtVerify } from "jose";

import { API, PASSWORD, check, makeClient, ok, show } from "./harness.mjs";

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
