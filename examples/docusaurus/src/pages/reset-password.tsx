import React, { useEffect, useState, type FormEvent } from "react";
import Link from "@docusaurus/Link";
import { useLocation } from "@docusaurus/router";
import { authClient } from "@site/src/lib/auth-client";
import { Field, Notice, Page, describeError } from "@site/src/components/forms";

export default function ResetPassword() {
  const location = useLocation();
  // Read after hydration: the static HTML was rendered without a query string, and
  // React keeps the server's attributes (a disabled button) when hydrating.
  const [token, setToken] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const params = new URLSearchParams(location.search);
    const token = params.get("token");
    setToken(token);
    if (params.get("error")) setError("This link is invalid or has expired. Ask for a new one.");
    else if (!token) setError("Open this page from the link in the reset mail.");
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!token) return;
    setBusy(true);
    setError(null);
    const { error } = await authClient().resetPassword({
      newPassword: String(new FormData(e.currentTarget).get("password")),
      token,
    });
    setBusy(false);
    if (error) setError(describeError(error));
    else setDone(true);
  }

  return (
    <Page title="Choose a new password">
      {done ? (
        <Notice ok={<>Password changed. Every session was signed out: <Link to="/login">log in</Link> with the new one.</>} />
      ) : (
        <form onSubmit={onSubmit} className="auth-form" aria-label="Choose a new password">
          <Field
            label="New password"
            name="password"
            type="password"
            autoComplete="new-password"
            minLength={8}
            required
            hint="At least 8 characters."
          />
          <button type="submit" className="button button--primary" disabled={busy || !token}>
            Set password
          </button>
          <Notice error={error} />
          {error && (
            <p>
              <Link to="/forgot-password">Request a new link</Link>
            </p>
          )}
        </form>
      )}
    </Page>
  );
}
