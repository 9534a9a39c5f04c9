import type { Config } from "@docusaurus/types";
import type * as Preset from "@docusaurus/preset-classic";

// Read here, at build time (Node), and handed to the browser through customFields:
// browser code has no `process.env` (Docusaurus does not define it there).
const authUrl = (process.env.AUTH_URL || "http://localhost:8080").replace(/\/+$/, "");
const profileUrl = (process.env.PROFILE_URL || "http://localhost:8081").replace(/\/+$/, "");
// Provider ids the auth-server is configured with ("google,github,keycloak"); one
// button each on the log-in and account pages.
const socialProviders = (process.env.SOCIAL_PROVIDERS || "")
  .split(",")
  .map((p) => p.trim())
  .filter(Boolean);
// "auto" (decide per page load: cookies when the page and the auth-server are one
// site, else bearer), "cookie" or "bearer".
const authMode = process.env.AUTH_MODE || "auto";

const config: Config = {
  title: "Learning platform",
  tagline: "Sign in against the auth-server, edit your profile on the profile-api",
  url: process.env.SITE_URL || "http://localhost:3000",
  baseUrl: "/",
  favicon: "img/favicon.svg",
  onBrokenLinks: "throw",
  trailingSlash: false,
  i18n: { defaultLocale: "en", locales: ["en"] },
  customFields: { authUrl, profileUrl, socialProviders, authMode },
  presets: [
    [
      "classic",
      {
        docs: false,
        blog: false,
        theme: { customCss: "./src/css/custom.css" },
      } satisfies Preset.Options,
    ],
  ],
  themeConfig: {
    colorMode: { respectPrefersColorScheme: true },
    navbar: {
      title: "Learning platform",
      items: [
        { to: "/profile", label: "Profile", position: "left" },
        { to: "/account", label: "Account", position: "left" },
        // src/theme/NavbarItem/ComponentTypes.tsx: who is signed in, or "Log in".
        { type: "custom-authUser", position: "right" },
      ],
    },
  } satisfies Preset.ThemeConfig,
};

export default config;
