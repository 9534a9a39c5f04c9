import React, { useState, type FormEvent } from "react";
import Link from "@docusaurus/Link";
import { authClient, siteUrl } from "@site/src/lib/auth-client";
import { Field, Notice, Page, describeError } from "@site/src/components/forms";

export default function Register() {
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const email = String(form.get("email"));
    setBusy(true);
    setError(null);
    setFieldErrors({});
    const { error } = await authClient().signUp.email({
      name: String(form.get("name")),
      email,
      password: String(form.get("password")),
      // The verification mail's link lands here once the address is verified.
      callbackURL: siteUrl("/verify-email"),
    });
    setBusy(false);
    if (!error) return setSentTo(email);
    // Errors that belong to one field are shown next to it.
    const byCode: Record<string, string> = {
      PASSWORD_TOO_SHORT: "password",
      PASSWORD_TOO_LONG: "password",
      INVALID_EMAIL: "email",
      USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL: "email",
      USER_ALREADY_EXISTS: "email",
    };
    const field = error.code ? byCode[error.code] : undefined;
    if (field) setFieldErrors({ [field]: describeError(error) ?? "" });
    else setError(describeError(error));
  }

  if (sentTo) {
    return (
      <Page title="Check your inbox">
        <Notice ok={<>You are signed in. We sent a verification link to <strong>{sentTo}</strong>.</>} />
        <p>
          Meanwhile, <Link to="/profile">fill in your profile</Link>.
        </p>
      </Page>
    );
  }

  return (
    <Page title="Create an account">
      <form onSubmit={onSubmit} className="auth-form" aria-label="Create an account">
        <Field label="Name" name="name" autoComplete="name" required maxLength={100} />
        <Field label="E-mail" name="email" type="email" autoComplete="email" required error={fieldErrors.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint="At least 8 characters."
          error={fieldErrors.password}
        />
        <button type="submit" className="button button--primary" disabled={busy}>
          Create account
        </button>
        <Notice error={error} />
      </form>
      <p>
        Already registered? <Link to="/login">Log in</Link>
      </p>
    </Page>
  );
}
