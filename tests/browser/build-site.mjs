// Builds examples/docusaurus for the browser test (`docusaurus build`, production
// mode) unless build/ already holds a build of the same sources for the same
// URLs: a hash of both is kept in build/.source-hash. Reads AUTH_URL, PROFILE_URL,
// SOCIAL_PROVIDERS and SITE_URL like docusaurus.config.ts does.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const site = join(dirname(fileURLToPath(import.meta.url)), "../../examples/docusaurus");
const inputs = ["package-lock.json", "docusaurus.config.ts", "tsconfig.json", "src", "static"];

function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

const hash = createHash("sha256");
for (const name of ["AUTH_URL", "PROFILE_URL", "SOCIAL_PROVIDERS", "SITE_URL", "AUTH_MODE"]) {
  hash.update(`${name}=${process.env[name] ?? ""}\n`);
}
for (const file of inputs.flatMap((i) => files(join(site, i)))) {
  hash.update(`${relative(site, file)}\n`);
  hash.update(readFileSync(file));
}
const digest = hash.digest("hex");
const stamp = join(site, "build/.source-hash");

if (existsSync(stamp) && readFileSync(stamp, "utf8") === digest) {
  console.log(`site build up to date (${digest.slice(0, 12)})`);
} else {
  if (!existsSync(join(site, "node_modules/@docusaurus/core"))) {
    throw new Error(`${site}/node_modules is missing: run \`npm ci --prefix examples/docusaurus\` first`);
  }
  const started = Date.now();
  execFileSync(process.execPath, ["node_modules/@docusaurus/core/bin/docusaurus.mjs", "build"], {
    cwd: site,
    stdio: ["ignore", "inherit", "inherit"],
  });
  writeFileSync(stamp, digest);
  console.log(`site built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
