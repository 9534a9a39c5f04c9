import React, { useEffect, useState, type FormEvent } from "react";
import Link from "@docusaurus/Link";
import { useHistory, useLocation } from "@docusaurus/router";
import { authClient, authConfig, authMode, siteUrl } from "@site/src/lib/auth-client";
import { safeNext, useAuth } from "@site/src/lib/session";
import { Field, Notice, Page, describeError, providerName } from "@site/src/components/forms";

const SOCIAL_ERRORS: Record<string, string> = {
  account_not_linked:
    "An account with this address already exists. Log in with your password, then link the provider on your account page.",
  access_denied: "The provider sign-in was cancelled.",
  provider_unavailable: "The provider cannot be reached right now. Try again.",
};

export default function Login() {
  const history = useHistory();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const next = safeNext(params.get("next"));
  const { data } = useAuth();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [signedIn, setSignedIn] = useState(false);
  const [social, setSocial] = useState<{ providers: string[]; cookie: boolean }>({ providers: [], cookie: true });

  useEffect(() => {
    // Known only in the browser: the mode depends on the page's own origin.
    setSocial({ providers: authConfig().socialProviders, cookie: authMode() === "cookie" });
    const code = params.get("error");
    if (code) setError(SOCIAL_ERRORS[code] ?? `Sign-in with the provider failed (${code}).`);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    const { error } = await authClient().signIn.email({
      email: String(form.get("email")),
      password: String(form.get("password")),
    });
    setBusy(false);
    if (error) return setError(describeError(error));
    setSignedIn(true);
  }

  // Back where the visitor was going once the session store holds the new session
  // (navigating earlier would find no session there and come straight back). Only
  // after this form's own sign-in: just after a sign-out the store still holds the
  // old session for a moment.
  useEffect(() => {
    if (signedIn && data) history.replace(next);
  }, [signedIn, data, history, next]);

  async function socialSignIn(provider: string) {
    setError(null);
    const { error } = await authClient().signIn.social({
      provider,
      callbackURL: siteUrl(next),
      newUserCallbackURL: siteUrl("/profile"),
      errorCallbackURL: siteUrl("/login"),
    });
    // On success the client has already sent the browser to the provider.
    if (error) setError(describeError(error));
  }

  return (
    <Page title="Log in">
      {data && (
        <p role="status">
          You are signed in as {data.user.email}. <Link to={next}>Continue</Link>
        </p>
      )}
      <form onSubmit={onSubmit} className="auth-form" aria-label="Log in with e-mail and password">
        <Field label="E-mail" name="email" type="email" autoComplete="email" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <button type="submit" className="button button--primary" disabled={busy}>
          Log in
        </button>
        <Notice error={error} />
      </form>
      {social.providers.length > 0 && (
        <section aria-labelledby="social-heading" className="auth-social">
          <h2 id="social-heading">Or continue with</h2>
          {social.cookie ? (
            social.providers.map((p) => (
              <button key={p} type="button" className="button button--secondary" onClick={() => socialSignIn(p)}>
                Continue with {providerName(p)}
              </button>
            ))
          ) : (
            <p>
              Provider sign-in needs this site and the sign-in service on one site (it ends with a cookie);
              use your e-mail and password here.
            </p>
          )}
        </section>
      )}
      <p>
        <Link to="/forgot-password">Forgot your password?</Link> · <Link to="/register">Create an account</Link>
      </p>
    </Page>
  );
}
