# syntax=docker/dockerfile:1
# Cartable server image. One image for every role: CARTABLE_ROLES=api,gateway,worker (default),
# or separate containers per role (see docker-compose.yml and docs/operations.md).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript to dist/ -------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency install script is needed to compile (tsc); the package.json approvals are for
# development tools only.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && mkdir -p profiles

# ---- runtime: production dependencies and compiled code only -------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    CARTABLE_SECRETS_DIR=/var/lib/cartable/secrets \
    APP_STORAGE_DIR=/var/lib/cartable/apps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The console's templates and static files are read from the source tree at run time.
COPY server/console/views ./server/console/views
COPY server/console/assets ./server/console/assets
COPY --from=build /app/profiles ./profiles
COPY migrations ./migrations
COPY bin ./bin
COPY agent-protocol/schema ./agent-protocol/schema

# The secrets directory holds the key that encrypts the CA private key: keep it on a volume
# and back it up (docs/operations.md).
RUN mkdir -p /var/lib/cartable/secrets && chown -R node:node /var/lib/cartable && chmod 700 /var/lib/cartable/secrets
VOLUME ["/var/lib/cartable"]

USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server/main.js"]
