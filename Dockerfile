# One image for every role: `ovoz api`, `ovoz projector`, `ovoz worker`.

# The web client, built once; the API serves it at / (WEB_DIR).
FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY schema.graphql /src/schema.graphql
COPY web/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY domain domain
COPY graphql_api graphql_api
COPY projections projections
COPY infrastructure infrastructure
COPY --from=web /src/web/dist web
RUN pip install . && pip install --no-deps resemblyzer==0.1.4 && useradd --create-home --uid 10001 ovoz && mkdir -p /data && chown ovoz /data

USER ovoz
ENV OVOZ_VAR_DIR=/data HOST=0.0.0.0 PORT=8000 WEB_DIR=/app/web
EXPOSE 8000
CMD ["ovoz", "api"]
