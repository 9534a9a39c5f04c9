// Social sign-in through the real better-auth client (signIn.social, linkSocial,
// listAccounts, unlinkAccount) against a real OpenID Connect provider on loopback
// (the npm oauth2-mock-server, which checks PKCE and returns our nonce). The
// provider's redirects are followed like a browser follows them.
//
// Cookie mode runs the redirect flow: its state cookie and session cookie live on
// the auth-server's origin, as in a browser. Bearer mode (a site on another origin)
// cannot keep the auth-server's state cookie, so it signs in with an ID token the
// client already holds (Google One Tap style) and starts a link.
//
// Driven by tests/e2e/tests/better_auth_client.rs, which also sets:
//   OIDC_PORT   where this file starts the provider (the server knows it as "mock")
//   LINK_BASE   the server's configured base URL (redirects name it; we open AUTH_URL)

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";

import { OAuth2Server } from "oauth2-mock-server";

import { AUTH_URL, PASSWORD, TRUSTED_ORIGIN, check, makeClient, ok, show } from "./harness.mjs";

const OIDC_PORT = Number(process.env.OIDC_PORT ?? "");
const LINK_BASE = (process.env.LINK_BASE ?? "").replace(/\/+$/, "");
if (!OIDC_PORT || !LINK_BASE) throw new Error("OIDC_PORT and LINK_BASE must be set");
const CLIENT_ID = "js-social-client";
const DONE = `${TRUSTED_ORIGIN}/dashboard`;
const WELCOME = `${TRUSTED_ORIGIN}/welcome`;
const OOPS = `${TRUSTED_ORIGIN}/oops`;

const provider = new OAuth2Server();
/** Who the provider signs in next: the claims put into its ID tokens. */
let nextUser = null;
provider.service.on("beforeTokenSigning", (token) => {
  if (nextUser) Object.assign(token.payload, nextUser);
});

before(async () => {
  await provider.issuer.keys.generate("RS256");
  await provider.start(OIDC_PORT, "127.0.0.1");
  // It names itself after "localhost"; the server is configured with the address.
  provider.issuer.url = `http://127.0.0.1:${OIDC_PORT}`;
});
after(async () => {
  await provider.stop();
});

const person = (tag) => {
  const id = randomUUID().slice(0, 8);
  return { sub: `sub-${tag}-${id}`, email: `${tag}-${id}@example.com`, email_verified: true, name: `Social ${tag}` };
};

/**
 * Follows `url` (the provider's authorization URL) like a browser: the provider's
 * redirect back, then our callback with this client's cookies. Returns the
 * callback's final `Location`.
 */
async function dance(rawFetch, url) {
  const atProvider = await fetch(url, { redirect: "manual" });
  assert.equal(atProvider.status, 302, `provider answered ${atProvider.status}`);
  const back = atProvider.headers.get("location");
  assert.ok(back.startsWith(`${LINK_BASE}/api/auth/callback/mock?`), back);
  const callback = await rawFetch(AUTH_URL + back.slice(LINK_BASE.length), { redirect: "manual" });
  assert.equal(callback.status, 302, `callback answered ${callback.status}`);
  return callback.headers.get("location");
}

