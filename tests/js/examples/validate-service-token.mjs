// Validates an auth-server service token (client credentials, `typ: at+jwt`) with
// `jose`, offline against the auth-server's JWKS. docs/service-tokens.md shows it.
//
//   JWKS_URL=https://auth.example.com/.well-known/jwks.json \
//   ISSUER=https://auth.example.com AUDIENCE=https://auth.example.com \
//   REQUIRED_SCOPE=profiles:read TOKEN=eyJ... node validate-service-token.mjs
//
// Prints the client id and its scopes, or the reason and exits 1.

import { createRemoteJWKSet, jwtVerify } from "jose";

// Built once per process: jose caches the keys and refetches on an unknown kid.
const JWKS = createRemoteJWKSet(new URL(process.env.JWKS_URL));

export async function validate(token, { issuer, audience, requiredScope }) {
  const { payload } = await jwtVerify(token, JWKS, {
    issuer,
    audience,
    algorithms: ["RS256"], // pinned
    typ: "at+jwt", // a learner's token (typ JWT) is refused
    clockTolerance: 60,
  });
  if (payload.client_id !== payload.sub) throw new Error("client_id does not match sub");
  if (!String(payload.scope ?? "").split(" ").includes(requiredScope)) {
    throw new Error(`scope ${requiredScope} not granted`);
  }
  return payload;
}

try {
  const claims = await validate(process.env.TOKEN, {
    issuer: process.env.ISSUER,
    audience: process.env.AUDIENCE,
    requiredScope: process.env.REQUIRED_SCOPE ?? "profiles:read",
  });
  console.log(`client ${claims.client_id} scopes ${claims.scope}`);
} catch (e) {
  console.log(`rejected: ${e.message}`);
  process.exit(1);
}
