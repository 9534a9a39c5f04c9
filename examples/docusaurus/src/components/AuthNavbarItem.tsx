// The navbar's "who is signed in" item (registered as `custom-authUser` in
// src/theme/NavbarItem/ComponentTypes.tsx).
import React from "react";
import Link from "@docusaurus/Link";
import { useHistory } from "@docusaurus/router";
import { authClient, forgetSession } from "@site/src/lib/auth-client";
import { useAuth } from "@site/src/lib/session";

export default function AuthNavbarItem({ mobile }: { mobile?: boolean }) {
  const { data, isPending } = useAuth();
  const history = useHistory();
  const cls = mobile ? "menu__link" : "navbar__item navbar__link";
  if (isPending) return <span className={cls} aria-hidden="true" />;
  if (!data) {
    return (
      <Link className={cls} to="/login">
        Log in
      </Link>
    );
  }
  async function signOut() {
    await authClient().signOut();
    forgetSession();
    history.push("/login");
  }
  return (
    <span className={mobile ? "menu__list-item auth-nav" : "navbar__item auth-nav"}>
      <Link to="/account" className="auth-nav-user" aria-label={`Signed in as ${data.user.email}`}>
        {data.user.name || data.user.email}
      </Link>
      <button type="button" className="button button--sm button--outline button--secondary" onClick={() => void signOut()}>
        Sign out
      </button>
    </span>
  );
}