test("better-auth client social sign-in, cookie mode", async (t) => {
  const mode = "cookie";
  const { client, rawFetch } = makeClient(mode);
  const ada = person("ada");
  let adaId = "";

  await check(t, mode, "signIn.social signs a new user up through the provider", async () => {
    nextUser = ada;
    const data = ok(
      await client.signIn.social({ provider: "mock", callbackURL: DONE, newUserCallbackURL: WELCOME, errorCallbackURL: OOPS }),
      "signIn.social",
    );
    assert.equal(data.redirect, true);
    const url = new URL(data.url);
    assert.equal(url.origin, `http://127.0.0.1:${OIDC_PORT}`);
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
    assert.ok(url.searchParams.get("nonce"));
    assert.equal(await dance(rawFetch, data.url), WELCOME);
    const session = ok(await client.getSession(), "getSession");
    assert.equal(session.user.email, ada.email);
    assert.equal(session.user.emailVerified, true);
    assert.equal(session.user.name, "Social ada");
    adaId = session.user.id;
  });

  await check(t, mode, "signIn.social again signs the same user in", async () => {
    ok(await client.signOut(), "signOut");
    const data = ok(await client.signIn.social({ provider: "mock", callbackURL: DONE, newUserCallbackURL: WELCOME }), "signIn.social");
    assert.equal(await dance(rawFetch, data.url), DONE);
    const session = ok(await client.getSession(), "getSession");
    assert.equal(session.user.id, adaId);
  });

  const lin = person("lin");
  await check(t, mode, "linkSocial links the provider to a password user", async () => {
    ok(await client.signOut(), "signOut");
    ok(await client.signUp.email({ email: lin.email, password: PASSWORD, name: "Lin" }), "signUp.email");
    nextUser = lin;
    const data = ok(await client.linkSocial({ provider: "mock", callbackURL: DONE, errorCallbackURL: OOPS }), "linkSocial");
    assert.equal(await dance(rawFetch, data.url), DONE);
    const accounts = ok(await client.listAccounts(), "listAccounts");
    assert.deepEqual(accounts.map((a) => a.providerId).sort(), ["credential", "mock"], show({ data: accounts }));
    assert.equal(accounts.find((a) => a.providerId === "mock").accountId, lin.sub);
  });

  await check(t, mode, "unlinkAccount removes the provider account, never the last", async () => {
    const accounts = ok(await client.listAccounts(), "listAccounts");
    const mock = accounts.find((a) => a.providerId === "mock");
    ok(await client.unlinkAccount({ accountId: mock.id }), "unlinkAccount");
    const left = ok(await client.listAccounts(), "listAccounts");
    assert.deepEqual(left.map((a) => a.providerId), ["credential"]);
    const last = await client.unlinkAccount({ accountId: left[0].id });
    assert.equal(last.error?.status, 400, show(last));
    assert.equal(last.error?.code, "FAILED_TO_UNLINK_LAST_ACCOUNT");
  });

  await check(t, mode, "an unverified password account is not captured by signIn.social", async () => {
    // Lin's address is not verified here: the provider's sign-in must not take it.
    ok(await client.signOut(), "signOut");
    nextUser = lin;
    const data = ok(await client.signIn.social({ provider: "mock", callbackURL: DONE, errorCallbackURL: OOPS }), "signIn.social");
    assert.equal(await dance(rawFetch, data.url), `${OOPS}?error=account_not_linked`);
    const session = await client.getSession();
    assert.equal(session.data, null, show(session));
  });
});

test("better-auth client social sign-in, bearer mode", async (t) => {
  const mode = "bearer";
  const { client } = makeClient(mode);
  const tap = person("tap");

  await check(t, mode, "signIn.social with an idToken signs in directly", async () => {
    const idToken = await provider.issuer.buildToken({
      scopesOrTransform: (_header, payload) => Object.assign(payload, tap, { aud: CLIENT_ID }),
    });
    const data = ok(await client.signIn.social({ provider: "mock", idToken: { token: idToken } }), "signIn.social");
    assert.equal(data.redirect, false);
    assert.equal(data.user.email, tap.email);
    const session = ok(await client.getSession(), "getSession");
    assert.equal(session.user.email, tap.email);
  });

  await check(t, mode, "a forged idToken is refused", async () => {
    const forged = await provider.issuer.buildToken({
      scopesOrTransform: (_header, payload) => Object.assign(payload, tap, { aud: "someone-else" }),
    });
    const res = await makeClient(mode).client.signIn.social({ provider: "mock", idToken: { token: forged } });
    assert.equal(res.error?.status, 401, show(res));
    assert.equal(res.error?.code, "INVALID_TOKEN");
  });

  await check(t, mode, "linkSocial starts a link for the bearer session", async () => {
    const data = ok(await client.linkSocial({ provider: "mock", callbackURL: DONE }), "linkSocial");
    const url = new URL(data.url);
    assert.equal(url.searchParams.get("client_id"), CLIENT_ID);
    assert.equal(url.searchParams.get("redirect_uri"), `${LINK_BASE}/api/auth/callback/mock`);
    assert.ok(url.searchParams.get("state"));
  });
});
