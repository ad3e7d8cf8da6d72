# Build: docker build -t registry .
# Run:   docker run -p 8000:8000 -e REGISTRY_DATABASE_URL=postgresql+asyncpg://… \
#            -e REGISTRY_JWT_JWKS_FILE=/keys/jwks.json -e REGISTRY_JWT_ISSUER=… -v …:/keys registry
# Worker (deadline events, the feed's numbering, webhook deliveries, bulk exports; one or
# more, same image and environment, REGISTRY_IDENTIFIER_KEYS_FILE included, and the exports'
# volume shared with the API; it serves no HTTP, so no health check):
#        docker run --no-healthcheck -e REGISTRY_DATABASE_URL=postgresql+asyncpg://… \
#            -e REGISTRY_IDENTIFIER_KEYS_FILE=/keys/identifier-keys.json -v …:/keys \
#            -e REGISTRY_EXPORT_DIR=/exports -v …:/exports registry registry worker
#
# Reproducible: every package comes from requirements.lock, pinned and checked against its
# hashes (the build backend too), and the project itself is installed without resolving
# anything. The embedded PostgreSQL (the `embedded` extra) is not in the image: it runs
# against the server REGISTRY_DATABASE_URL names. The context is only what is copied below
# (.dockerignore).
FROM python:3.11-slim AS build
WORKDIR /build
RUN python -m venv /opt/venv
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip check

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/registry registry
COPY --from=build /opt/venv /opt/venv
COPY migrations /opt/registry/migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    REGISTRY_MIGRATIONS_DIR=/opt/registry/migrations \
    REGISTRY_DATA_DIR=/var/lib/registry
USER registry
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready')"
# `serve` migrates the schema and imports the codifier before it listens; its JSON log says
# when it starts, where it listens and when it stops. `registry worker` (above) runs beside it.
CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
