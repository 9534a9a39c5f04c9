// Swizzled (wrapped) Root: provides the session to every page and the navbar.
import React, { useEffect, useState, type ReactNode } from "react";
import BrowserOnly from "@docusaurus/BrowserOnly";
import { authClient } from "@site/src/lib/auth-client";
import { PENDING, SessionContext, type SessionState } from "@site/src/lib/session";

// Subscribes to the client's session store. Rendered only in the browser: during
// `docusaurus build` there is no visitor, and the store would otherwise fetch
// get-session from Node.
function SessionSync({ onChange }: { onChange: (s: SessionState) => void }) {
  const { data, isPending, refetch } = authClient().useSession();
  useEffect(() => {
    onChange({ data, isPending, refetch: () => void refetch() });
  }, [data, isPending, refetch, onChange]);
  return null;
}

export default function Root({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<SessionState>(PENDING);
  // Marks the page interactive: until React has hydrated, typing into a form is
  // lost and a click submits natively (tests/browser waits for this).
  useEffect(() => {
    document.documentElement.dataset.hydrated = "1";
  }, []);
  return (
    <SessionContext.Provider value={session}>
      <BrowserOnly>{() => <SessionSync onChange={setSession} />}</BrowserOnly>
      {children}
    </SessionContext.Provider>
  );
}
