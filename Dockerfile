# syntax=docker/dockerfile:1
# senpai-md-consumer: build with dev dependencies, ship only what runs.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.types.json ./
COPY src ./src
COPY bin ./bin
# no dev dependencies, and no optional ones: pino-pretty is for terminals, a container logs JSON
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8892
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/bin ./bin
# the output contract travels with the image (docs/CONTRACT.md)
COPY --chown=node:node schema ./schema
COPY --chown=node:node LICENSE ./
USER node
EXPOSE 8892
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8892) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/senpai-md"]
CMD ["run"]
