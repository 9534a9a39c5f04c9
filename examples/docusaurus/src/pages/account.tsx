import React, { useCallback, useEffect, useState, type FormEvent } from "react";
import { useHistory, useLocation } from "@docusaurus/router";
import { authClient, authConfig, authMode, forgetSession, siteUrl } from "@site/src/lib/auth-client";
import { Loading, setLeaving, useRequireAuth } from "@site/src/lib/session";
import { Field, Notice, Page, describeError, providerName } from "@site/src/components/forms";

type Row = { id: string; token: string; userAgent?: string | null; ipAddress?: string | null; createdAt: Date | string };
type AccountRow = { id: string; providerId: string; accountId: string };

function Sessions({ currentId }: { currentId: string }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [msg, setMsg] = useState<{ error?: string | null; ok?: string }>({});
  const load = useCallback(async () => {
    const { data, error } = await authClient().listSessions();
    if (error) setMsg({ error: describeError(error) });
    else setRows(data as Row[]);
  }, []);
  useEffect(() => void load(), [load]);

  async function revoke(row: Row) {
    // `token` from list-sessions is a revocation handle, not a credential.
    const { error } = await authClient().revokeSession({ token: row.token });
    // The list first, then the message: when it is announced, the list is current.
    await load();
    setMsg(error ? { error: describeError(error) } : { ok: "Session signed out." });
  }

  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you are signed in</h2>
      {!rows ? (
        <Loading />
      ) : (
        <ul className="auth-list">
          {rows.map((s) => (
            <li key={s.id} data-session-id={s.id}>
              <span>
                {s.userAgent || "Unknown device"} · since {new Date(s.createdAt).toLocaleString()}
                {s.id === currentId && <strong> (this browser)</strong>}
              </span>
              {s.id !== currentId && (
                <button type="button" className="button button--sm button--danger" onClick={() => void revoke(s)}>
                  Sign out this session
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <Notice error={msg.error} ok={msg.ok} />
    </section>
  );
}

function LinkedAccounts() {
  const location = useLocation();
  const [rows, setRows] = useState<AccountRow[] | null>(null);
  const [msg, setMsg] = useState<{ error?: string | null; ok?: string }>({});
  const [providers, setProviders] = useState<string[]>([]);
  const [cookieMode, setCookieMode] = useState(true);
  const load = useCallback(async () => {
    const { data, error } = await authClient().listAccounts();
    if (error) setMsg({ error: describeError(error) });
    else setRows(data as unknown as AccountRow[]);
  }, []);
  useEffect(() => {
    setProviders(authConfig().socialProviders);
    setCookieMode(authMode() === "cookie");
    const code = new URLSearchParams(location.search).get("error");
    if (code) setMsg({ error: `Linking the provider failed (${code}).` });
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [load]);

  async function link(provider: string) {
    const { error } = await authClient().linkSocial({
      provider,
      callbackURL: siteUrl("/account"),
      errorCallbackURL: siteUrl("/account"),
    });
    if (error) setMsg({ error: describeError(error) });
  }
  async function unlink(row: AccountRow) {
    // The row id from list-accounts; the server never removes the last way in.
    const { error } = await authClient().unlinkAccount({ accountId: row.id } as never);
    await load();
    setMsg(error ? { error: describeError(error) } : { ok: `${providerName(row.providerId)} unlinked.` });
  }

  const linked = new Set(rows?.map((r) => r.providerId));
  return (
    <section aria-labelledby="accounts-heading">
      <h2 id="accounts-heading">Ways to sign in</h2>
      {!rows ? (
        <Loading />
      ) : (
        <ul className="auth-list">
          {rows.map((a) => (
            <li key={a.id}>
              <span>{a.providerId === "credential" ? "E-mail and password" : providerName(a.providerId)}</span>
              {rows.length > 1 && a.providerId !== "credential" && (
                <button type="button" className="button button--sm button--secondary" onClick={() => void unlink(a)}>
                  Unlink {providerName(a.providerId)}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {cookieMode &&
        providers
          .filter((p) => !linked.has(p))
          .map((p) => (
            <button key={p} type="button" className="button button--secondary" onClick={() => void link(p)}>
              Link {providerName(p)}
            </button>
          ))}
      <Notice error={msg.error} ok={msg.ok} />
    </section>
  );
}

function ChangePassword() {
  const [msg, setMsg] = useState<{ error?: string | null; ok?: string }>({});
  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const { error } = await authClient().changePassword({
      currentPassword: String(data.get("currentPassword")),
      newPassword: String(data.get("newPassword")),
      revokeOtherSessions: true,
    });
    setMsg(error ? { error: describeError(error) } : { ok: "Password changed; your other sessions were signed out." });
    if (!error) form.reset();
  }
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">Change password</h2>
      <form onSubmit={onSubmit} className="auth-form" aria-label="Change password">
        <Field label="Current password" name="currentPassword" type="password" autoComplete="current-password" required />
        <Field label="New password" name="newPassword" type="password" autoComplete="new-password" minLength={8} required />
        <button type="submit" className="button button--primary">
          Change password
        </button>
        <Notice error={msg.error} ok={msg.ok} />
      </form>
    </section>
  );
}

function DeleteAccount() {
  const history = useHistory();
  const [error, setError] = useState<string | null>(null);
  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const password = String(new FormData(e.currentTarget).get("password") ?? "");
    // A password is needed only once the session is older than a day.
    // The session ends with the account: this page must not bounce to log in.
    setLeaving(true);
    const { error } = await authClient().deleteUser(password ? { password } : {});
    if (error) {
      setLeaving(false);
      return setError(describeError(error));
    }
    forgetSession();
    // `leaving` stays set until the next protected page mounts: the session
    // signal may land before this page unmounts, and must not bounce it to log in.
    history.replace("/?deleted=1");
  }
  return (
    <section aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete account</h2>
      <form onSubmit={onSubmit} className="auth-form" aria-label="Delete account">
        <p>Your account, your sessions and your profile are deleted at once. This cannot be undone.</p>
        <Field label="Password (needed if you signed in more than a day ago)" name="password" type="password" autoComplete="current-password" />
        <Field label="I understand this deletes my account" name="confirm" type="checkbox" required />
        <button type="submit" className="button button--danger">
          Delete my account
        </button>
        <Notice error={error} />
      </form>
    </section>
  );
}

export default function Account() {
  const session = useRequireAuth();
  return (
    <Page title="Your account">
      {!session ? (
        <Loading />
      ) : (
        <>
          <p>
            {session.user.name} · {session.user.email}{" "}
            {session.user.emailVerified ? "(verified)" : "(not verified yet: check your inbox)"}
          </p>
          <Sessions currentId={session.session.id} />
          <LinkedAccounts />
          <ChangePassword />
          <DeleteAccount />
        </>
      )}
    </Page>
  );
}
