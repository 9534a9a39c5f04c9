import React, { useState, type FormEvent } from "react";
import { authClient, siteUrl } from "@site/src/lib/auth-client";
import { Field, Notice, Page, describeError } from "@site/src/components/forms";

export default function ForgotPassword() {
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const { error } = await authClient().requestPasswordReset({
      email: String(new FormData(e.currentTarget).get("email")),
      // The mailed link goes through the auth-server, which sends the browser
      // here with ?token=… (or ?error=INVALID_TOKEN).
      redirectTo: siteUrl("/reset-password"),
    });
    setBusy(false);
    if (error) setError(describeError(error));
    else setSent(true);
  }

  return (
    <Page title="Forgot your password?">
      <form onSubmit={onSubmit} className="auth-form" aria-label="Request a password reset link">
        <Field label="E-mail" name="email" type="email" autoComplete="email" required />
        <button type="submit" className="button button--primary" disabled={busy}>
          Send me a reset link
        </button>
        {/* The same answer for every address: it tells no one who is registered. */}
        <Notice error={error} ok={sent && "If an account uses this address, a reset link is on its way."} />
      </form>
    </Page>
  );
}
