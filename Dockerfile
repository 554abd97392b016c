# The durable-sessions image: one image, three roles chosen by the command (`worker`, `api`, `migrate`).
# Built and run by docker-compose.yml; configuration comes from environment variables (docs/production.md).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DURABLE_SESSIONS_DATA_DIR=/tmp/durable-sessions/data \
    DURABLE_SESSIONS_CACHE_DIR=/tmp/durable-sessions/cache
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
# The worker bundles workflows/ from dist at start; nothing is written outside /tmp.
USER node
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["--help"]
