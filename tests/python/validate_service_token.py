"""Validates an auth-server service token (client credentials, `typ: at+jwt`) with
PyJWT, offline against the auth-server's JWKS. docs/service-tokens.md shows it.

    JWKS_URL=https://auth.example.com/.well-known/jwks.json \
    ISSUER=https://auth.example.com AUDIENCE=https://auth.example.com \
    REQUIRED_SCOPE=profiles:read TOKEN=eyJ... python3 validate_service_token.py

Prints the client id and its scopes, or the reason and exits 1.
"""

import os
import sys

import jwt

JWKS = jwt.PyJWKClient(os.environ["JWKS_URL"], cache_keys=True, lifespan=600)


def validate(token: str, issuer: str, audience: str, required_scope: str) -> dict:
    header = jwt.get_unverified_header(token)
    # A learner's token (typ JWT) must never pass where a service is expected.
    if header.get("typ", "").lower().removeprefix("application/") != "at+jwt":
        raise jwt.InvalidTokenError("not a service token (typ is not at+jwt)")
    key = JWKS.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],  # pinned: never trust the token's own alg
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        leeway=60,
    )
    if claims.get("client_id") != claims["sub"]:
        raise jwt.InvalidTokenError("client_id does not match sub")
    if required_scope not in claims.get("scope", "").split():
        raise jwt.InvalidTokenError(f"scope {required_scope} not granted")
    return claims


if __name__ == "__main__":
    try:
        c = validate(
            os.environ["TOKEN"],
            os.environ["ISSUER"],
            os.environ["AUDIENCE"],
            os.environ.get("REQUIRED_SCOPE", "profiles:read"),
        )
    except jwt.PyJWTError as e:
        print(f"rejected: {e}")
        sys.exit(1)
    print(f"client {c['client_id']} scopes {c['scope']}")
