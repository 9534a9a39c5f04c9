import React, { useEffect, useState } from "react";
import Link from "@docusaurus/Link";
import { useLocation } from "@docusaurus/router";
import { authClient } from "@site/src/lib/auth-client";
import { useAuth } from "@site/src/lib/session";
import { Notice, Page } from "@site/src/components/forms";

// Where the verification mail's link lands: the auth-server verified the address
// and redirected here (or here with ?error=INVALID_TOKEN | TOKEN_EXPIRED).
export default function VerifyEmail() {
  const location = useLocation();
  const { data, refetch } = useAuth();
  const [state, setState] = useState<"checking" | "verified" | "failed">("checking");

  useEffect(() => {
    const params = new URLSearchParams(location.search);
    if (params.get("error")) return setState("failed");
    const token = params.get("token");
    if (!token) {
      setState("verified");
      refetch(); // emailVerified changed on the server
      return;
    }
    // A link built to carry the token to the page itself.
    void authClient()
      .verifyEmail({ query: { token } })
      .then(({ error }) => setState(error ? "failed" : "verified"));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <Page title="E-mail verification">
      {state === "checking" && <Notice ok="Checking your link…" />}
      {state === "verified" && <Notice ok="Your e-mail address is verified." />}
      {state === "failed" && <Notice error="This link is invalid or has expired. Log in to get a new one." />}
      <p>{data ? <Link to="/profile">Go to your profile</Link> : <Link to="/login">Log in</Link>}</p>
    </Page>
  );
}
