// Small accessible form pieces: every input has a label, errors are tied to their
// field (aria-describedby, aria-invalid) and announced (role="alert").
import React, { useId, type InputHTMLAttributes, type ReactNode } from "react";
import Layout from "@theme/Layout";

type FieldProps = {
  label: string;
  name: string;
  error?: string | null;
  hint?: ReactNode;
  multiline?: boolean;
  children?: ReactNode; // a <select>'s options
} & InputHTMLAttributes<HTMLInputElement>;

export function Field({ label, name, error, hint, multiline, children, ...input }: FieldProps) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
  };
  return (
    <div className="auth-field">
      <label htmlFor={id}>{label}</label>
      {children ? (
        <select {...common} defaultValue={input.defaultValue as string | undefined}>
          {children}
        </select>
      ) : multiline ? (
        <textarea {...common} rows={3} defaultValue={input.defaultValue as string | undefined} />
      ) : (
        <input {...common} {...input} />
      )}
      {hint && (
        <small id={hintId} className="auth-hint">
          {hint}
        </small>
      )}
      {error && (
        <p id={errorId} className="auth-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A message for the whole form: errors interrupt (alert), successes wait (status). */
export function Notice({ error, ok }: { error?: string | null; ok?: ReactNode }) {
  return (
    <div aria-live="polite">
      {error && (
        <p className="auth-error" role="alert">
          {error}
        </p>
      )}
      {ok && (
        <p className="auth-ok" role="status">
          {ok}
        </p>
      )}
    </div>
  );
}

/** A better-auth error as a sentence a learner can act on. */
export function describeError(error: { status?: number; code?: string; message?: string } | null): string | null {
  if (!error) return null;
  if (error.status === 429) return "Too many attempts. Wait a moment and try again.";
  if (error.code === "EMAIL_NOT_VERIFIED") return "Check your inbox: we sent you a new verification link.";
  if (error.status === 0 || error.status === undefined) return "The sign-in service cannot be reached. Try again.";
  return error.message || error.code || `Something went wrong (${error.status}).`;
}

export function Page({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Layout title={title}>
      <main className="container margin-vert--lg auth-page">
        <h1>{title}</h1>
        {children}
      </main>
    </Layout>
  );
}

export function providerName(id: string): string {
  const known: Record<string, string> = { google: "Google", github: "GitHub" };
  return known[id] ?? id.charAt(0).toUpperCase() + id.slice(1);
}
