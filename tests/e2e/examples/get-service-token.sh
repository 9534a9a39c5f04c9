#!/usr/bin/env bash
# Gets a service access token (client credentials) from the auth-server.
# docs/service-tokens.md shows it.
#
#   AUTH_URL=https://auth.example.com CLIENT_ID=… CLIENT_SECRET=… ./get-service-token.sh
#
# Prints the token response: {"access_token": "...", "token_type": "Bearer", "expires_in": 300, "scope": "..."}
set -euo pipefail
curl -fsS "$AUTH_URL/oauth2/token" \
  --user "$CLIENT_ID:$CLIENT_SECRET" \
  --data-urlencode grant_type=client_credentials \
  --data-urlencode scope="${SCOPE:-profiles:read}"
