import React, { useEffect, useState } from "react";
import Link from "@docusaurus/Link";
import { useLocation } from "@docusaurus/router";
import { useAuth } from "@site/src/lib/session";
import { Notice, Page } from "@site/src/components/forms";

export default function Home() {
  const { data } = useAuth();
  const search = useLocation().search;
  // After hydration: the static HTML knows no query string.
  const [deleted, setDeleted] = useState(false);
  useEffect(() => setDeleted(new URLSearchParams(search).has("deleted")), [search]);
  return (
    <Page title="Learning platform">
      {deleted && <Notice ok="Your account was deleted." />}
      <p>An example Docusaurus site signing learners in against the auth-server and keeping their profile on the profile-api.</p>
      {data ? (
        <p>
          Welcome back, {data.user.name}. <Link to="/profile">Your profile</Link> · <Link to="/account">Your account</Link>
        </p>
      ) : (
        <p>
          <Link className="button button--primary" to="/register">
            Create an account
          </Link>{" "}
          <Link className="button button--secondary" to="/login">
            Log in
          </Link>
        </p>
      )}
    </Page>
  );
}
