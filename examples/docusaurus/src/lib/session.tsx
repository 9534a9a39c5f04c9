// The session every page sees, provided by the swizzled Root (src/theme/Root.tsx).
import React, { createContext, useContext, useEffect } from "react";
import { useHistory, useLocation } from "@docusaurus/router";
import { authClient } from "./auth-client";

type SessionData = ReturnType<ReturnType<typeof authClient>["useSession"]>["data"];

export interface SessionState {
  /** `{ user, session }` when signed in, else null. */
  data: SessionData | null;
  /** True until the first get-session answered (and always during static rendering). */
  isPending: boolean;
  /** Re-reads the session from the auth-server. */
  refetch: () => void;
}

export const PENDING: SessionState = { data: null, isPending: true, refetch: () => {} };

export const SessionContext = createContext<SessionState>(PENDING);

export const useAuth = () => useContext(SessionContext);

/** Set while a page leaves on purpose (account deleted): no "log in" detour. */
let leaving = false;
export function setLeaving(value: boolean) {
  leaving = value;
}

/**
 * For protected pages: the signed-in session, or null while it is being read. A
 * visitor without a session is sent to the log-in page, which sends them back
 * here (`?next=`) afterwards.
 */
export function useRequireAuth(): NonNullable<SessionData> | null {
  const { data, isPending } = useAuth();
  const history = useHistory();
  const location = useLocation();
  // A protected page that mounts is not the one being left (declared first, so it
  // runs before the check below).
  useEffect(() => {
    leaving = false;
  }, []);
  useEffect(() => {
    if (!isPending && !data && !leaving) {
      const next = location.pathname + location.search;
      history.replace(`/login?next=${encodeURIComponent(next)}`);
    }
  }, [isPending, data, history, location]);
  return data ?? null;
}

/** Only same-site paths are followed after log-in (never `//evil.example`). */
export function safeNext(next: string | null, fallback = "/profile"): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : fallback;
}

export function Loading() {
  return (
    <p role="status" aria-live="polite">
      Loading…
    </p>
  );
}
