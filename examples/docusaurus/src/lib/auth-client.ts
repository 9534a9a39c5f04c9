// The better-auth client of the site, created once per page load in the browser.
//
// Everything it needs comes from `siteConfig.customFields` (docusaurus.config.ts
// fills them from AUTH_URL, PROFILE_URL, SOCIAL_PROVIDERS and AUTH_MODE at build
// time), read here where the client is created: browser code has no `process.env`.
import siteConfig from "@generated/docusaurus.config";
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

export type AuthMode = "cookie" | "bearer";

export interface SiteAuthConfig {
  /** The auth-server's public origin (`AUTH_BASE_URL`), e.g. http://localhost:8080. */
  authUrl: string;
  /** The profile-api's origin, e.g. http://localhost:8081. */
  profileUrl: string;
  /** Provider ids configured on the auth-server: one button each. */
  socialProviders: string[];
  /** "auto", "cookie" or "bearer". */
  authMode: string;
}

export function authConfig(): SiteAuthConfig {
  return siteConfig.customFields as unknown as SiteAuthConfig;
}

/**
 * The "site" of a URL as browsers use it for SameSite cookies: the scheme plus the
 * registrable domain. For localhost, dot-less names and IP addresses that is the
 * host itself. Otherwise the last two labels: right for example.com-style names;
 * under a multi-label public suffix (example.co.uk) pin AUTH_MODE instead of
 * shipping the public-suffix list to every visitor.
 */
export function siteOf(url: URL): string {
  const host = url.hostname;
  const isIp = /^\d+(\.\d+){3}$/.test(host) || host.startsWith("[");
  if (isIp || !host.includes(".")) return `${url.protocol}//${host}`;
  return `${url.protocol}//${host.split(".").slice(-2).join(".")}`;
}

/**
 * Cookies when the page and the auth-server are one site (the HttpOnly session
 * cookie is first-party and SameSite=Lax lets it travel); bearer otherwise, where
 * the browser would treat that cookie as third-party and drop it.
 */
export function chooseMode(pageUrl: string, authUrl: string, forced: string): AuthMode {
  if (forced === "cookie" || forced === "bearer") return forced;
  return siteOf(new URL(pageUrl)) === siteOf(new URL(authUrl)) ? "cookie" : "bearer";
}

/** Where bearer mode keeps the session credential (`set-auth-token`). */
const TOKEN_KEY = "auth.session_token";

let sessionToken = "";
/** The last JWT for backends and when it expires (ms since the epoch). */
let cachedJwt: { token: string; expiresAt: number } | null = null;

function rememberJwt(token: string | null) {
  if (!token) return;
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    cachedJwt = { token, expiresAt: payload.exp * 1000 };
  } catch {
    cachedJwt = null;
  }
}

function makeClient() {
  const { authUrl, authMode } = authConfig();
  const mode = chooseMode(window.location.href, authUrl, authMode);
  if (mode === "bearer") sessionToken = localStorage.getItem(TOKEN_KEY) ?? "";
  const client = createAuthClient({
    baseURL: authUrl,
    plugins: [jwtClient()],
    fetchOptions: {
      // Cookie mode sends the HttpOnly session cookie cross-origin (same site);
      // bearer mode sends no cookies at all: the credential is in `authorization`.
      credentials: mode === "cookie" ? "include" : "omit",
      ...(mode === "bearer" ? { auth: { type: "Bearer" as const, token: () => sessionToken } } : {}),
      onSuccess: (ctx) => {
        // Every get-session answer carries a fresh JWT for the profile-api.
        rememberJwt(ctx.response.headers.get("set-auth-jwt"));
        if (mode !== "bearer") return;
        const token = ctx.response.headers.get("set-auth-token");
        if (token) {
          sessionToken = token;
          localStorage.setItem(TOKEN_KEY, token);
        }
        // A revoked or expired credential: get-session answers null. Forget it so
        // the next page load does not keep presenting it.
        if (ctx.request.url.toString().endsWith("/get-session") && ctx.data == null) forgetSession();
      },
    },
  });
  if (mode === "bearer") {
    // Another tab signed in or out: follow it (cookie mode gets this from the
    // client's own cross-tab broadcast).
    window.addEventListener("storage", (e) => {
      if (e.key !== TOKEN_KEY) return;
      sessionToken = e.newValue ?? "";
      cachedJwt = null;
      client.$store.notify("$sessionSignal");
    });
  }
  return { client, mode };
}

export type AuthClient = ReturnType<typeof makeClient>["client"];

let instance: ReturnType<typeof makeClient> | null = null;

function get() {
  if (typeof window === "undefined") {
    // Static rendering (docusaurus build) has no visitor and no session.
    throw new Error("the auth client exists only in the browser");
  }
  instance ??= makeClient();
  return instance;
}

/** The better-auth client (browser only: call it from effects and handlers). */
export const authClient = (): AuthClient => get().client;

/** How this page load talks to the auth-server. */
export const authMode = (): AuthMode => get().mode;

/** Drops the credentials this page holds (after sign-out or account deletion). */
export function forgetSession() {
  cachedJwt = null;
  if (instance?.mode === "bearer") {
    sessionToken = "";
    localStorage.removeItem(TOKEN_KEY);
  }
}

/**
 * A JWT for the profile-api: the one from the last `set-auth-jwt` while it has
 * more than a minute left, else a new one from `GET /api/auth/token` (the server
 * hands back the same token while it is fresh).
 */
export async function getApiToken(): Promise<string | null> {
  if (cachedJwt && cachedJwt.expiresAt - Date.now() > 60_000) return cachedJwt.token;
  const { data } = await authClient().token();
  rememberJwt(data?.token ?? null);
  return data?.token ?? null;
}

/** Forgets the cached JWT (the profile-api refused it). */
export function dropApiToken() {
  cachedJwt = null;
}

/** An absolute URL on this site, for the links the auth-server mails or redirects to. */
export const siteUrl = (path: string) => new URL(path, window.location.origin).toString();
