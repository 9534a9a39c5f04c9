# syntax=docker/dockerfile:1
# Multi-stage build of both services. Targets: auth-server, profile-api.
#   docker build --target auth-server -t auth-server .

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p auth-server -p profile-api \
 && mkdir -p /out \
 && cp target/release/auth-server target/release/profile-api /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/auth-server/mail && chown -R 10001:10001 /var/lib/auth-server
USER 10001:10001
ENV RUST_LOG=info

FROM runtime AS auth-server
COPY --from=build /out/auth-server /usr/local/bin/auth-server
ENV AUTH_HOST=0.0.0.0 AUTH_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=10 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["auth-server"]
CMD ["serve"]

FROM runtime AS profile-api
COPY --from=build /out/profile-api /usr/local/bin/profile-api
ENV PROFILE_HOST=0.0.0.0 PROFILE_PORT=8081
EXPOSE 8081
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=10 \
  CMD curl -fsS http://127.0.0.1:8081/healthz || exit 1
ENTRYPOINT ["profile-api"]
